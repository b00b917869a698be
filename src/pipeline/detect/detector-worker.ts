/**
 * The worker thread behind {@link createWorkerDetector} (worker-detector.ts): one
 * ONNX detector, answering the main thread's messages one at a time.
 */
import { parentPort, workerData } from "node:worker_threads";
import { userMessage, VigilError } from "../../errors.js";
import { createOnnxDetector, type OnnxDetectorOptions } from "./onnx-detector.js";
import type { ToMain, ToWorker } from "./worker-detector.js";

const port = parentPort!;
const post = (message: ToMain) => port.postMessage(message);

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
