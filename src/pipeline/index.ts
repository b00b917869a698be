/** The detection pipeline: cameras → motion → objects → confirmed alerts with annotated snapshots. */
export { createPipeline, type Pipeline, type PipelineOptions } from "./pipeline.js";
export type { CameraStats } from "./camera-worker.js";
export type { ObjectDetector, DetectOptions } from "./detect/object-detector.js";
export { createOnnxDetector, loadDetector, type OnnxDetectorOptions } from "./detect/onnx-detector.js";
export { DEFAULT_CONFIRMATION, type ConfirmationRule } from "./events/confirmation.js";
export { probeStream } from "./source/probe.js";
