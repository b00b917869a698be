/**
 * A pool of detectors serving every camera. One detector runs one model at a
 * time on one core; on this 2-core machine two of them, each in its own worker
 * thread with one onnxruntime thread, ran YOLOX-Nano 1.6x as fast as one, where
 * one detector with two onnxruntime threads gained little
 * (../shared/RECIPES.md). The pool starts with one detector and adds one, up to
 * `size`, whenever a frame waits while every detector is busy, so a quiet home
 * keeps the memory of one (each costs about 60 MB) and a busy one gets its cores.
 *
 * Each camera has at most one frame waiting; a newer frame replaces it (the
 * older one is answered `superseded`) and keeps its place in line, so the queue
 * is bounded by the number of cameras and a busy pool always works on the
 * present. The next free detector takes the frame that would confirm or clear a
 * visit first, then frames whose motion is new, then the rest in the order they
 * arrived; a routine frame waits at most `maxRoutineWaitMs` behind the others
 * (schedule.ts). A camera's waiting request takes its newer frames as they come
 * (`refresh`) and at its turn (`renew`), so its place in line reflects what the
 * camera shows now.
 *
 * A detector that throws is closed and replaced, and its frame is tried once
 * more on another (or the new) one, so one failing worker costs nothing but its
 * restart. When the same frame fails twice, or the model cannot be loaded, the
 * model itself is at fault: every request answers `unavailable` with the
 * reason, so the caller falls back to motion-only alerts instead of silence;
 * loading or running is tried again after `retryAfterMs`, and the status flips
 * back when it works.
 */
import type { DetectedObject } from "../../domain/events.js";
import type { DetectorStatus } from "../../domain/pipeline.js";
import { userMessage } from "../../errors.js";
import { silentLogger, type Logger } from "../../log.js";
import type { Frame, Region } from "../frame.js";
import { nms } from "./nms.js";
import type { ObjectDetector } from "./object-detector.js";
import { MAX_ROUTINE_WAIT_MS, nextWaiting, type DetectionPriority, type Waiting } from "./schedule.js";

export interface DetectionRequest {
  cameraId: string;
  frame: Frame;
  regions: readonly Region[];
  minScore: number;
  /** `confirm` when the frame may confirm or clear a visit: served before routine frames (schedule.ts). Default `routine`. */
  priority?: DetectionPriority;
  /**
   * Asked when a detector is free for this request, before it runs: the request to run in its
   * place, for the camera's newer frame that came while this one waited, or undefined to run this one.
   */
  renew?: () => DetectionRequest | undefined;
}

export type DetectionOutcome =
  | {
      status: "done";
      objects: DetectedObject[];
      /** Time inside the detector, ms (excludes waiting). */
      ms: number;
      /** How long the camera waited in line for this look, ms (from when its first frame still waiting joined), and the rank it was served at. */
      waitedMs: number;
      priority: DetectionPriority;
    }
  | { status: "superseded" }
  | { status: "unavailable"; reason: string };

export interface DetectionServiceOptions {
  /**
   * Loads one detector; called once for each detector the pool starts (and again
   * to replace one that failed). A rejection (ModelError) is the reason shown to
   * the user.
   */
  load: () => Promise<ObjectDetector>;
  /** Model name for the status before it has loaded. */
  model: string;
  /** Most detectors running at once. Default 1. */
  size?: number;
  logger?: Logger;
  /** Told about every change of status. */
  onStatus?: (status: DetectorStatus) => void;
  /** After a failure, wait this long before trying the model again. Default 30 s. */
  retryAfterMs?: number;
  /** Longest a routine frame waits behind frames that would confirm a visit. Default {@link MAX_ROUTINE_WAIT_MS}. */
  maxRoutineWaitMs?: number;
}

export interface DetectionStats {
  /** Requests answered (one per processed frame), and model runs (one per region of a frame). */
  runs: number;
  inferences: number;
  superseded: number;
  /** Requests that failed on a detector (each one closed and replaced). */
  failures: number;
  /** Total time inside detector.detect, ms, summed over the pool's detectors. */
  busyMs: number;
  /** Detectors loaded now (at most the pool's size). */
  workers: number;
}

export interface DetectionService {
  detect(request: DetectionRequest): Promise<DetectionOutcome>;
  /**
   * The camera has a newer frame: if its request still waits, it takes the frame now (its `renew`),
   * and with it the frame's priority, keeping its place in line. Motion that appears somewhere new
   * while a camera's routine frame waits so moves it up before its turn.
   */
  refresh(cameraId: string): void;
  /** A detector would run a frame at once: one is loaded and idle, and no frame waits. A look that only may help (a glance) is asked for only then. */
  free(): boolean;
  status(): DetectorStatus;
  /** Side of the model input; crops are never smaller. */
  inputSize(): number;
  stats(): DetectionStats;
  /** Answers what waits `unavailable`, lets the runs under way finish, and closes every detector. */
  close(): Promise<void>;
}

