/**
 * Vigil's own decoder (vigil-decode.c), the program `npm test` builds: fed as a
 * camera's feed feeds it (an access unit, then a delimiter, at the camera's
 * pace), read through the same socket receiver the frame source uses, and
 * compared with what the ffmpeg program decodes from the same bytes.
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { yuv420Size } from "../../../src/pipeline/frame.js";
import { ACCESS_UNIT_DELIMITER, AccessUnitSplitter } from "../../../src/pipeline/source/annexb.js";
import { receiveFrames } from "../../../src/pipeline/source/frame-socket.js";
import { buildLeanDecoder, LEAN_DECODER } from "../../../src/pipeline/source/lean-decoder.js";
import { footage } from "../../support/footage.js";
import { tempDir } from "../../support/tmp.js";

const run = promisify(execFile);
const W = 320;
const H = 180;
const SIZE = yuv420Size(W, H);

/** A clip as a camera sends it: H.264 without B-frames at 10 fps, an IDR picture every 10, cut into access units. */
async function cameraStream(dir: string, clip: string, width: number, height: number, seconds: number): Promise<{ file: string; units: Buffer[] }> {
  const file = path.join(dir, `${path.basename(clip)}-${width}x${height}.h264`);
  await run("ffmpeg", ["-v", "error", "-y", "-i", footage(clip), "-t", String(seconds), "-vf", `scale=${width}:${height},fps=10`, "-c:v", "libx264", "-bf", "0", "-g", "10", "-pix_fmt", "yuv420p", "-f", "h264", file]);
  const splitter = new AccessUnitSplitter();
  return { file, units: [...splitter.push(await fs.readFile(file)), ...splitter.flush()].map((unit) => unit.data) };
}

/** A camera looking at a still scene: one picture of a clip, held, with sensor noise; cut into access units as `cameraStream`. */
async function stillStream(dir: string, clip: string, seconds: number): Promise<Buffer[]> {
  const file = path.join(dir, `${path.basename(clip)}-still.h264`);
  const scene = "select=eq(n\\,0),loop=loop=-1:size=1,setpts=N/10/TB,scale=640:360,noise=alls=4:allf=t";
  await run("ffmpeg", ["-v", "error", "-y", "-i", footage(clip), "-vf", scene, "-frames:v", String(seconds * 10), "-c:v", "libx264", "-bf", "0", "-g", "10", "-pix_fmt", "yuv420p", "-f", "h264", file]);
  const splitter = new AccessUnitSplitter();
  return [...splitter.push(await fs.readFile(file)), ...splitter.flush()].map((unit) => unit.data);
}

/** What the ffmpeg program decodes from `file`, scaled as Vigil asks it to. */
async function ffmpegFrames(file: string): Promise<Buffer[]> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-f", "h264", "-i", file, "-vf", `scale=${W}:${H}:flags=bilinear`, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"], { encoding: "buffer", maxBuffer: 1 << 28 });
  return Array.from({ length: stdout.length / SIZE }, (_, i) => stdout.subarray(i * SIZE, (i + 1) * SIZE));
}

