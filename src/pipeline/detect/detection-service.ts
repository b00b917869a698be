/**
 * One detector serving every camera. Each camera has at most one frame waiting;
 * a newer frame replaces it (the older one is answered `superseded`), so the
 * queue is bounded by the number of cameras and a busy detector always works on
 * the present. Cameras are served in the order they asked.
 *
 * A detector that cannot be loaded, or that throws while running, makes every
 * request answer `unavailable` with the reason, so the caller falls back to
 * motion-only alerts instead of silence; loading or running is tried again after
 * `retryAfterMs`, and the status flips back when it works.
 */
import type { DetectedObject } from "../../domain/events.js";
import type { DetectorStatus } from "../../domain/pipeline.js";
import { userMessage } from "../../errors.js";
import { silentLogger, type Logger } from "../../log.js";
import type { Frame, Region } from "../frame.js";
import { nms } from "./nms.js";
import type { ObjectDetector } from "./object-detector.js";

export interface DetectionRequest {
  cameraId: string;
  frame: Frame;
  regions: readonly Region[];
  minScore: number;
}

export type DetectionOutcome =
  | { status: "done"; objects: DetectedObject[]; /** Time inside the detector, ms (excludes waiting). */ ms: number }
  | { status: "superseded" }
  | { status: "unavailable"; reason: string };

export interface DetectionServiceOptions {
  /** Loads the detector; a rejection (ModelError) is the reason shown to the user. */
  load: () => Promise<ObjectDetector>;
  /** Model name for the status before it has loaded. */
  model: string;
  logger?: Logger;
  /** Told about every change of status. */
  onStatus?: (status: DetectorStatus) => void;
  /** After a failure, wait this long before trying the model again. Default 30 s. */
  retryAfterMs?: number;
}

export interface DetectionStats {
  /** Requests answered (one per processed frame), and model runs (one per region of a frame). */
  runs: number;
  inferences: number;
  superseded: number;
  failures: number;
  /** Total time inside detector.detect, ms. */
  busyMs: number;
}

export interface DetectionService {
  detect(request: DetectionRequest): Promise<DetectionOutcome>;
  status(): DetectorStatus;
  /** Side of the model input; crops are never smaller. */
  inputSize(): number;
  stats(): DetectionStats;
  close(): Promise<void>;
}

interface Pending {
  request: DetectionRequest;
  resolve: (outcome: DetectionOutcome) => void;
}

export async function createDetectionService(options: DetectionServiceOptions): Promise<DetectionService> {
  const logger = options.logger ?? silentLogger;
  const retryAfterMs = options.retryAfterMs ?? 30_000;
  let detector: ObjectDetector | undefined;
  let status: DetectorStatus = { ok: true, model: options.model };
  let retryAt = 0;
  let loading: Promise<void> | undefined;
  const pending = new Map<string, Pending>();
  let draining: Promise<void> | undefined;
  let closed = false;
  const stats: DetectionStats = { runs: 0, inferences: 0, superseded: 0, failures: 0, busyMs: 0 };

  const setStatus = (next: DetectorStatus) => {
    if (next.ok === status.ok && next.reason === status.reason) return;
    status = next;
    (next.ok ? logger.info : logger.error).call(logger, { model: next.model, reason: next.reason }, next.ok ? "detector working" : "detector unavailable: alerts fall back to motion only");
    options.onStatus?.(next);
  };

  const fail = (reason: string) => {
    retryAt = performance.now() + retryAfterMs;
    setStatus({ ok: false, model: detector?.model ?? options.model, reason });
  };

  async function load(): Promise<void> {
    try {
      detector = await options.load();
      setStatus({ ok: true, model: detector.model });
    } catch (error) {
      logger.debug({ err: error }, "detector load failed");
      fail(userMessage(error));
    }
  }

  async function runOne({ request, resolve }: Pending): Promise<void> {
    if (!detector) return resolve({ status: "unavailable", reason: status.reason ?? "the detector is not loaded" });
    const started = performance.now();
    try {
      const found: DetectedObject[] = [];
      for (const region of request.regions) {
        found.push(...(await detector.detect(request.frame, { region, minScore: request.minScore })));
        stats.inferences++;
      }
      const ms = performance.now() - started;
      stats.runs++;
      stats.busyMs += ms;
      setStatus({ ok: true, model: detector.model });
      // Crops overlap: the same object seen twice is one object.
      resolve({ status: "done", objects: request.regions.length > 1 ? nms(found) : found, ms });
    } catch (error) {
      stats.failures++;
      logger.debug({ err: error }, "detector run failed");
      fail(`the detector failed while running (${(error as Error).message.split("\n")[0]?.slice(0, 160)})`);
      resolve({ status: "unavailable", reason: status.reason! });
    }
  }

  async function drain(): Promise<void> {
    for (;;) {
      const next = pending.entries().next();
      if (next.done) return;
      const [cameraId, job] = next.value;
      pending.delete(cameraId);
      await runOne(job);
    }
  }

  function kick(): void {
    draining ??= drain().finally(() => {
      draining = undefined;
      // A request may have arrived between the last check and now.
      if (pending.size > 0 && !closed) kick();
    });
  }

  await load();

  return {
    inputSize: () => detector?.inputSize ?? 416,
    status: () => ({ ...status }),
    stats: () => ({ ...stats }),
    detect(request) {
      if (closed) return Promise.resolve({ status: "unavailable", reason: "the pipeline is stopping" });
      if (!status.ok) {
        if (performance.now() < retryAt) return Promise.resolve({ status: "unavailable", reason: status.reason ?? "the detector is unavailable" });
        // Time to try again: reload when it never loaded; otherwise this request is the retry.
        retryAt = performance.now() + retryAfterMs;
        if (!detector) {
          loading ??= load().finally(() => (loading = undefined));
          return Promise.resolve({ status: "unavailable", reason: status.reason ?? "the detector is unavailable" });
        }
      }
      return new Promise<DetectionOutcome>((resolve) => {
        const previous = pending.get(request.cameraId);
        if (previous) {
          stats.superseded++;
          previous.resolve({ status: "superseded" });
        }
        // Map keeps first-insertion order: a replaced request keeps its camera's place in line.
        pending.set(request.cameraId, { request, resolve });
        kick();
      });
    },
    async close() {
      closed = true;
      for (const [, job] of pending) job.resolve({ status: "unavailable", reason: "the pipeline is stopping" });
      pending.clear();
      await draining;
      await loading;
      await detector?.close();
    },
  };
}