interface Pending extends Waiting {
  request: DetectionRequest;
  resolve: (outcome: DetectionOutcome) => void;
  /** It already failed on one detector: a second failure blames the model. */
  failedOnce: boolean;
}

interface Slot {
  detector: ObjectDetector;
  busy: boolean;
}

/**
 * The pool's size on a machine with `cores` cores: one detector per core, at most 4.
 * Measured on 2 cores (`BENCH_ONLY=pool npm run bench:pipeline`): a second
 * detector ran 1.4x (loaded machine) to 1.6x (quiet) the runs a second of one,
 * with the main thread's timers as punctual as with one; a third gained nothing
 * and made them late (p99 23 ms against 4), and so did one detector with two
 * onnxruntime threads. Not cores minus one: that is one detector on 2 cores, and
 * a detector takes a core only while frames wait. At most 4: each holds about
 * 60 MB, and more were never measured.
 */
export function defaultDetectorThreads(cores: number): number {
  return Math.max(1, Math.min(4, Math.floor(cores)));
}

const STOPPING: DetectionOutcome = { status: "unavailable", reason: "the pipeline is stopping" };

export async function createDetectionService(options: DetectionServiceOptions): Promise<DetectionService> {
  const logger = options.logger ?? silentLogger;
  const retryAfterMs = options.retryAfterMs ?? 30_000;
  const maxRoutineWaitMs = options.maxRoutineWaitMs ?? MAX_ROUTINE_WAIT_MS;
  const size = options.size ?? 1;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`A detector pool needs a whole number of detectors, 1 or more (got ${size}).`);
  const slots: Slot[] = [];
  const waiting = new Map<string, Pending>();
  const running = new Set<Promise<void>>();
  const closing = new Set<Promise<void>>();
  let loading: Promise<void> | undefined;
  /** After a detector failed to load while others run, the pool does not grow again before this. */
  let growAfter = 0;
  let model = options.model;
  let inputSize = 416;
  let status: DetectorStatus = { ok: true, model };
  /** What made the status unavailable: a model that does not load, or one that fails when run. */
  let failedAt: "load" | "run" | undefined;
  let retryAt = 0;
  let seq = 0;
  let closed = false;
  const stats: Omit<DetectionStats, "workers"> = { runs: 0, inferences: 0, superseded: 0, failures: 0, busyMs: 0 };

  const setStatus = (next: DetectorStatus) => {
    if (next.ok) failedAt = undefined;
    if (next.ok === status.ok && next.reason === status.reason) return;
    status = next;
    (next.ok ? logger.info : logger.error).call(logger, { model: next.model, reason: next.reason }, next.ok ? "detector working" : "detector unavailable: alerts fall back to motion only");
    options.onStatus?.(next);
  };

  /** The model is at fault: everyone is told so until the retry. */
  const fail = (reason: string, at: "load" | "run") => {
    retryAt = performance.now() + retryAfterMs;
    failedAt = at;
    setStatus({ ok: false, model, reason });
    const outcome: DetectionOutcome = { status: "unavailable", reason };
    for (const job of waiting.values()) job.resolve(outcome);
    waiting.clear();
  };

  function retire(slot: Slot): void {
    slots.splice(slots.indexOf(slot), 1);
    const closed = slot.detector
      .close()
      .catch((error: unknown) => logger.debug({ err: error }, "a failed detector did not close cleanly"))
      .finally(() => closing.delete(closed));
    closing.add(closed);
  }

  async function grow(): Promise<void> {
    try {
      const detector = await options.load();
      if (closed) return void (await detector.close());
      model = detector.model;
      inputSize = detector.inputSize;
      slots.push({ detector, busy: false });
      logger.debug({ workers: slots.length, size }, "detector started");
      // A model that loads again is back; one that failed when run is back only once it runs.
      if (failedAt === "load") setStatus({ ok: true, model });
    } catch (error) {
      logger.debug({ err: error }, "detector load failed");
      if (slots.length === 0) fail(userMessage(error), "load");
      else {
        // The others keep answering; the pool stays smaller for a while.
        growAfter = performance.now() + retryAfterMs;
        logger.warn({ err: error, workers: slots.length }, "another detector could not be started; the running ones carry on");
      }
    }
  }

  function startLoading(): void {
    loading ??= grow().finally(() => {
      loading = undefined;
      pump();
    });
  }

  /** Gives waiting frames to free detectors, starting another detector when all are busy and the pool may grow. */
  function pump(): void {
    while (!closed && waiting.size > 0) {
      const slot = slots.find((s) => !s.busy);
      if (!slot) {
        if (slots.length < size && performance.now() >= growAfter) startLoading();
        return;
      }
      const job = nextWaiting(waiting.values(), performance.now(), maxRoutineWaitMs)!;
      waiting.delete(job.request.cameraId);
      slot.busy = true;
      job.request = renewed(job.request);
      const run = runOne(slot, job).finally(() => {
        running.delete(run);
        pump();
      });
      running.add(run);
    }
  }

  /** What a request's turn runs: its camera's newer frame when one came meanwhile (so a busy pool looks at the present, not at what was there when the frame joined the line). */
  function renewed(request: DetectionRequest): DetectionRequest {
    try {
      return request.renew?.() ?? request;
    } catch (error) {
      logger.warn({ err: error, camera: request.cameraId }, "a newer frame could not take a waiting one's turn; the waiting one runs");
      return request;
    }
  }

  async function runOne(slot: Slot, job: Pending): Promise<void> {
    const { request } = job;
    const started = performance.now();
    const waitedMs = started - job.since;
    try {
      const found: DetectedObject[] = [];
      for (const region of request.regions) {
        found.push(...(await slot.detector.detect(request.frame, { region, minScore: request.minScore })));
        stats.inferences++;
      }
      const ms = performance.now() - started;
      slot.busy = false;
      stats.runs++;
      stats.busyMs += ms;
      setStatus({ ok: true, model: slot.detector.model });
      // Crops overlap: the same object seen twice is one object.
      job.resolve({ status: "done", objects: request.regions.length > 1 ? nms(found) : found, ms, waitedMs, priority: job.priority });
    } catch (error) {
      stats.failures++;
      retire(slot);
      const reason = `the detector failed while running (${(error as Error).message.split("\n")[0]?.slice(0, 160)})`;
      logger.warn({ err: error, workers: slots.length }, "a detector failed; it is replaced");
      if (closed) return job.resolve(STOPPING);
      if (job.failedOnce) {
        // The same frame failed on two detectors: the model, not a worker.
        fail(reason, "run");
        return job.resolve({ status: "unavailable", reason });
      }
      if (!status.ok) return job.resolve({ status: "unavailable", reason: status.reason ?? reason });
      const newer = waiting.get(request.cameraId);
      if (newer) {
        stats.superseded++;
        return job.resolve({ status: "superseded" });
      }
      // Once more, ahead of what arrived after it, on another detector or the one that replaces this.
      job.failedOnce = true;
      waiting.set(request.cameraId, job);
    }
  }

  await grow();

  return {
    inputSize: () => inputSize,
    status: () => ({ ...status }),
    stats: () => ({ ...stats, workers: slots.length }),
    detect(request) {
      if (closed) return Promise.resolve(STOPPING);
      if (!status.ok) {
        if (performance.now() < retryAt) return Promise.resolve({ status: "unavailable", reason: status.reason ?? "the detector is unavailable" });
        // Time to try again: reload when nothing is loaded; otherwise this request is the retry.
        retryAt = performance.now() + retryAfterMs;
        if (slots.length === 0) {
          startLoading();
          return Promise.resolve({ status: "unavailable", reason: status.reason ?? "the detector is unavailable" });
        }
      }
      return new Promise<DetectionOutcome>((resolve) => {
        const previous = waiting.get(request.cameraId);
        if (previous) {
          stats.superseded++;
          previous.resolve({ status: "superseded" });
        }
        // A replaced frame's place in line (and its wait so far) passes to the newer one.
        const since = previous?.since ?? performance.now();
        waiting.set(request.cameraId, { request, resolve, priority: request.priority ?? "routine", since, seq: previous?.seq ?? seq++, failedOnce: false });
        pump();
      });
    },
    free: () => status.ok && waiting.size === 0 && slots.some((slot) => !slot.busy),
    refresh(cameraId) {
      const job = waiting.get(cameraId);
      if (!job) return;
      job.request = renewed(job.request);
      job.priority = job.request.priority ?? "routine";
    },
    async close() {
      closed = true;
      for (const job of waiting.values()) job.resolve(STOPPING);
      waiting.clear();
      await Promise.all(running);
      await loading;
      await Promise.all(slots.splice(0).map((slot) => slot.detector.close()));
      await Promise.all(closing);
    },
  };
}
