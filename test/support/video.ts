/** Real ffmpeg/ffprobe helpers for recording tests: probe MP4s in memory, decode frames, find which footage frame a picture is. */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Runs a binary with `input` on stdin; resolves with stdout. */
export function pipeThrough(binary: string, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdin.on("error", () => undefined);
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${binary} exited ${code}: ${err.slice(-500)}`))));
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

export interface VideoInfo {
  codec: string;
  width: number;
  height: number;
  /** From the first packet's start to the last packet's end. */
  duration: number;
  /** What the container says (0 for a fragmented MP4 read from a pipe, which only knows its first fragments). */
  containerDuration: number;
  frames: number;
  /** The `moov` index comes before the media data (faststart, or a fragmented MP4's empty moov). */
  indexFirst: boolean;
}

/** ffprobe of an MP4 held in memory. */
export async function probeVideo(mp4: Buffer): Promise<VideoInfo> {
  const out = await pipeThrough("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height:format=duration:packet=pts_time,duration_time", "-of", "json", "-i", "pipe:0"], mp4);
  const json = JSON.parse(out.toString()) as { streams: { codec_name: string; width: number; height: number }[]; format: { duration?: string }; packets: { pts_time: string; duration_time?: string }[] };
  const s = json.streams[0]!;
  const starts = json.packets.map((p) => Number(p.pts_time));
  const ends = json.packets.map((p) => Number(p.pts_time) + (Number(p.duration_time) || 0));
  const moov = mp4.indexOf("moov");
  const mdat = mp4.indexOf("mdat");
  return {
    codec: s.codec_name,
    width: s.width,
    height: s.height,
    duration: Math.max(...ends) - Math.min(...starts),
    containerDuration: Number(json.format.duration ?? 0),
    frames: json.packets.length,
    indexFirst: moov >= 0 && (mdat < 0 || moov < mdat),
  };
}

/** Every frame of a video (file path or bytes) as 8-bit grey at `width`x`height`. */
export async function decodeGray(source: string | Buffer, width: number, height: number, maxFrames?: number): Promise<Buffer[]> {
  const input = typeof source === "string" ? ["-i", source] : ["-i", "pipe:0"];
  const limit = maxFrames ? ["-frames:v", String(maxFrames)] : [];
  const raw = await pipeThrough("ffmpeg", ["-v", "error", ...input, ...limit, "-vf", `scale=${width}:${height}`, "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"], typeof source === "string" ? undefined : source);
  const size = width * height;
  const frames: Buffer[] = [];
  for (let off = 0; off + size <= raw.length; off += size) frames.push(raw.subarray(off, off + size));
  return frames;
}

/** Index of the reference frame most like `frame` (least mean squared difference). */
export function matchFrame(frame: Buffer, references: readonly Buffer[]): number {
  let best = -1;
  let bestScore = Infinity;
  references.forEach((ref, i) => {
    let sum = 0;
    for (let p = 0; p < frame.length; p++) sum += (frame[p]! - ref[p]!) ** 2;
    if (sum < bestScore) {
      bestScore = sum;
      best = i;
    }
  });
  return best;
}

/** The video as the recorder's ffmpeg hands it over: H.264 copied into MPEG-TS, SPS/PPS at each keyframe. */
export async function transportStream(file: string): Promise<Buffer> {
  return pipeThrough("ffmpeg", ["-v", "error", "-i", file, "-map", "0:v:0", "-c", "copy", "-bsf:v", "dump_extra=freq=keyframe", "-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", "pipe:1"]);
}

/** One frame of a footage file as a JPEG (a real snapshot to store). */
export async function jpegFrame(file: string, seconds: number, width = 640): Promise<Buffer> {
  return pipeThrough("ffmpeg", ["-v", "error", "-ss", String(seconds), "-i", file, "-frames:v", "1", "-vf", `scale=${width}:-2`, "-f", "image2pipe", "-vcodec", "mjpeg", "pipe:1"]);
}

/** A short real H.264 MP4 cut from footage (a clip to store). */
export async function mp4Cut(file: string, from: number, seconds: number): Promise<Buffer> {
  return pipeThrough("ffmpeg", ["-v", "error", "-ss", String(from), "-i", file, "-t", String(seconds), "-an", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1"]);
}

/** ffmpeg children of this process whose command line contains `marker` (to find leftovers). */
export async function childProcesses(marker: string): Promise<number[]> {
  const { stdout } = await run("ps", ["-o", "pid=,ppid=,stat=,args=", "--ppid", String(process.pid)]).catch(() => ({ stdout: "" }));
  return stdout
    .split("\n")
    .filter((line) => line.includes(marker))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}
