/** Where the shared footage and models are, for the benchmarks (never copied into the repo). */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../src/env.js";

const run = promisify(execFile);

export const FOOTAGE_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "footage");
export const OUT_DIR = path.join(PROJECT_ROOT, "bench", "out");

export function footage(name: string): string {
  return path.join(FOOTAGE_DIR, name);
}

/**
 * A static scene with sensor noise, H.264 640x360 at 15 fps: what an idle camera's sub-stream looks
 * like. The empty parking lot (its first seconds): nothing there for the detector to find when it
 * looks at the whole frame after the camera starts.
 */
export async function idleClip(): Promise<string> {
  const file = path.join(OUT_DIR, "idle-parking-640x360-15fps.mp4");
  if (await fs.stat(file).catch(() => undefined)) return file;
  await fs.mkdir(OUT_DIR, { recursive: true });
  await run("ffmpeg", ["-v", "error", "-y", "-ss", "1", "-i", footage("intel_car-detection.mp4"), "-frames:v", "1", "-f", "image2", `${file}.png`]);
  await run("ffmpeg", ["-v", "error", "-y", "-loop", "1", "-i", `${file}.png`, "-vf", "scale=640:360,noise=alls=5:allf=t", "-r", "15", "-t", "60", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p", file]);
  await fs.rm(`${file}.png`);
  return file;
}

/**
 * The same loop seen from another starting point: the clip from `startS` to its
 * end, then its beginning up to `startS`. Looped, it shows exactly the frames the
 * original shows, in the same order; only where each loop starts changes (so the
 * benchmark can place each camera's events where it needs them without waiting).
 * Encoded losslessly at the clip's size; the RTSP server's preparation scales it.
 */
export async function rotatedClip(name: string, startS: number): Promise<string> {
  const file = path.join(OUT_DIR, `${path.basename(name).replace(/\.\w+$/, "")}-from-${startS.toFixed(1)}s.mkv`);
  if (await fs.stat(file).catch(() => undefined)) return file;
  await fs.mkdir(OUT_DIR, { recursive: true });
  const graph = `[0:v]trim=start=${startS},setpts=PTS-STARTPTS[tail];[0:v]trim=end=${startS},setpts=PTS-STARTPTS[head];[tail][head]concat=n=2:v=1:a=0[out]`;
  const tmp = `${file}.${process.pid}.tmp.mkv`;
  await run("ffmpeg", ["-v", "error", "-y", "-i", footage(name), "-filter_complex", graph, "-map", "[out]", "-an", "-c:v", "libx264", "-qp", "0", "-preset", "veryfast", tmp]);
  await fs.rename(tmp, file);
  return file;
}