/** The decoder at `fps` (`burstFps` while the frames in between are on), its frames read from its socket as the frame source reads them. */
function startDecoder(dir: string, fps: number, burstFps = fps) {
  const socket = path.join(dir, `${Math.random().toString(36).slice(2)}.sock`);
  const child = spawn(LEAN_DECODER, [String(W), String(H), String(fps), String(burstFps), socket], { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const frames: Buffer[] = [];
  const receiver = receiveFrames(socket, SIZE, () => Buffer.alloc(SIZE), (frame) => frames.push(frame) > 0);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  return {
    frames,
    child,
    stderr: () => stderr,
    /** Writes each unit with its delimiter, one every `intervalMs`, as a camera's feed does. */
    async feed(units: Buffer[], intervalMs = 100) {
      for (const unit of units) {
        child.stdin.write(Buffer.concat([unit, ACCESS_UNIT_DELIMITER]));
        await pause(intervalMs);
      }
    },
    write: (bytes: Buffer) => child.stdin.write(bytes),
    /** The frames in between, on or off. */
    burst: (on: boolean) => receiver.send(on ? 1 : 0),
    /** Closes its input (the end of the video) and waits for its exit and the last frames. */
    async end() {
      child.stdin.end();
      const code = await exited;
      await receiver.finish();
      return code;
    },
  };
}

/** The mean difference of two pictures, per byte (0: the same picture). */
function difference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** For each frame, the index of the reference frame it is (nearly) equal to, searching forward as frames come in order; -1 when none. */
function matchInOrder(frames: Buffer[], reference: Buffer[]): number[] {
  let from = 0;
  return frames.map((frame) => {
    for (let i = from; i < reference.length; i++) {
      if (difference(frame, reference[i]!) < 0.5) {
        from = i + 1;
        return i;
      }
    }
    return -1;
  });
}

describe("Vigil's own decoder", () => {
  let dir: string;
  let street: { file: string; units: Buffer[] };
  beforeAll(async () => {
    dir = await tempDir("vigil-decode-");
    street = await cameraStream(dir, "opencv-vtest_480x360_10fps.mp4", 640, 360, 3);
  }, 60_000);

  it("gives the pictures the ffmpeg program decodes, each as soon as its delimiter comes, and exits 0 at the end of its input", async () => {
    const reference = await ffmpegFrames(street.file);
    expect(reference).toHaveLength(30);
    // A rate above the camera's: every picture is kept (the next test keeps fewer).
    const decoder = startDecoder(dir, 40);
    const latencies: number[] = [];
    for (const unit of street.units) {
      const before = decoder.frames.length;
      const sent = performance.now();
      decoder.write(Buffer.concat([unit, ACCESS_UNIT_DELIMITER]));
      // The picture comes before the next unit is written: no frame is held back for the next one.
      await expect.poll(() => decoder.frames.length, { timeout: 5000, interval: 2 }).toBeGreaterThan(before);
      latencies.push(performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, 100 - Math.min(100, latencies.at(-1)!)));
    }
    expect(await decoder.end()).toBe(0);
    expect(decoder.frames).toHaveLength(30);
    expect(matchInOrder(decoder.frames, reference)).toEqual(reference.map((_, i) => i));
  });

  it("keeps its rate of frames a second by their arrival, all the frames in between while they are switched on, and otherwise those whose picture changed", async () => {
    const still = await stillStream(dir, "opencv-vtest_480x360_10fps.mp4", 2);
    // A 5 fps camera, at 2.5 frames a second and 5 in a burst, 2 s each: a still scene off, then on;
    // the street, where people walk, off; the still scene off again.
    const decoder = startDecoder(dir, 2.5, 5);
    const counts: number[] = [];
    const phase = async (units: Buffer[], burst: boolean) => {
      decoder.burst(burst);
      const before = decoder.frames.length;
      await decoder.feed(units, 200);
      counts.push(decoder.frames.length - before);
    };
    await phase(still.slice(0, 10), false);
    await phase(still.slice(10, 20), true);
    await phase(street.units.slice(0, 10), false);
    await phase(still, false);
    expect(await decoder.end()).toBe(0);
    // Every other picture of the still scene (its noise is no change); every one in the burst (a frame or
    // two fewer where this busy machine's timers bunch the writes); on the street, more than every other.
    const [stillOff, stillOn, streetOff, stillAgain] = counts;
    expect([3, 4, 5, 6]).toContain(stillOff);
    expect([8, 9, 10]).toContain(stillOn);
    expect(streetOff).toBeGreaterThanOrEqual(8);
    expect([8, 9, 10, 11]).toContain(stillAgain);
    expect(decoder.frames.every((frame) => frame.length === SIZE)).toBe(true);
  });

  it("goes on through garbage, a picture cut short and a camera that changes its resolution, and scales the new stream to the same size", async () => {
    const yard = await cameraStream(dir, "wallflower_wavingtrees_10fps.mp4", 320, 240, 2);
    const decoder = startDecoder(dir, 40);
    await decoder.feed(street.units.slice(0, 10), 50);
    const before = decoder.frames.length;
    expect(before).toBeGreaterThanOrEqual(5);
    // 64 kB of noise, then half a keyframe: nothing a decoder can show, and nothing that stops it.
    const noise = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919 + 13) % 251));
    decoder.write(Buffer.concat([noise, ACCESS_UNIT_DELIMITER]));
    decoder.write(Buffer.concat([yard.units[0]!.subarray(0, yard.units[0]!.length >> 1), ACCESS_UNIT_DELIMITER]));
    await decoder.feed(yard.units, 50);
    expect(await decoder.end()).toBe(0);
    expect(decoder.child.exitCode).toBe(0);
    const after = decoder.frames.slice(before);
    expect(after.length).toBeGreaterThanOrEqual(12);
    // Every frame is the size asked for, and the last ones are the new stream's pictures.
    expect(decoder.frames.every((frame) => frame.length === SIZE)).toBe(true);
    const reference = await ffmpegFrames(yard.file);
    expect(matchInOrder(after.slice(-10), reference).filter((i) => i >= 0).length).toBeGreaterThanOrEqual(9);
    expect(decoder.stderr().length).toBeLessThan(4096);
  });

  it("refuses bad arguments in one line, with exit code 2", async () => {
    const result = await run(LEAN_DECODER, ["640", "0", "5", "10", path.join(dir, "x.sock")]).catch((error: { code: number; stderr: string }) => error);
    expect(result).toMatchObject({ code: 2, stderr: "vigil-decode: WIDTH and HEIGHT must be 2-8192, and 0 < FPS <= BURST_FPS <= 240\n" });
  });

  it("is built from its source where a C compiler and libavcodec's headers are, and says in a clause what is missing where they are not", async () => {
    const out = path.join(dir, "built", "vigil-decode");
    expect(await buildLeanDecoder({ PATH: path.join(dir, "nothing") }, out)).toEqual({ ok: false, reason: "there is no C compiler (cc)" });
    await expect(fs.access(out)).rejects.toThrow();
    expect(await buildLeanDecoder(process.env, out)).toEqual({ ok: true });
    const usage = await run(out, []).catch((error: { code: number; stderr: string }) => error);
    expect(usage).toMatchObject({ code: 2, stderr: "usage: vigil-decode WIDTH HEIGHT FPS BURST_FPS SOCKET\n" });
  });
});
