import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Frame } from "../../src/pipeline/frame.js";
import { yuv420Size } from "../../src/pipeline/frame.js";
import { ROOT } from "./cli.js";
import { footage } from "./rtsp-server.js";

export { FOOTAGE_DIR, footage } from "./rtsp-server.js";

const run = promisify(execFile);

/** The installed models (footage stays in ../shared/footage, never copied into the repo). */
export const MODELS_DIR = path.join(ROOT, "models");

/** Frames of a clip at its own size as yuv420p, decoded by the ffmpeg CLI (`-ss t`, `count` frames at `fps`, or every frame). */
export async function grabFrames(name: string, width: number, height: number, options: { at?: number; count?: number; fps?: number } = {}): Promise<Frame[]> {
  const args = ["-v", "error", ...(options.at !== undefined ? ["-ss", String(options.at)] : []), "-i", footage(name), ...(options.fps ? ["-vf", `fps=${options.fps}`] : []), ...(options.count ? ["-frames:v", String(options.count)] : []), "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"];
  const { stdout } = await run("ffmpeg", args, { encoding: "buffer", maxBuffer: 1 << 30 });
  const size = yuv420Size(width, height);
  return Array.from({ length: Math.floor(stdout.length / size) }, (_, i) => ({ width, height, data: stdout.subarray(i * size, (i + 1) * size), at: i, seq: i }));
}

/** Pipeline ffmpeg children of this process (decoding to rawvideo), with their state: `Z` is a zombie. */
export async function pipelineFfmpegs(): Promise<{ pid: number; state: string }[]> {
  const found: { pid: number; state: string }[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8");
      const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
      if (!match || match[1] !== "ffmpeg" || Number(match[3]) !== process.pid) continue;
      const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes("rawvideo")) found.push({ pid: Number(entry), state: match[2]! });
    } catch {
      // The process ended while we looked: not a child any more.
    }
  }
  return found;
}
