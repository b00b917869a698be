import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { Frame } from "../../src/pipeline/frame.js";
import { yuv420Size } from "../../src/pipeline/frame.js";
import { ROOT } from "./cli.js";
import { childProcesses, isDecoder } from "./process-info.js";
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

/** The cameras' decoders among this process's children (vigil-decode, or ffmpeg decoding to rawvideo), with their state: `Z` is a zombie. */
export async function pipelineDecoders(): Promise<{ pid: number; state: string }[]> {
  const children = await childProcesses(process.pid);
  return children.filter(isDecoder).map(({ pid, state }) => ({ pid, state }));
}
