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
import type { ModeInForce } from "../domain/modes.js";
import type { AlertEvent, BoxXYXY, CameraStatus, DetectedObject, PipelineEvent, VisitEvent } from "../domain/events.js";
import { streamKind, withCredentials } from "../domain/stream-url.js";
import { CameraConnectError } from "../errors.js";
import type { Logger } from "../log.js";
import { maskUrl } from "../redact.js";
import { createAgeHistogram } from "./age-histogram.js";
import { detectionRegions } from "./detect/crops.js";
import type { DetectionRequest, DetectionService } from "./detect/detection-service.js";
import type { DetectionPriority } from "./detect/schedule.js";
import { canAlert, inExitDelay, matchesClasses, MOTION_LABEL } from "./events/alert-rules.js";
import { checkOffline, frameArrived, INITIAL_AVAILABILITY } from "./events/availability.js";
import type { ConfirmationRule } from "./events/confirmation.js";
import { endVisits, INITIAL_VISIT_STATE, updateVisits, type Visit, type VisitState } from "./events/visits.js";
import { wholeFrame, type Frame, type Region } from "./frame.js";
import { createLookMemory } from "./motion/look-memory.js";
import { createMotionDetector } from "./motion/motion-detector.js";
import { INITIAL_MOTION_STATE, nextMotionState } from "./motion/motion-events.js";
import { annotateFrame, annotateJpeg } from "./snapshot/annotate.js";
import { createFrameSource, type FrameSourceOptions } from "./source/frame-source.js";
import type { H264Feeds } from "./source/h264-feed.js";
import { probeStream } from "./source/probe.js";
import { DEFAULT_TRACKER_OPTIONS, dueForLook, expectedBox, INITIAL_TRACKER_STATE, TRACK_MIN_SCORE, updateTracks, type TrackerOptions, type TrackerState } from "./track/tracker.js";

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
  /** Frames with motion only on stationary objects, so the detector was spared. */
  stationarySkips: number;
  alerts: number;
  visits: number;
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
  /** The mode in force and the exit delay: the camera alerts when the mode is one of its modes. */
  inForce: ModeInForce;
  detection: DetectionService;
  emit: (event: PipelineEvent) => void;
  logger: Logger;
  now: () => number;
  ffmpegPath: string;
  /** Vigil's own decoder for a fed stream (lean-decoder.ts); without it ffmpeg decodes. */
  decoder?: string;
  /** `replay`: the camera is a file read losslessly in video time; the worker ends with it. */
  mode: "live" | "replay";
  /** Replay only: pace at the clip's own rate. */
  realtime: boolean;
  confirmation: ConfirmationRule;
  /** Source tuning (timeouts, backoff), mostly for tests. */
  source?: Partial<Pick<FrameSourceOptions, "startTimeoutMs" | "stallTimeoutMs" | "backoff" | "graceMs">>;
  /** The camera feeds (the Pi camera's rpicam-vid), shared with the recorder. */
  feeds: H264Feeds;
}

export interface CameraWorker {
  /** Ends when the source ends (replay: end of file) or the worker is stopped; rejects when a replayed file cannot be read. */
  readonly done: Promise<void>;
  update(camera: Camera, inForce: ModeInForce): void;
  status(): CameraStatus;
  stats(): CameraStats;
  snapshot(): Promise<Snapshot>;
  stop(): Promise<void>;
}

/** Mostly inside `outer`: motion that a stationary object explains (a flag on a parked car, noise around it). */
function inside(box: BoxXYXY, outer: BoxXYXY): boolean {
  const w = Math.min(box[2], outer[2]) - Math.max(box[0], outer[0]);
  const h = Math.min(box[3], outer[3]) - Math.max(box[1], outer[1]);
  return w > 0 && h > 0 && w * h >= 0.8 * (box[2] - box[0]) * (box[3] - box[1]);
}

/** Confirmed objects stay on /snapshot pictures this long after they were last seen. */
const OBJECTS_SHOWN_MS = 3000;
/** A high-resolution still must arrive within this, or the detection frame is used. */
const STILL_TIMEOUT_MS = 4000;
/** /snapshot right after a start or /addcamera waits this long for the camera's first picture. */
const FIRST_FRAME_WAIT_MS = 10_000;

