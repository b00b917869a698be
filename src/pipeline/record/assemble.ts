/**
 * Turns ring-buffer segments into an MP4 a phone plays inline: joined without
 * re-encoding (`-c copy`), index first (faststart), H.264. Only when the result
 * is over the upload limit for bots, or the camera sends something other than
 * H.264, is it transcoded (libx264 at a bitrate that fits).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { VideoClip } from "../../domain/recorder.js";
import { runFfmpeg, FfmpegRunError } from "./run-ffmpeg.js";
import type { Selection } from "./segment-ring.js";

/** Telegram's limit for files a bot uploads. */
export const BOT_UPLOAD_LIMIT = 50 * 1000 * 1000;

export interface AssembleOptions {
  ffmpegPath: string;
  ffprobePath: string;
  /** A RAM folder for the faststart pass; undefined: fragmented MP4 on a pipe (see scratch.ts). */
  scratchDir: string | undefined;
  /** Transcode down when larger. Default {@link BOT_UPLOAD_LIMIT}. */
  uploadLimitBytes?: number;
  signal?: AbortSignal;
}

interface Probe {
  codec: string;
  width: number;
  height: number;
  durationSeconds: number;
}

const QUIET = ["-hide_banner", "-loglevel", "error", "-nostats"];
const FRAGMENTED = ["-movflags", "frag_keyframe+empty_moov+default_base_moof"];

export async function assembleClip(selection: Selection, options: AssembleOptions): Promise<VideoClip> {
  const limit = options.uploadLimitBytes ?? BOT_UPLOAD_LIMIT;
  const seconds = (selection.durationMs / 1000).toFixed(3);
  const joinArgs = [...QUIET, "-f", "mpegts", "-i", "pipe:0", "-map", "0:v:0", "-c", "copy", "-t", seconds];
  let mp4 = await toMp4(joinArgs, selection.data, options, "joining the clip");
  let probe = await probeMp4(mp4, options);
  let transcoded = false;
  if (probe.codec !== "h264" || mp4.length > limit) {
    // Aim at 90 % of the limit: the container and rate control need headroom.
    let bitrate = Math.max(100_000, Math.floor((limit * 0.9 * 8) / Math.max(1, probe.durationSeconds)));
    for (let attempt = 0; attempt < 3; attempt++) {
      const args = [...QUIET, "-f", "mp4", "-i", "pipe:0", "-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-maxrate", String(bitrate), "-bufsize", String(bitrate * 2), "-vf", "scale='min(1280,iw)':-2", "-pix_fmt", "yuv420p"];
      const smaller = await toMp4(args, [mp4], options, "making the clip smaller");
      if (smaller.length <= limit || attempt === 2) {
        mp4 = smaller;
        break;
      }
      bitrate = Math.floor(bitrate * 0.6);
    }
    probe = await probeMp4(mp4, options);
    transcoded = true;
    if (mp4.length > limit) throw new FfmpegRunError(`The clip is ${(mp4.length / 1e6).toFixed(1)} MB even after compressing it, over the ${(limit / 1e6).toFixed(0)} MB limit for bots.`, "", 0);
  }
  return { mp4, durationSeconds: probe.durationSeconds, width: probe.width, height: probe.height, bytes: mp4.length, transcoded };
}

/** Runs ffmpeg with `args` (input from stdin) and returns the MP4 it writes: faststart in RAM, or fragmented on a pipe. */
async function toMp4(args: string[], input: readonly Buffer[], options: AssembleOptions, what: string): Promise<Buffer> {
  const run = (output: string[]) => runFfmpeg(options.ffmpegPath, [...args, ...output], { input, what, ...(options.signal ? { signal: options.signal } : {}) });
  if (options.scratchDir) {
    const file = path.join(options.scratchDir, `${randomBytes(8).toString("hex")}.mp4`);
    try {
      await run(["-movflags", "+faststart", "-f", "mp4", "-y", file]);
      return await fs.readFile(file);
    } catch (error) {
      // A full RAM folder (Docker's 64 MB /dev/shm) is no reason to lose the clip.
      if (!(error instanceof FfmpegRunError) || !/no space left/i.test(error.detail)) throw error;
    } finally {
      await fs.rm(file, { force: true });
    }
  }
  return run([...FRAGMENTED, "-f", "mp4", "pipe:1"]);
}

/**
 * Codec, size and duration of an MP4 in memory. The duration is measured from
 * the packets: for a fragmented MP4 read from a pipe, ffprobe's container
 * duration only covers the first fragments.
 */
async function probeMp4(mp4: Buffer, options: AssembleOptions): Promise<Probe> {
  const out = await runFfmpeg(options.ffprobePath, ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height:packet=pts_time,duration_time", "-of", "json", "-i", "pipe:0"], {
    input: [mp4],
    what: "checking the clip",
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const json = JSON.parse(out.toString("utf8")) as { streams?: { codec_name?: string; width?: number; height?: number }[]; packets?: { pts_time?: string; duration_time?: string }[] };
  const stream = json.streams?.[0];
  let first = Infinity;
  let last = -Infinity;
  for (const packet of json.packets ?? []) {
    const pts = Number(packet.pts_time);
    if (!Number.isFinite(pts)) continue;
    first = Math.min(first, pts);
    last = Math.max(last, pts + (Number(packet.duration_time) || 0));
  }
  if (!stream || !(last > first)) throw new FfmpegRunError("The joined clip has no video in it.", "", 0);
  return { codec: stream.codec_name ?? "unknown", width: stream.width ?? 0, height: stream.height ?? 0, durationSeconds: Math.round((last - first) * 100) / 100 };
}
