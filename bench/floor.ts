/**
 * The physical floor the benchmarks compare Vigil with: bare ffmpeg decoding the
 * same streams with exactly the pipeline's arguments (output discarded), and bare
 * onnxruntime `session.run` on tensors made from real frames.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { PROJECT_ROOT } from "../src/env.js";
import { silentLogger } from "../src/log.js";
import { findModel, readManifest } from "../src/models.js";
import { burstRate } from "../src/pipeline/camera-worker.js";
import { frameToTensor } from "../src/pipeline/detect/tensor.js";
import { YOLOX_LAYOUT } from "../src/pipeline/detect/yolox.js";
import { wholeFrame, yuv420Size, type Frame } from "../src/pipeline/frame.js";
import { spawnFfmpeg, type FfmpegChild } from "../src/pipeline/source/ffmpeg-child.js";
import { decodeArgs, type FrameSourceOptions } from "../src/pipeline/source/frame-source.js";

const run = promisify(execFile);

export const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/** The p-quantile (0–1) of some values, nearest rank; undefined when there are none. */
export function quantile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/**
 * One bare decoder per source, with the pipeline's own ffmpeg arguments for a
 * camera analysed at `fps` (decoded at its burst rate, as a camera worker does),
 * discarding the frames.
 */
export function startBareDecoders(sources: Pick<FrameSourceOptions, "url" | "width" | "height" | "fps" | "realtimeFile">[]): { children: FfmpegChild[]; stop(): Promise<void> } {
  const children = sources.map((source) => spawnFfmpeg({ ...decodeArgs({ ...source, fps: burstRate(source.fps) }), output: new Writable({ write: (_chunk: Buffer, _encoding, callback) => callback() }), logger: silentLogger }));
  return { children, stop: async () => void (await Promise.all(children.map((c) => c.stop()))) };
}

/** `count` frames of a clip at 640x360, one per second, as the pipeline sees them (yuv420p). */
export async function footageFrames(file: string, count = 30): Promise<Frame[]> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-vf", "fps=1,scale=640:360", "-frames:v", String(count), "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"], { encoding: "buffer", maxBuffer: 1 << 28 });
  const size = yuv420Size(640, 360);
  return Array.from({ length: stdout.length / size }, (_, i) => ({ width: 640, height: 360, data: stdout.subarray(i * size, (i + 1) * size), at: i, seq: i }));
}

/** The default model in a bare session, configured as the pipeline's (one thread, sequential, all optimisations). */
export async function bareSession(): Promise<{ session: InferenceSession; tensors: (frames: readonly Frame[]) => Tensor[] }> {
  const entry = findModel(await readManifest());
  const session = await InferenceSession.create(path.join(PROJECT_ROOT, "models", entry.file), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
  return {
    session,
    tensors: (frames) =>
      frames.map((frame) => {
        const data = new Float32Array(3 * 416 * 416);
        frameToTensor(frame, wholeFrame(frame), YOLOX_LAYOUT, data);
        return new Tensor("float32", data, [1, 3, 416, 416]);
      }),
  };
}

/** Median `session.run` time over `rounds` passes of the frames, after one pass to warm up. */
export async function bareInferenceMs(frames: readonly Frame[], rounds = 3): Promise<number> {
  const { session, tensors } = await bareSession();
  try {
    const inputs = tensors(frames);
    const times: number[] = [];
    for (let round = 0; round <= rounds; round++) {
      for (const tensor of inputs) {
        const t = performance.now();
        await session.run({ [session.inputNames[0]!]: tensor });
        if (round) times.push(performance.now() - t);
      }
    }
    return median(times);
  } finally {
    await session.release();
  }
}