/**
 * The rate a camera is decoded at: twice its analysis rate, up to 15 fps. The
 * detector looks at the frames of its own rate, and at the frames in between
 * - while something that may alert has been seen and is not confirmed yet (a
 *   burst): then at every one, so that confirmation (two or three sightings)
 *   takes 100 ms per sighting at 5 fps instead of 200;
 * - outside a burst, at one the camera and a detector are free for (a glance)
 *   whose motion is where the detector has not looked lately: someone walking in
 *   is seen on the first frame he is in, not up to 100 ms later, and confirmed on
 *   the next.
 * The decoder decodes every frame of the stream anyway; what the frames in between
 * cost is their trip to Vigil (outside a burst, only one whose picture changed
 * comes: source/picture-change.ts) and their motion, and detector runs only on new
 * motion and during bursts. (A camera sending no faster than its analysis rate gains nothing.)
 * Live cameras only; a replay analyses the frames at the camera's rate.
 */
export function burstRate(fps: number): number {
  return Math.max(fps, Math.min(2 * fps, 15));
}

/** A look by the detector: the frame's time, the rank it waited at (schedule.ts), how long, and how many objects that alert it found. */
interface Look {
  at: number;
  priority: DetectionPriority;
  waitedMs: number;
  found: number;
}

/** Looks kept for {@link howFound}: at 10 fps during a burst, the second before a visitor is first seen and the looks that confirmed him. */
const TRAIL_LOOKS = 16;

/**
 * The looks from a second before a visit was first seen to the alert's frame, as
 * `[ms before the alert's frame, rank, ms waited in line, objects found]`: on a
 * busy detector, the log then tells a visitor found late because his frames
 * waited (at which rank) from one the detector looked at and missed.
 */
export function howFound(trail: readonly Look[], startedAt: number, alertAt: number): [number, DetectionPriority, number, number][] {
  return trail.filter((l) => l.at >= startedAt - 1000 && l.at <= alertAt).map((l) => [Math.round(l.at - alertAt), l.priority, Math.round(l.waitedMs), l.found]);
}

