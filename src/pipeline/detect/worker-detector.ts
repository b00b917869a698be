/**
 * The ONNX detector in a worker thread, behind the same {@link ObjectDetector}
 * interface. onnxruntime-node's `session.run` runs on the thread that calls it
 * (its promise only defers the call with setImmediate), so in Vigil's main thread
 * every inference, 15-20 ms here and several times that on a Raspberry Pi, stops
 * everything else: reading the cameras' frames, writing the outbox, talking to
 * Telegram. Measured with `npm run bench`, 8 cameras of swaying trees: the event
 * loop's delay was 18 ms at the median and an alert photo spent 200-650 ms between
 * leaving the pipeline and reaching Telegram, one wait per await on its way. In a
 * worker, inference runs beside the main thread (on its own core when there is
 * one) and a detection costs the main thread one copy of the frame.
 *
 * The worker is started again on the next request if it dies; requests it was
 * working on fail, which the detection service reports like any other failure.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { DetectedObject } from "../../domain/events.js";
import { ModelError } from "../../errors.js";
import type { Frame } from "../frame.js";
import type { DetectOptions, ObjectDetector } from "./object-detector.js";
import type { OnnxDetectorOptions } from "./onnx-detector.js";

/** Messages to the worker. */
export type ToWorker = { type: "detect"; id: number; frame: Omit<Frame, "data"> & { data: Uint8Array }; options: DetectOptions } | { type: "close" };

/** Messages from the worker. */
export type ToMain =
  | { type: "ready"; model: string; inputSize: number }
  | { type: "load-failed"; message: string; detail: string }
  | { type: "result"; id: number; objects: DetectedObject[] }
  | { type: "failed"; id: number; message: string }
  | { type: "closed" };

/**
 * A worker thread running detector-worker. From dist/ it is plain JavaScript. From
 * src/ (tests, tsx) it is TypeScript: the worker registers tsx's loader first
 * (a loader given to the main thread does not reach workers, nor does
 * `--import tsx` in a worker's execArgv).
 */
/** tsx's ESM API module (its CommonJS twin cannot be imported from ESM). */
function tsxEsmApi(): string {
  const manifest = createRequire(import.meta.url).resolve("tsx/package.json");
  const { exports } = JSON.parse(readFileSync(manifest, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  return path.join(path.dirname(manifest), exports["./esm/api"]!.import.default);
}

let threadsAlive = 0;

/** Detector worker threads of this process that have started and not yet exited (counted at their `exit` event). */
export function detectorThreadsAlive(): number {
  return threadsAlive;
}

function startWorker(workerData: OnnxDetectorOptions): Worker {
  let worker: Worker;
  if (!import.meta.url.endsWith(".ts")) worker = new Worker(new URL("./detector-worker.js", import.meta.url), { workerData });
  else {
    const entry = new URL("./detector-worker.ts", import.meta.url).href;
    const tsx = pathToFileURL(tsxEsmApi()).href;
    const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
    worker = new Worker(code, { eval: true, workerData });
  }
  threadsAlive++;
  worker.once("exit", () => threadsAlive--);
  return worker;
}

interface Running {
  worker: Worker;
  ready: Promise<{ model: string; inputSize: number }>;
}

export async function createWorkerDetector(options: OnnxDetectorOptions): Promise<ObjectDetector> {
  const pending = new Map<number, { resolve: (objects: DetectedObject[]) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let running: Running | undefined;
  let closed = false;

  function start(): Running {
    const worker = startWorker(options);
    const ready = new Promise<{ model: string; inputSize: number }>((resolve, reject) => {
      worker.on("message", (message: ToMain) => {
        switch (message.type) {
          case "ready":
            return resolve({ model: message.model, inputSize: message.inputSize });
          case "load-failed":
            void worker.terminate();
            return reject(new ModelError(message.message, { cause: new Error(message.detail) }));
          case "result":
          case "failed": {
            const call = pending.get(message.id);
            pending.delete(message.id);
            if (message.type === "result") call?.resolve(message.objects);
            else call?.reject(new Error(message.message));
            return;
          }
          case "closed":
            return;
        }
      });
      worker.once("error", reject);
      worker.once("exit", (code) => {
        if (running?.worker === worker) running = undefined;
        const error = new Error(`the detector's worker thread stopped (exit code ${code})`);
        reject(error);
        for (const call of pending.values()) call.reject(error);
        pending.clear();
      });
    });
    // Observed here: a load failure is reported by whoever awaits `ready`.
    ready.catch(() => undefined);
    return { worker, ready };
  }

  running = start();
  const { model, inputSize } = await running.ready;

  return {
    model,
    inputSize,
    async detect(frame, opts = {}) {
      if (closed) throw new Error("the detector is closed");
      running ??= start();
      const { worker } = running;
      await running.ready;
      const id = nextId++;
      // A live camera's frame is in shared memory: the worker reads it there, and the frame is not
      // changed before the answer comes. Any other is copied, as it stays in use here while the worker reads it.
      const shared = frame.data.buffer instanceof SharedArrayBuffer;
      const data = shared ? new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength) : new Uint8Array(frame.data);
      return new Promise<DetectedObject[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const message: ToWorker = { type: "detect", id, frame: { width: frame.width, height: frame.height, at: frame.at, seq: frame.seq, data }, options: opts };
        worker.postMessage(message, shared ? [] : [data.buffer as ArrayBuffer]);
      });
    },
    async close() {
      closed = true;
      const current = running;
      if (!current) return;
      const exited = new Promise<void>((resolve) => current.worker.once("exit", () => resolve()));
      current.worker.postMessage({ type: "close" } satisfies ToWorker);
      const timer = setTimeout(() => void current.worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
