/**
 * One camera, end to end: frames → motion → (on motion) detection through the
 * shared detector → alert decision → annotated snapshot → event. The worker owns
 * its frame source (and so its ffmpeg child) and its timers, and releases them
 * in `finally`. Settings, arm and mute state change in place; a changed stream
 * (URL, credentials, size, rate) is a new worker, started by the pipeline.
 */
import { randomUUID } from "node:crypto";
import type { Camera } from "../domain/camera.js";
import type { Snapshot } from "../domain/control.js";
import type { AlertEvent, CameraStatus, DetectedObject, PipelineEvent } from "../domain/events.js";
import { streamKind, withCredentials } from "../domain/stream-url.js";
import { CameraConnectError } from "../errors.js";
import type { Logger } from "../log.js";
import { maskUrl } from "../redact.js";
import { createAgeHistogram } from "./age-histogram.js";
import { detectionRegions } from "./detect/crops.js";
import type { DetectionService } from "./detect/detection-service.js";
import { canAlert, decideAlerts, INITIAL_ALERT_STATE, type AlertState } from "./events/alert-decision.js";
import { MOTION_LABEL } from "./events/alert-rules.js";
import { checkOffline, frameArrived, INITIAL_AVAILABILITY } from "./events/availability.js";
import type { ConfirmationRule } from "./events/confirmation.js";
import { wholeFrame, type Frame } from "./frame.js";
import { createMotionDetector } from "./motion/motion-detector.js";
import { INITIAL_MOTION_STATE, nextMotionState } from "./motion/motion-events.js";
import { annotateFrame, annotateJpeg } from "./snapshot/annotate.js";
import { createFrameSource, type FrameSourceOptions } from "./source/frame-source.js";
import { probeStream } from "./source/probe.js";

/** Counters and stage timings of one camera (replay's summary, the benchmark). */
export interface CameraStats {
  cameraId: string;
  /** Frames analysed at the camera's rate. */
  frames: number;
  /** Frames in between, analysed while something was being confirmed (see {@link burstRate}). */
  extraFrames: number;
  framesDropped: number;
  motionFrames: number;
  detectorRuns: number;
  alerts: number;
  /** Total milliseconds spent in motion detection. */
  motionMs: number;
  /** Total milliseconds from asking the shared detector to its answer (includes waiting for other cameras). */
  detectMs: number;
  /** Total milliseconds building annotated snapshots, and how many. */
  snapshotMs: number;
  snapshots: number;
  /** Frames whose detection was replaced by a newer frame of the camera while they waited for the shared detector. */
  superseded: number;
  /** Live cameras: how old frames were when their decision was made, per bucket of AGE_BUCKETS_MS (age-histogram.ts). */
  frameAges: number[];
}

export interface CameraWorkerOptions {
  camera: Camera;
  systemArmed: boolean;
  detection: DetectionService;
  emit: (event: PipelineEvent) => void;
  logger: Logger;
  now: () => number;
  ffmpegPath: string;
  /** `replay`: the camera is a file read losslessly in video time; the worker ends with it. */
  mode: "live" | "replay";
  /** Replay only: pace at the clip's own rate. */
  realtime: boolean;
  confirmation: ConfirmationRule;
  /** Source tuning (timeouts, backoff), mostly for tests. */
  source?: Partial<Pick<FrameSourceOptions, "startTimeoutMs" | "stallTimeoutMs" | "backoff" | "graceMs">>;
}

export interface CameraWorker {
  /** Ends when the source ends (replay: end of file) or the worker is stopped; rejects when a replayed file cannot be read. */
  readonly done: Promise<void>;
  update(camera: Camera, systemArmed: boolean): void;
  status(): CameraStatus;
  stats(): CameraStats;
  snapshot(): Promise<Snapshot>;
  stop(): Promise<void>;
}

/** Confirmed objects stay on /snapshot pictures this long after they were last seen. */
const OBJECTS_SHOWN_MS = 3000;
/** A high-resolution still must arrive within this, or the detection frame is used. */
const STILL_TIMEOUT_MS = 4000;
/** /snapshot right after a start or /addcamera waits this long for the camera's first picture. */
const FIRST_FRAME_WAIT_MS = 10_000;

/**
 * The rate a camera is decoded at: twice its analysis rate, up to 15 fps. Only
 * the frames at its own rate are analysed, except while something that may
 * alert has been seen and is not confirmed yet: then every decoded frame is, so
 * that confirmation (two or three sightings) takes 100 ms per sighting at 5 fps
 * instead of 200. ffmpeg decodes every frame of the stream anyway; what the extra
 * frames cost is their trip through the pipe, and detector runs only during those
 * bursts. (A camera sending no faster than its analysis rate gains nothing.)
 * Live cameras only; a replay analyses the frames at the camera's rate.
 */
export function burstRate(fps: number): number {
  return Math.max(fps, Math.min(2 * fps, 15));
}

