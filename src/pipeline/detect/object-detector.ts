/**
 * The detector as the pipeline sees it: one method. The ONNX implementations live
 * beside it; a worker-thread or remote detector could replace them without any
 * caller noticing.
 */
import type { DetectedObject } from "../../domain/events.js";
import type { Frame, Region } from "../frame.js";

export interface DetectOptions {
  /** Part of the frame to look at. Default: the whole frame. */
  region?: Region;
  /** Lowest score returned. Default 0.3. */
  minScore?: number;
  /** Suppress overlapping boxes only within a label (MODEL.md's convention). Default false: one object, one box. */
  classAware?: boolean;
}

export interface ObjectDetector {
  /** Model name, e.g. yolox-nano-416. */
  readonly model: string;
  /** Side of the square model input; crops are never smaller than this. */
  readonly inputSize: number;
  /** Objects in frame pixels, highest score first. Rejects when the model fails to run. */
  detect(frame: Frame, options?: DetectOptions): Promise<DetectedObject[]>;
  close(): Promise<void>;
}
