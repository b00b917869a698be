/**
 * The worker thread behind {@link createWorkerDetector} (worker-detector.ts): one
 * ONNX detector, answering the main thread's messages one at a time.
 */
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { userMessage, VigilError } from "../../errors.js";
import { createOnnxDetector, type OnnxDetectorOptions } from "./onnx-detector.js";
import { DETECTOR_NICE, type ToMain, type ToWorker } from "./worker-detector.js";

const port = parentPort!;
const post = (message: ToMain) => port.postMessage(message);

// Below the rest of Vigil (Linux keeps a nice value per thread, and onnxruntime runs the model on
// this one): when the cameras keep every core busy, the main thread (RTSP, the clip ring, motion,
// alerts) and the decoders go first and the detectors take what is left, on frames that are still
// the newest at their turn. A core nobody else wants is the detector's as before. Where lowering
// the priority is refused (Linux never refuses it), the detector runs at the default.
try {
  os.setPriority(0, DETECTOR_NICE);
} catch {
  // the default priority
}

try {
  const detector = await createOnnxDetector(workerData as OnnxDetectorOptions);
  port.on("message", (message: ToWorker) => {
    if (message.type === "close") {
      void detector.close().finally(() => {
        post({ type: "closed" });
        port.close();
      });
      return;
    }
    const { id, frame, options } = message;
    detector.detect({ ...frame, data: Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength) }, options).then(
      (objects) => post({ type: "result", id, objects }),
      (error: unknown) => post({ type: "failed", id, message: (error as Error).message }),
    );
  });
  post({ type: "ready", model: detector.model, inputSize: detector.inputSize });
} catch (error) {
  // A ModelError's message is the sentence the user sees (what is wrong, how to fix it).
  post({ type: "load-failed", message: error instanceof VigilError ? error.message : userMessage(error), detail: (error as Error).message });
}