export function createCameraWorker(options: CameraWorkerOptions): CameraWorker {
  const { detection, emit, now, logger: parentLogger } = options;
  let camera = options.camera;
  let systemArmed = options.systemArmed;
  const logger = parentLogger.child({ camera: camera.name });
  const controller = new AbortController();
  const { settings } = camera;
  const url = withCredentials(camera.url, camera.username, camera.password);
  const source = createFrameSource({
    camera: camera.name,
    url,
    width: settings.width,
    height: settings.height,
    fps: settings.fps,
    // Replay analyses exactly the frames at the camera's rate: decoding a file at another rate picks
    // slightly different frames (measured: enough to flip the parking lot's exposure recalibration).
    burstFps: options.mode === "live" ? burstRate(settings.fps) : settings.fps,
    transport: settings.transport,
    ffmpegPath: options.ffmpegPath,
    logger,
    now,
    replay: options.mode === "replay",
    realtimeFile: options.mode === "replay" ? (options.realtime ? "once" : false) : streamKind(camera.url) === "file",
    ...options.source,
  });
  const motionDetector = createMotionDetector({ width: settings.width, height: settings.height, sensitivity: settings.sensitivity, masks: settings.masks });
  const startedAt = now();
  let availability = INITIAL_AVAILABILITY;
  let motionState = INITIAL_MOTION_STATE;
  let alertState: AlertState = INITIAL_ALERT_STATE;
  let latest: Frame | undefined;
  let firstFrameArrived: () => void = () => undefined;
  const firstFrame = new Promise<void>((resolve) => (firstFrameArrived = resolve));
  let shown: { objects: DetectedObject[]; at: number } = { objects: [], at: 0 };
  let lastMotionAt = 0;
  let lastAlertAt = 0;
  let stopped = false;
  let alertChain: Promise<void> = Promise.resolve();
  const stats: Omit<CameraStats, "frameAges"> = { cameraId: camera.id, frames: 0, extraFrames: 0, framesDropped: 0, motionFrames: 0, detectorRuns: 0, alerts: 0, motionMs: 0, detectMs: 0, snapshotMs: 0, snapshots: 0, superseded: 0 };
  const ages = createAgeHistogram();

  const base = () => ({ cameraId: camera.id, cameraName: camera.name });

  /** Annotated JPEG: the camera's high-resolution still when it has one and it answers, else the detection frame. */
  async function annotated(frame: Frame, objects: readonly DetectedObject[], at: number): Promise<Buffer> {
    const started = performance.now();
    try {
      const annotation = { cameraName: camera.name, at, objects, boxSpace: { width: frame.width, height: frame.height } };
      if (camera.snapshotUrl) {
        try {
          const still = await probeStream(withCredentials(camera.snapshotUrl, camera.username, camera.password), { camera: camera.name, ffmpegPath: options.ffmpegPath, timeoutMs: STILL_TIMEOUT_MS, transport: camera.settings.transport });
          return await annotateJpeg(still.jpeg, annotation);
        } catch (error) {
          logger.warn({ err: error, url: maskUrl(camera.snapshotUrl) }, "high-resolution still failed; using the detection frame");
        }
      }
      return await annotateFrame(frame, annotation);
    } finally {
      stats.snapshotMs += performance.now() - started;
      stats.snapshots++;
    }
  }

  function queueAlert(frame: Frame, object: DetectedObject, confirmed: DetectedObject[], motionOnly: boolean, motionStartedAt: number): void {
    stats.alerts++;
    lastAlertAt = frame.at;
    // Chained, so alerts leave in the order they were decided even when a still is slow.
    alertChain = alertChain.then(async () => {
      try {
        const snapshot = await annotated(frame, confirmed, frame.at);
        const event: AlertEvent = { type: "alert", id: randomUUID(), ...base(), at: frame.at, motionStartedAt, label: object.label, score: object.score, box: object.box, objects: confirmed, frameWidth: frame.width, frameHeight: frame.height, snapshot, motionOnly };
        // Live: how long after its frame reached Vigil the alert left the pipeline (detector, snapshot); the benchmark reads it.
        const age = options.mode === "live" ? { frameAgeMs: Math.round(now() - frame.at) } : {};
        logger.info({ label: object.label, score: Number(object.score.toFixed(2)), motionOnly, ...age }, "alert");
        emit(event);
      } catch (error) {
        logger.error({ err: error }, "could not build the alert snapshot");
      }
    });
  }

  /** Returns false when the frame was left undecided: a newer frame of this camera took its place at the detector. */
  async function handleFrame(frame: Frame): Promise<boolean> {
    const previousAt = latest?.at ?? 0;
    latest = frame;
    firstFrameArrived();
    if (frame.extra) stats.extraFrames++;
    else stats.frames++;
    const back = frameArrived(availability, frame.at, previousAt, startedAt);
    availability = back.state;
    if (back.online) emit({ type: "camera-online", ...base(), at: frame.at, downtimeMs: back.online.downtimeMs });

    const t0 = performance.now();
    const motion = motionDetector.detect(frame);
    stats.motionMs += performance.now() - t0;
    if (motion.motion) {
      stats.motionFrames++;
      lastMotionAt = frame.at;
    }
    const next = nextMotionState(motionState, motion.motion, frame.at);
    motionState = next.state;
    if (next.change) emit({ type: "motion", ...base(), at: frame.at, state: next.change });

    const { settings: s } = camera;
    const armed = systemArmed && camera.armed;
    // Disarmed or muted: motion still runs (for the recorder and snapshots); the detector does not.
    if (!canAlert(armed, camera.mutedUntil, frame.at) || (!motion.motion && !motion.calibrating)) {
      source.burst(false);
      return true;
    }

    // Right after (re)calibration the scene is unknown: someone may already be standing there.
    const regions = motion.calibrating ? [wholeFrame(frame)] : detectionRegions(motion.boxes, frame, { inputSize: detection.inputSize() });
    const t1 = performance.now();
    const outcome = await detection.detect({ cameraId: camera.id, frame, regions, minScore: s.score });
    stats.detectMs += performance.now() - t1;
    let objects: DetectedObject[];
    const motionOnly = outcome.status === "unavailable";
    if (outcome.status === "superseded") {
      stats.superseded++;
      return false;
    }
    if (outcome.status === "unavailable") {
      if (!motion.motion) return true;
      objects = motion.boxes.map((box) => ({ label: MOTION_LABEL, score: 1, box }));
    } else {
      stats.detectorRuns++;
      objects = outcome.objects;
    }
    const decision = decideAlerts(alertState, { objects, at: frame.at, frame, settings: s, armed, mutedUntil: camera.mutedUntil }, options.confirmation);
    alertState = decision.state;
    // Something to confirm: analyse the frames in between too, until it is confirmed or gone.
    source.burst(decision.pending);
    if (decision.confirmed.length > 0) shown = { objects: decision.confirmed, at: frame.at };
    for (const object of decision.alerts) queueAlert(frame, object, decision.confirmed, motionOnly, motionState.active ? motionState.startedAt : frame.at);
    return true;
  }

  async function waitForFirstFrame(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([firstFrame, done.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_FRAME_WAIT_MS)))]);
    clearTimeout(timer);
  }

  function tick(): void {
    const status = source.status();
    const offline = checkOffline(availability, now(), status.lastFrameAt, startedAt, camera.settings.offlineAfter * 1000);
    availability = offline.state;
    if (offline.offline) {
      const silentS = Math.round((now() - (status.lastFrameAt || startedAt)) / 1000);
      const reason = status.lastError ?? `no picture for ${silentS} s`;
      logger.warn({ reason }, "camera offline");
      emit({ type: "camera-offline", ...base(), at: now(), lastFrameAt: offline.offline.lastFrameAt, reason });
    }
  }

  async function run(): Promise<void> {
    const timer = options.mode === "live" ? setInterval(tick, 1000) : undefined;
    timer?.unref();
    try {
      for await (const frame of source.frames(controller.signal)) {
        try {
          // Replayed frames carry video time, not arrival time: their age means nothing.
          if ((await handleFrame(frame)) && options.mode === "live") ages.record(now() - frame.at);
        } catch (error) {
          // One bad frame must not end a camera.
          logger.error({ err: error }, "frame handling failed");
        }
      }
    } finally {
      clearInterval(timer);
      await alertChain;
      stopped = true;
    }
  }

  const done = run();
  // Observed here so a replay failure is never an unhandled rejection; callers read it from `done`.
  done.catch((error: unknown) => logger.debug({ err: error }, "camera worker ended with an error"));

  return {
    done,
    update(next, armed) {
      camera = next;
      systemArmed = armed;
      motionDetector.configure({ sensitivity: next.settings.sensitivity, masks: next.settings.masks });
    },
    status() {
      const s = source.status();
      stats.framesDropped = s.framesDropped;
      return {
        ...base(),
        state: stopped ? "stopped" : availability.offline ? "offline" : s.framesIn === 0 ? "starting" : "online",
        fps: s.fps,
        framesIn: s.framesIn,
        framesDropped: s.framesDropped,
        lastFrameAt: s.lastFrameAt,
        lastMotionAt,
        lastAlertAt,
        ...(s.lastError ? { lastError: s.lastError } : {}),
        restarts: s.restarts,
        motionFrames: stats.motionFrames,
        detectorRuns: stats.detectorRuns,
      };
    },
    stats() {
      stats.framesDropped = source.status().framesDropped;
      return { ...stats, frameAges: ages.counts() };
    },
    async snapshot() {
      if (!latest) await waitForFirstFrame();
      const frame = latest;
      if (!frame) {
        const { lastError } = source.status();
        throw new CameraConnectError(`${camera.name} has not sent a picture yet${lastError ? `: ${lastError}` : ""}.`, camera.name, maskUrl(camera.url), "unknown");
      }
      const objects = frame.at - shown.at <= OBJECTS_SHOWN_MS ? shown.objects : [];
      const at = options.mode === "live" ? now() : frame.at;
      return { ...base(), jpeg: await annotated(frame, objects, at), at };
    },
    async stop() {
      controller.abort();
      await done.catch(() => undefined);
    },
  };
}