export function createCameraWorker(options: CameraWorkerOptions): CameraWorker {
  const { detection, emit, now, logger: parentLogger } = options;
  let camera = options.camera;
  let inForce = options.inForce;
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
    ...(options.decoder ? { decoder: options.decoder } : {}),
    logger,
    now,
    replay: options.mode === "replay",
    realtimeFile: options.mode === "replay" ? (options.realtime ? "once" : false) : streamKind(camera.url) === "file",
    feeds: options.feeds,
    // A frame that comes while this camera's look waits in line may move it up (new motion).
    onNewer: () => {
      if (inLine) detection.refresh(camera.id);
    },
    ...options.source,
  });
  const motionDetector = createMotionDetector({ width: settings.width, height: settings.height, sensitivity: settings.sensitivity, masks: settings.masks });
  /** Where the detector has looked at motion lately: motion elsewhere is new, and goes ahead of other cameras' routine frames. */
  const looks = createLookMemory(settings.width, settings.height);
  /** A look of this camera waits for a free detector. */
  let inLine = false;
  const startedAt = now();
  let availability = INITIAL_AVAILABILITY;
  let motionState = INITIAL_MOTION_STATE;
  let tracker: TrackerState = INITIAL_TRACKER_STATE;
  let visits: VisitState = INITIAL_VISIT_STATE;
  /** The camera could alert at the previous frame; when it starts to, what is already there is surveyed first. */
  let alerting = false;
  /**
   * Something new that may alert was seen in the previous frame and is not confirmed yet: the next
   * frames may confirm it, so they are analysed at the burst rate and go first at the shared detector.
   */
  let confirming = false;
  let surveyWanted = true;
  /** Visits that started in the exit delay: never alerted, so nothing is said of them while they last. */
  const unannounced = new Set<string>();
  let latest: Frame | undefined;
  /**
   * The latest frame went into an alert or a snapshot: its pixels may still be read after the frame
   * was handled, so they are never given back to the source for reuse. (The detector is done with a
   * frame when its answer comes, before the next frame is handled.)
   */
  let latestKept = false;
  /** The camera's last looks, for the alert's log line: how its visitor was found. */
  const trail: Look[] = [];
  let firstFrameArrived: () => void = () => undefined;
  const firstFrame = new Promise<void>((resolve) => (firstFrameArrived = resolve));
  let shown: { objects: DetectedObject[]; at: number } = { objects: [], at: 0 };
  let lastMotionAt = 0;
  let lastAlertAt = 0;
  let stopped = false;
  let alertChain: Promise<void> = Promise.resolve();
  const stats: Omit<CameraStats, "frameAges"> = { cameraId: camera.id, frames: 0, extraFrames: 0, framesDropped: 0, motionFrames: 0, detectorRuns: 0, stationarySkips: 0, alerts: 0, visits: 0, motionMs: 0, detectMs: 0, snapshotMs: 0, snapshots: 0, superseded: 0 };
  const ages = createAgeHistogram();

  const base = () => ({ cameraId: camera.id, cameraName: camera.name });
  const trackerOptions = (): TrackerOptions => ({ ...DEFAULT_TRACKER_OPTIONS, confirmation: options.confirmation, memoryMs: Math.max(1000, camera.settings.timeout * 1000) });

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

  /** Chained, so alerts and visit news leave in the order they were decided even when a still is slow. */
  function later(task: () => Promise<void> | void): void {
    alertChain = alertChain.then(task).catch((error: unknown) => logger.error({ err: error }, "could not build the alert snapshot"));
  }

  function queueAlert(frame: Frame, visit: Visit, opening: DetectedObject[], drawn: DetectedObject[]): void {
    stats.alerts++;
    stats.visits++;
    lastAlertAt = frame.at;
    const head = opening[0]!;
    const motionOnly = head.label === MOTION_LABEL;
    if (frame === latest) latestKept = true;
    const { mode } = inForce;
    const found = howFound(trail, visit.startedAt, frame.at);
    later(async () => {
      const snapshot = await annotated(frame, drawn, frame.at);
      const event: AlertEvent = { type: "alert", id: visit.id, ...base(), at: frame.at, startedAt: visit.startedAt, label: head.label, score: head.score, box: head.box, objects: drawn, frameWidth: frame.width, frameHeight: frame.height, snapshot, motionOnly, mode };
      // Live: how long after its frame reached Vigil the alert left the pipeline (detector, snapshot), and how long
      // before that frame the visitor was first seen (the looks that confirmed it); the benchmark reads them.
      const age = options.mode === "live" ? { frameAgeMs: Math.round(now() - frame.at), seenMs: Math.round(frame.at - visit.startedAt) } : {};
      logger.info({ label: head.label, score: Number(head.score.toFixed(2)), motionOnly, ...age, ...(options.mode === "live" ? { looks: found } : {}) }, "alert");
      emit(event);
    });
  }

  function queueVisit(visit: Visit, at: number, phase: VisitEvent["phase"], reason?: VisitEvent["reason"]): void {
    const event: VisitEvent = { type: "visit", phase, id: visit.id, ...base(), at, startedAt: visit.startedAt, lastSeenAt: visit.lastSeenAt, label: visit.label, counts: { ...visit.peak }, stationary: visit.stationary, motionOnly: visit.label === MOTION_LABEL, ...(reason ? { reason } : {}) };
    later(() => {
      if (phase === "end") logger.info({ label: visit.label, counts: visit.peak, seconds: Math.round((visit.lastSeenAt - visit.startedAt) / 1000), reason }, "visit ended");
      emit(event);
    });
  }

  /** Ends every visit (disarmed, muted, out of its modes, stopped) and forgets the tracks: what is there when alerting resumes is surveyed anew. */
  function forget(at: number, reason: "disarmed" | "stopped"): void {
    const { ended } = endVisits(visits);
    for (const visit of ended) if (!unannounced.has(visit.id)) queueVisit(visit, at, "end", reason);
    unannounced.clear();
    visits = INITIAL_VISIT_STATE;
    tracker = INITIAL_TRACKER_STATE;
  }

  /**
   * Where the detector looks: motion not explained by a stationary object, and the places of objects
   * due a look. `clearing`: one of them is a visit's moving object out of sight, so the look may end the visit.
   */
  function lookRegions(frame: Frame, motion: { motion: boolean; boxes: BoxXYXY[] }): { regions: Region[]; moving: BoxXYXY[]; skipped: boolean; clearing: boolean } {
    const boxes = motion.motion ? motion.boxes : [];
    const due = dueForLook(tracker, frame.at, trackerOptions(), (t) => boxes.some((b) => inside(b, t.box)));
    const still = tracker.tracks.filter((t) => t.stationary && !due.includes(t));
    const moving = boxes.filter((b) => !still.some((t) => inside(b, t.box)));
    const regions = detectionRegions([...moving, ...due.map((t) => expectedBox(t, frame.at))], frame, { inputSize: detection.inputSize() });
    const clearing = due.some((t) => !t.stationary && visits.visits.some((v) => v.trackIds.includes(t.id)));
    return { regions, moving, skipped: motion.motion && moving.length === 0, clearing };
  }

  /** How long after it reached Vigil a frame was decided. Replayed frames carry video time, not arrival time: their age means nothing. */
  function recordAge(frame: Frame): void {
    if (options.mode === "live") ages.record(now() - frame.at);
  }

  /**
   * What a frame needs once it has arrived and motion has run on it: nothing more (undefined: the
   * camera cannot alert now), or a decision, after a look by the detector where `regions` has any.
   */
  interface Plan {
    regions: Region[];
    motionBoxes: BoxXYXY[];
    /** The motion the look is for: all of it, less what a stationary object explains. */
    moving: BoxXYXY[];
    survey: boolean;
    clearing: boolean;
    /** Its motion is where the detector has not looked lately. */
    novel: boolean;
  }

  /** `previousDone`: the previous frame is decided (or never will be), so its buffer may be reused. */
  function admit(frame: Frame, previousDone = true): Plan | undefined {
    const previousAt = latest?.at ?? 0;
    // A frame that went into no alert or snapshot is done with: its buffer takes a coming frame.
    if (latest && !latestKept && previousDone) source.recycle(latest.data);
    latest = frame;
    latestKept = false;
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

    // Not in one of its modes, disarmed or muted: motion still runs (for the recorder and snapshots); the detector does not.
    if (!canAlert(camera, inForce, frame.at)) {
      if (alerting) forget(frame.at, "disarmed");
      alerting = false;
      confirming = false;
      source.burst(false);
      recordAge(frame);
      return undefined;
    }
    if (!alerting) {
      alerting = true;
      surveyWanted = true;
    }
    const motionBoxes = motion.motion ? motion.boxes : [];
    // Right after a start, an arm or a (re)calibration the scene is unknown: someone may already be standing there.
    const survey = surveyWanted || motion.calibrating;
    if (survey) return { regions: [wholeFrame(frame)], motionBoxes, moving: motionBoxes, survey, clearing: false, novel: false };
    const look = lookRegions(frame, motion);
    if (look.skipped && look.regions.length === 0) stats.stationarySkips++;
    return { regions: look.regions, motionBoxes, moving: look.moving, survey, clearing: look.clearing, novel: looks.isNew(look.moving, frame.at) };
  }

  /**
   * One frame from arrival to decision. While its look waits for a free detector (other cameras' frames
   * go first), newer frames keep coming: when its turn comes, the newest takes it (`renew`), so a busy
   * detector pool looks at what is there now. A newer frame that needs no look is decided after it.
   */
  async function handleFrame(arrived: Frame): Promise<void> {
    let frame = arrived;
    let plan = admit(frame);
    if (!plan) return;
    // A frame in between outside a burst is a glance (burstRate): it has a look only for motion where the detector has not
    // looked lately, and only from a free detector, never in the place of another camera's frame.
    if (frame.extra && !confirming && !(plan.novel && detection.free())) return;
    let after: { frame: Frame; plan: Plan } | undefined;
    let objects: DetectedObject[] = [];
    if (plan.regions.length > 0) {
      const minScore = Math.min(camera.settings.score, TRACK_MIN_SCORE);
      // A frame that may confirm or end a visit goes ahead of other cameras' routine frames, and so, after those, does new motion.
      const request = (f: Frame, p: Plan): DetectionRequest => ({ cameraId: camera.id, frame: f, regions: p.regions, minScore, priority: confirming || p.clearing ? "confirm" : p.novel ? "new" : "routine", renew });
      const renew = (): DetectionRequest | undefined => {
        // Frames are decided in order: once a newer one waits to be decided after this, this one runs.
        if (after) return undefined;
        const newer = source.newer();
        if (!newer) return undefined;
        // The waiting frame still runs unless the newer one takes its turn: its buffer is not given back yet.
        const [waiting, kept] = [frame, latestKept];
        const newerPlan = admit(newer, false);
        if (!newerPlan) return undefined;
        if (newerPlan.regions.length === 0) {
          after = { frame: newer, plan: newerPlan };
          return undefined;
        }
        if (!kept) source.recycle(waiting.data);
        [frame, plan] = [newer, newerPlan];
        return request(frame, plan);
      };
      const t1 = performance.now();
      inLine = true;
      const outcome = await detection.detect(request(frame, plan)).finally(() => (inLine = false));
      stats.detectMs += performance.now() - t1;
      if (outcome.status === "superseded") {
        stats.superseded++;
        return;
      }
      // A newer frame found the camera out of its modes, disarmed or muted while this one waited: nothing of this look counts.
      if (!alerting) return;
      if (outcome.status === "unavailable") {
        // Motion alone: all of it is one "object", and a visit lasts while there is motion.
        const union = plan.motionBoxes.reduce<BoxXYXY | undefined>((u, b) => (u ? [Math.min(u[0], b[0]), Math.min(u[1], b[1]), Math.max(u[2], b[2]), Math.max(u[3], b[3])] : b), undefined);
        objects = union ? [{ label: MOTION_LABEL, score: 1, box: union }] : [];
      } else {
        stats.detectorRuns++;
        looks.looked(plan.moving, frame.at);
        objects = outcome.objects.filter((o) => matchesClasses(o.label, camera.settings.classes));
        trail.push({ at: frame.at, priority: outcome.priority, waitedMs: outcome.waitedMs, found: objects.filter((o) => o.score >= camera.settings.score).length });
        if (trail.length > TRAIL_LOOKS) trail.shift();
      }
      surveyWanted = false;
    }
    decide(frame, plan, objects);
    if (after) decide(after.frame, after.plan, []);
  }

  /** Tracks, visits and alerts after the frame's look (`objects`: what the detector found in `plan.regions`). */
  function decide(frame: Frame, plan: Plan, objects: DetectedObject[]): void {
    recordAge(frame);
    if (plan.regions.length === 0 && tracker.tracks.length === 0 && visits.visits.length === 0) {
      confirming = false;
      source.burst(false);
      return;
    }
    const { settings: s } = camera;
    const tracked = updateTracks(tracker, { at: frame.at, frame, objects, looked: plan.regions, survey: plan.survey, minScore: s.score }, trackerOptions());
    tracker = tracked.state;
    const decision = updateVisits(visits, { at: frame.at, frame, tracks: tracker.tracks, gone: tracked.gone, rules: s, newId: randomUUID });
    visits = decision.state;
    // Something new that may alert was seen and is not confirmed yet: analyse the frames in between too, until it is confirmed or gone.
    confirming = tracker.tracks.some((t) => !t.confirmed && t.lastSeenAt === frame.at && !t.preexisting && t.looks.at(-1)?.score != null);
    source.burst(confirming);
    const confirmed = tracker.tracks.filter((t) => t.confirmed && t.lastSeenAt === frame.at).map((t) => ({ label: t.label, score: t.score, box: t.box }));
    if (confirmed.length > 0) shown = { objects: confirmed, at: frame.at };
    // In the exit delay (someone armed on the way out), visits that start are followed but never alerted, to their end.
    const leaving = inExitDelay(inForce, frame.at);
    for (const { visit, objects: opening } of decision.started) {
      if (leaving) {
        unannounced.add(visit.id);
        logger.info({ label: visit.label }, "a visit started in the exit delay: not alerted");
      } else queueAlert(frame, visit, opening, confirmed);
    }
    for (const visit of decision.updated) if (!unannounced.has(visit.id)) queueVisit(visit, frame.at, "update");
    for (const visit of decision.ended) if (!unannounced.delete(visit.id)) queueVisit(visit, frame.at, "end", "left");
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
          await handleFrame(frame);
        } catch (error) {
          // One bad frame must not end a camera.
          logger.error({ err: error }, "frame handling failed");
        }
      }
    } finally {
      clearInterval(timer);
      forget(latest?.at ?? now(), "stopped");
      await alertChain;
      stopped = true;
    }
  }

  const done = run();
  // Observed here so a replay failure is never an unhandled rejection; callers read it from `done`.
  done.catch((error: unknown) => logger.debug({ err: error }, "camera worker ended with an error"));

  return {
    done,
    update(next, nextInForce) {
      camera = next;
      inForce = nextInForce;
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
        visits: stats.visits,
      };
    },
    stats() {
      stats.framesDropped = source.status().framesDropped;
      return { ...stats, frameAges: ages.counts() };
    },
    async snapshot() {
      if (!latest) await waitForFirstFrame();
      const frame = latest;
      latestKept = true;
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
