/**
 * onnxruntime-node implementations of {@link ObjectDetector} for the two bundled
 * model formats. One session per detector; calls are serialised because they
 * share one input buffer, and because on a small box two concurrent runs only
 * fight for the same cores.
 */
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { DetectedObject } from "../../domain/events.js";
import { ModelError } from "../../errors.js";
import type { ModelEntry } from "../../models.js";
import { checkModel } from "../../models.js";
import { wholeFrame, type Frame } from "../frame.js";
import { nms } from "./nms.js";
import type { DetectOptions, ObjectDetector } from "./object-detector.js";
import { decodePicodet, PICODET_LAYOUT } from "./picodet.js";
import { frameToTensor, type TensorLayout, type TensorMapping } from "./tensor.js";
import { createWorkerDetector } from "./worker-detector.js";
import { decodeYolox, YOLOX_LAYOUT } from "./yolox.js";

export interface OnnxDetectorOptions {
  /** The .onnx file. */
  path: string;
  format: "yolox" | "picodet";
  /** Shown in /status. Default: the file name. */
  name?: string;
  /** Model input side. Default 416 (both bundled models). */
  inputSize?: number;
  /**
   * onnxruntime intra-op threads. Default 1: Vigil runs more detectors, one thread
   * each, rather than more threads in one (../shared/RECIPES.md: two workers of one
   * thread ran 1.6x as fast as one; one worker of two threads gained little).
   */
  threads?: number;
}

type Decode = (outputs: InferenceSession.OnnxValueMapType, names: readonly string[], inputSize: number, mapping: TensorMapping, minScore: number) => DetectedObject[];

const FORMATS: Record<OnnxDetectorOptions["format"], { layout: TensorLayout; decode: Decode }> = {
  yolox: {
    layout: YOLOX_LAYOUT,
    decode: (outputs, names, size, mapping, minScore) => decodeYolox(outputs[names[0]!]!.data as Float32Array, size, mapping, minScore),
  },
  picodet: {
    layout: PICODET_LAYOUT,
    decode: (outputs, names, size, mapping, minScore) => {
      // Score tensors end in 80 (classes), distance tensors in 32 (4 sides × 8 bins); both in stride order.
      const tensors = names.map((n) => outputs[n]!);
      const byWidth = (w: number) => tensors.filter((t) => t.dims[t.dims.length - 1] === w).sort((a, b) => Number(b.dims[1]) - Number(a.dims[1])).map((t) => t.data as Float32Array);
      return decodePicodet(byWidth(80), byWidth(32), size, mapping, minScore);
    },
  },
};

export async function createOnnxDetector(options: OnnxDetectorOptions): Promise<ObjectDetector> {
  const format = FORMATS[options.format];
  const size = options.inputSize ?? 416;
  const name = options.name ?? options.path.split("/").pop() ?? "model";
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(options.path, {
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      // Idle pool threads otherwise spin waiting for work, burning a core the cameras' ffmpeg needs (RECIPES.md).
      extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
      // PicoDet's export keeps its weights as graph inputs; onnxruntime warns about each one at load. Errors still surface.
      logSeverityLevel: 3,
    });
  } catch (cause) {
    throw new ModelError(`The detector model ${options.path} could not be loaded (${(cause as Error).message.split("\n")[0]}); run \`npm run models\` to reinstall it.`, { cause });
  }
  const layout: TensorLayout = { ...format.layout, size };
  const input = new Float32Array(3 * size * size);
  const inputName = session.inputNames[0]!;
  let chain: Promise<unknown> = Promise.resolve();

  async function run(frame: Frame, opts: DetectOptions): Promise<DetectedObject[]> {
    const region = opts.region ?? wholeFrame(frame);
    const minScore = opts.minScore ?? 0.3;
    const mapping = frameToTensor(frame, region, layout, input);
    const outputs = await session.run({ [inputName]: new Tensor("float32", input, [1, 3, size, size]) });
    const found = format.decode(outputs, session.outputNames, size, mapping, minScore);
    return nms(found, { classAware: opts.classAware ?? false });
  }

  return {
    model: name,
    inputSize: size,
    detect(frame, opts = {}) {
      const result = chain.then(() => run(frame, opts));
      chain = result.catch(() => undefined);
      return result;
    },
    async close() {
      await chain;
      await session.release();
    },
  };
}

export interface LoadDetectorOptions {
  entry: ModelEntry;
  modelsDir: string;
  /**
   * Where inference runs. Default `worker`: a worker thread (worker-detector.ts),
   * because onnxruntime-node runs a session on the calling thread and would stop
   * Vigil's main thread for every inference. `main`: in the calling thread.
   */
  thread?: "worker" | "main";
}

/**
 * The manifest's model from the models directory, checksum-verified. A missing or
 * damaged file is a {@link ModelError} whose message tells the user the fix.
 */
export async function loadDetector(options: LoadDetectorOptions): Promise<ObjectDetector> {
  const { entry, modelsDir } = options;
  const state = await checkModel(entry, modelsDir);
  if (state.state === "missing") throw new ModelError(`The detector model ${entry.name} is missing from ${modelsDir}; run \`npm run models\` to install it.`);
  if (state.state === "mismatch") throw new ModelError(`The detector model ${state.path} is damaged (its checksum does not match); delete it and run \`npm run models\`.`);
  const onnx: OnnxDetectorOptions = { path: state.path, format: entry.format, name: entry.name, inputSize: entry.inputSize };
  return options.thread === "main" ? createOnnxDetector(onnx) : createWorkerDetector(onnx);
}
