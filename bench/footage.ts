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
