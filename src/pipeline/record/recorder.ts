/**
 * The recorder: the one owner of every camera's ring buffer (ffmpeg children),
 * of event clips, of the event history's writes and of retention. It listens to
 * pipeline events, keeps each visit (the alert's snapshot and entry, encrypted;
 * its end and counts when it ends), joins its clip from the ring buffer when the
 * visit is over (or at `maxClip`), stores it and announces it with a
 * `clip-ready` event.
 *
 * A full disk does not stop alerts: the pipeline and the bot never wait for the
 * recorder, a snapshot that cannot be written is kept in memory and written when
 * space returns, a clip that cannot be written is dropped, and the status says
 * why recording is paused until a write succeeds again.
 */
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { DEFAULT_SETTINGS, type Camera, type CameraSettings } from "../../domain/camera.js";
import type { AlertEvent, ClipReadyEvent, PipelineEvent, VisitEvent } from "../../domain/events.js";
import type { EventsPicture, RecorderHandle, RecorderStatus, VideoClip } from "../../domain/recorder.js";
import { withCredentials } from "../../domain/stream-url.js";
import { InputError } from "../../errors.js";
import { silentLogger, type Logger } from "../../log.js";
import { maskUrl } from "../../redact.js";
import { toStoredEvent, type EventHistory } from "../../store/event-history.js";
import { createRetention, DiskFullError, type Retention, type RetentionOptions } from "../../store/retention.js";
import { hourlyActivity, renderEventsSheet } from "../../report/events-sheet.js";
import type { BackoffOptions } from "../source/backoff.js";
import { createH264Feeds, type H264Feeds } from "../source/h264-feed.js";
import { feedProducers } from "../source/feed-producers.js";
import { assembleClip, BOT_UPLOAD_LIMIT } from "./assemble.js";
import { createCameraBuffer, type CameraBuffer } from "./camera-buffer.js";
import { ClipPlanner, type ClipPlan } from "./clip-plan.js";
import { createScratchDir, describeScratch } from "./scratch.js";

export interface RecorderOptions {
  history: EventHistory;
  /** Retention settings; the recorder runs it and stops it. */
  retention: Omit<RetentionOptions, "history" | "logger" | "now">;
  /** Default `ffmpeg` and `ffprobe` on PATH. */
  ffmpegPath?: string;
  ffprobePath?: string;
  logger?: Logger;
  /**
   * Where clips are joined (the MP4 is in clear there for a moment): a RAM
   * folder. Default: one is created under /dev/shm (or /run/user/<uid>);
   * `null`: none, clips are made as fragmented MP4 on a pipe.
   */
  scratchDir?: string | null;
  /** Clips larger than this are transcoded down. Default 50 MB, Telegram's limit for bots. */
  uploadLimitBytes?: number;
  /** Most bytes of video kept in memory per camera. Default 64 MiB. */
  maxBufferBytes?: number;
  /** Restart a camera's ffmpeg when no video arrived for this long. Default 10 s. */
  stallTimeoutMs?: number;
  /** Waits between ffmpeg restarts. Default doubling from 0.5 s to 30 s. */
  backoff?: BackoffOptions;
  /** How long past a clip's end to wait for its video before making it with what there is. Default 5 s. */
  lateVideoMs?: number;
  /** IANA time zone for the /events picture. Default: the system's. */
  timeZone?: string;
  now?: () => number;
  /**
   * The camera feeds: the Pi camera's one rpicam-vid, an RTSP camera's one
   * session, which detection reads too, so give both the same registry
   * (src/main.ts does). Default: one of the recorder's own, finding rpicam-vid
   * on PATH, stopped with the recorder.
   */
  feeds?: H264Feeds;
}

/** Seconds kept beyond what the settings need: pipeline latency and one keyframe interval. */
const SLACK_MS = 4000;
const TICK_MS = 250;
const RETRY_MS = 10_000;
/** Snapshots waiting for disk space, at most. */
const PENDING_MAX = 500;
export const CLIP_DEFAULT_SECONDS = 10;
export const CLIP_MAX_SECONDS = 60;
export const EVENTS_DEFAULT = 9;
export const EVENTS_MAX = 16;

interface CameraEntry {
  camera: Camera;
  buffer: CameraBuffer | undefined;
  /** Hash of what the buffer reads (URL with credentials, transport): a change restarts it. */
  key: string;
}

function noSpace(error: unknown): boolean {
  if (error instanceof DiskFullError) return true;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

export function createRecorder(options: RecorderOptions): RecorderHandle {
  const { history } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const ffmpegPath = options.ffmpegPath ?? "ffmpeg";
  const ffprobePath = options.ffprobePath ?? "ffprobe";
  const lateMs = options.lateVideoMs ?? 5000;
  const retention: Retention = createRetention({ ...options.retention, history, logger, now });
  const planner = new ClipPlanner();
  const cameras = new Map<string, CameraEntry>();
  const listeners = new Set<(event: ClipReadyEvent) => void>();
  /** Each alert's history write, so its clip is attached only after the entry exists. */
  const recorded = new Map<string, Promise<void>>();
  const pending: AlertEvent[] = [];
  /** Ends of visits whose alert is among `pending`. */
  const endsWaiting = new Map<string, VisitEvent>();
  const inFlight = new Set<Promise<unknown>>();
  const finishing = new Set<ClipPlan>();
  /** Ring-buffer pins for on-demand clips: id → wall ms to keep from. */
  const pins = new Map<number, { cameraId: string; from: number }>();
  let pinId = 0;
  let stopped = false;
  let lastRetry = 0;
  const feeds = options.feeds ?? createH264Feeds({ producer: feedProducers({ logger }), logger });

  const scratch: Promise<string | undefined> = options.scratchDir !== undefined ? Promise.resolve(options.scratchDir ?? undefined) : createScratchDir();
  void scratch.then((dir) => logger.info(describeScratch(dir)));

  const track = <T>(promise: Promise<T>): Promise<T> => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise)).catch(() => undefined);
    return promise;
  };

  const settingsOf = (cameraId: string): CameraSettings => cameras.get(cameraId)?.camera.settings ?? DEFAULT_SETTINGS;

  function emit(event: ClipReadyEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.error({ err: error }, "a clip-ready listener failed");
      }
    }
  }

  function paused(error: unknown): void {
    retention.setPaused(error instanceof DiskFullError ? error.message : "The data disk is full; recording resumes when space is freed.");
  }

  // --- Alerts into the history --------------------------------------------

  async function store(alert: AlertEvent): Promise<void> {
    await retention.ensureRoom(alert.snapshot.length + 64 * 1024, [alert.id]);
    await history.record(alert);
    const end = endsWaiting.get(alert.id);
    if (end) {
      endsWaiting.delete(alert.id);
      await history.endVisit(alert.id, { endedAt: end.lastSeenAt, counts: end.counts });
    }
    retention.setPaused(undefined);
    void track(retention.refresh());
  }

  function recordAlert(alert: AlertEvent): void {
    const write = track(
      store(alert).catch((error: unknown) => {
        if (noSpace(error)) {
          paused(error);
          // Kept in memory and written when space returns, so the history does not lose it.
          if (pending.length < PENDING_MAX) pending.push(alert);
          else logger.error({ alert: alert.id }, "disk full and too many alerts waiting; this alert is not kept in the history");
        } else logger.error({ err: error, alert: alert.id }, "could not store the alert in the event history");
      }),
    );
    recorded.set(alert.id, write);
  }

  /** A visit ended: its entry gets its end and its counts, once the entry is written. */
  function recordEnd(visit: VisitEvent): void {
    const written = recorded.get(visit.id) ?? Promise.resolve();
    void track(
      written
        .then(() => {
          if (history.get(visit.id)) return history.endVisit(visit.id, { endedAt: visit.lastSeenAt, counts: visit.counts });
          // Still waiting for disk space with its alert: stored with it.
          if (pending.some((a) => a.id === visit.id)) endsWaiting.set(visit.id, visit);
        })
        .catch((error: unknown) => logger.warn({ err: error, alert: visit.id }, "could not store the end of a visit in the event history")),
    );
  }

  async function retryPending(): Promise<void> {
    while (pending.length && !stopped) {
      try {
        await store(pending[0]!);
        pending.shift();
      } catch (error) {
        if (!noSpace(error)) {
          logger.error({ err: error }, "could not store a waiting alert; dropping it");
          pending.shift();
          continue;
        }
        paused(error);
        return;
      }
    }
  }

  // --- Clips ----------------------------------------------------------------

  async function finishClip(plan: ClipPlan, end: number): Promise<void> {
    const entry = cameras.get(plan.cameraId);
    const name = entry?.camera.name ?? plan.cameraId;
    const selection = entry?.buffer?.ring.select(plan.start, end, plan.anchor);
    if (!selection || selection.durationMs < 500) {
      logger.warn({ camera: name, alerts: plan.alertIds }, "no video buffered for this event; it has no clip");
      return;
    }
    const clip = await assembleClip(selection, { ffmpegPath, ffprobePath, scratchDir: await scratch, uploadLimitBytes: options.uploadLimitBytes ?? BOT_UPLOAD_LIMIT });
    await Promise.all(plan.alertIds.map((id) => recorded.get(id) ?? Promise.resolve()));
    const ids = plan.alertIds.filter((id) => history.get(id));
    if (ids.length === 0) {
      logger.warn({ camera: name }, "the alert is not in the history (disk full); its clip is dropped");
      return;
    }
    try {
      await retention.ensureRoom(clip.bytes, ids);
      const { blob, bytes } = await history.attachClip(ids, clip.mp4, { durationSeconds: clip.durationSeconds, width: clip.width, height: clip.height });
      retention.setPaused(undefined);
      void track(retention.refresh());
      logger.info({ camera: name, seconds: clip.durationSeconds, bytes, startsBefore: Math.round(plan.anchor - selection.startWall) }, "clip stored");
      for (const id of ids) emit({ type: "clip-ready", alertId: id, cameraId: plan.cameraId, cameraName: name, blob, durationSeconds: clip.durationSeconds, bytes });
    } catch (error) {
      if (!noSpace(error)) throw error;
      paused(error);
      logger.warn({ camera: name, reason: (error as Error).message }, "disk full: clip not kept");
    }
  }

  function startFinishing(plan: ClipPlan, end: number): void {
    finishing.add(plan);
    void track(
      finishClip(plan, end)
        .catch((error: unknown) => logger.error({ err: error, alerts: plan.alertIds }, "could not make the clip"))
        .finally(() => {
          finishing.delete(plan);
          planner.finish(plan);
          for (const id of plan.alertIds) recorded.delete(id);
        }),
    );
  }

  function horizonMs(settings: CameraSettings): number {
    return Math.max(settings.preRoll, settings.maxClip - settings.postRoll) * 1000 + SLACK_MS;
  }

  function tick(): void {
    const t = now();
    for (const { plan, end } of planner.due(t)) {
      if (finishing.has(plan)) continue;
      const newest = cameras.get(plan.cameraId)?.buffer?.ring.newestWall();
      if ((newest !== undefined && newest >= end) || t >= end + lateMs) startFinishing(plan, end);
    }
    for (const [cameraId, entry] of cameras) {
      let keep = t - horizonMs(entry.camera.settings);
      const open = planner.keepFrom(cameraId);
      if (open !== undefined) keep = Math.min(keep, open - SLACK_MS);
      for (const pin of pins.values()) if (pin.cameraId === cameraId) keep = Math.min(keep, pin.from);
      entry.buffer?.trim(keep);
    }
    if (pending.length && t - lastRetry >= RETRY_MS) {
      lastRetry = t;
      void track(retryPending());
    }
  }
  const timer = setInterval(tick, TICK_MS);

  function waitFor(condition: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (signal?.aborted) return reject(new InputError("The clip was cancelled."));
        if (condition() || stopped) return resolve();
        setTimeout(check, TICK_MS);
      };
      check();
    });
  }

  // --- The handle -----------------------------------------------------------

  const handle: RecorderHandle = {
    reconcile(list) {
      const seen = new Set<string>();
      for (const camera of list) {
        seen.add(camera.id);
        let url: string;
        try {
          url = withCredentials(camera.recordUrl ?? camera.url, camera.username, camera.password);
        } catch (error) {
          logger.error({ camera: camera.name, err: error }, "recording: the stream URL is not usable");
          continue;
        }
        const key = createHash("sha256").update(`${url}\u0000${camera.settings.transport}`).digest("hex");
        const existing = cameras.get(camera.id);
        if (existing && existing.key === key) {
          existing.camera = camera;
          continue;
        }
        if (existing?.buffer) void track(existing.buffer.stop());
        const buffer = stopped
          ? undefined
          : createCameraBuffer({
              cameraId: camera.id,
              cameraName: camera.name,
              url,
              secrets: camera.password ? [camera.password] : [],
              transport: camera.settings.transport,
              ffmpegPath,
              logger,
              maxBytes: options.maxBufferBytes ?? 64 * 1024 * 1024,
              ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
              ...(options.backoff ? { backoff: options.backoff } : {}),
              now,
              feeds,
            });
        if (buffer) logger.info({ camera: camera.name, url: maskUrl(camera.recordUrl ?? camera.url) }, "recording: camera added");
        cameras.set(camera.id, { camera, buffer, key });
      }
      for (const [id, entry] of cameras) {
        if (seen.has(id)) continue;
        cameras.delete(id);
        if (entry.buffer) void track(entry.buffer.stop());
      }
    },

    handle(event: PipelineEvent) {
      try {
        if (stopped) return;
        if (event.type === "visit" && event.phase === "end") {
          planner.visitEnded(event.id, event.lastSeenAt);
          recordEnd(event);
        } else if (event.type === "alert") {
          recordAlert(event);
          const { plan, joined } = planner.alert(event, settingsOf(event.cameraId));
          logger.debug({ camera: event.cameraName, alert: event.id, joined, startsAt: plan.start }, "clip planned");
        }
      } catch (error) {
        logger.error({ err: error }, "the recorder could not handle an event");
      }
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async clip(cameraId, seconds = CLIP_DEFAULT_SECONDS, signal) {
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > CLIP_MAX_SECONDS) throw new InputError(`A clip is 1 to ${CLIP_MAX_SECONDS} whole seconds long.`);
      const entry = cameras.get(cameraId);
      if (!entry?.buffer) throw new InputError("That camera is not being recorded.");
      const status = entry.buffer.status();
      if (status.state !== "recording") throw new InputError(`${entry.camera.name} is not sending video right now${status.lastError ? ` (${status.lastError})` : ""}; try again when it is back.`);
      const start = now();
      const end = start + seconds * 1000;
      const id = ++pinId;
      pins.set(id, { cameraId, from: start - SLACK_MS });
      const ring = entry.buffer.ring;
      // Tracked from the start, so stop() waits for it, and it starts no ffmpeg once stopping began.
      return track(
        (async () => {
          try {
            await waitFor(() => (ring.newestWall() ?? 0) >= end || now() >= end + lateMs, signal);
            if (stopped) throw new InputError("Vigil is stopping; the clip was not made.");
            const selection = ring.select(start, end, start);
            if (!selection || selection.durationMs < 500) throw new InputError(`${entry.camera.name} sent no video for the clip; try again in a moment.`);
            return await assembleClip(selection, { ffmpegPath, ffprobePath, scratchDir: await scratch, uploadLimitBytes: options.uploadLimitBytes ?? BOT_UPLOAD_LIMIT, ...(signal ? { signal } : {}) });
          } finally {
            pins.delete(id);
          }
        })(),
      );
    },

    recordDoor(event) {
      const maxAgeDays = options.retention.limits().maxAgeDays;
      void track(history.recordDoor(event, maxAgeDays > 0 ? maxAgeDays * 86_400_000 : 0).catch((error: unknown) => logger.warn({ err: error, sensor: event.sensorName }, "could not store a door event in the event history")));
    },

    async eventClip(alertId): Promise<VideoClip> {
      const mp4 = await history.clip(alertId);
      const clip = history.get(alertId)?.clip;
      return { mp4, bytes: mp4.length, durationSeconds: clip?.durationSeconds ?? 0, width: clip?.width ?? 0, height: clip?.height ?? 0, transcoded: false };
    },

    async events(n = EVENTS_DEFAULT): Promise<EventsPicture> {
      if (!Number.isInteger(n) || n < 1 || n > EVENTS_MAX) throw new InputError(`Ask for 1 to ${EVENTS_MAX} events, for example /events 9.`);
      const t = now();
      const recent = history.recent(n);
      const events = [];
      for (const entry of recent) {
        const jpeg = await history.snapshot(entry.id).catch((error: unknown) => {
          logger.warn({ err: error, event: entry.id }, "a snapshot could not be read");
          return undefined;
        });
        events.push({ ...entry, jpeg });
      }
      const { from, rows } = hourlyActivity(history.between(t - 25 * 3600_000), [...cameras.values()].map((c) => ({ id: c.camera.id, name: c.camera.name })), t);
      const jpeg = await renderEventsSheet({ events, activity: rows, activityFrom: from, now: t, timeZone: options.timeZone });
      return { jpeg, events: recent.map(toStoredEvent), doors: history.recentDoors(10).filter((d) => d.at >= t - 24 * 3600_000) };
    },

    status(): RecorderStatus {
      const list = [...cameras.values()].map((c) => c.buffer?.status() ?? { cameraId: c.camera.id, cameraName: c.camera.name, state: "stopped" as const, bufferSeconds: 0, bufferBytes: 0, restarts: 0 });
      return { cameras: list, disk: retention.status(), events: history.entries().length };
    },

    async stop() {
      if (stopped) return;
      // Open clips are finished with the video there is, so a restart does not lose them.
      for (const { plan, end } of planner.all()) if (!finishing.has(plan)) startFinishing(plan, Math.min(end, now()));
      stopped = true;
      clearInterval(timer);
      if (pending.length) logger.warn({ alerts: pending.length }, "stopping with alerts that waited for disk space; they are not in the history");
      while (inFlight.size) await Promise.allSettled([...inFlight]);
      await Promise.all([...cameras.values()].map((c) => c.buffer?.stop() ?? Promise.resolve()));
      cameras.clear();
      if (!options.feeds) await feeds.stop();
      await retention.stop();
      await history.flush();
      const dir = await scratch;
      if (dir && options.scratchDir === undefined) await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
