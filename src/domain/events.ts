/**
 * What the pipeline tells the rest of Vigil: a tagged union of events. The bot
 * publishes them; the recorder and the event history listen to them. Nothing in
 * here knows about Telegram or about ffmpeg.
 */

import type { Mode } from "./modes.js";

/** A box in detection-frame pixels: [x1, y1, x2, y2]. */
export type BoxXYXY = [number, number, number, number];

export interface DetectedObject {
  label: string;
  score: number;
  box: BoxXYXY;
}

/** A visit began: something that may alert arrived and was confirmed. One per visit. */
export interface AlertEvent {
  type: "alert";
  /** Unique per alert, and the id of its visit; the clip, the history entry and the visit's news refer to it. */
  id: string;
  cameraId: string;
  cameraName: string;
  /** Epoch ms of the frame that confirmed the object. */
  at: number;
  /** Epoch ms the visitor was first seen (the clip's pre-roll counts back from here). */
  startedAt: number;
  /** The object that triggered the alert. */
  label: string;
  score: number;
  box: BoxXYXY;
  /** Every confirmed object in the frame. */
  objects: DetectedObject[];
  /** Detection frame size, for the boxes. */
  frameWidth: number;
  frameHeight: number;
  /** The annotated JPEG. */
  snapshot: Buffer;
  /** True when the detector is unavailable and this alert is from motion alone. */
  motionOnly: boolean;
  /** The mode in force when it was decided. */
  mode: Mode;
  /** Set by a hub for an alert that came from a satellite: its site. */
  satellite?: string;
}

/** Most objects of each kind seen at once in a visit, by label family: `{ person: 2, dog: 1 }`. */
export type VisitCounts = Record<string, number>;

/**
 * News of a visit after its alert: it counts more objects, came to a standstill
 * or moved again, or has lasted another while (`update`); or its last object
 * has gone (`end`).
 */
export interface VisitEvent {
  type: "visit";
  phase: "update" | "end";
  /** The visit's alert id. */
  id: string;
  cameraId: string;
  cameraName: string;
  /** Epoch ms of this news. */
  at: number;
  /** When the visitor was first seen. */
  startedAt: number;
  /** The last time any object of the visit was seen; for `end`, when the visit ended. */
  lastSeenAt: number;
  /** The alert's label. */
  label: string;
  counts: VisitCounts;
  /** Every object of it stands still (a parked car). */
  stationary: boolean;
  motionOnly: boolean;
  /**
   * Why it ended: `left` (every object went away), `disarmed` (the camera
   * stopped alerting: the mode changed to one it does not alert in, or it was
   * disarmed or muted, so it is no longer followed), `stopped` (the camera or
   * Vigil stopped, or a replayed file ended).
   */
  reason?: "left" | "disarmed" | "stopped";
}

export interface CameraOfflineEvent {
  type: "camera-offline";
  cameraId: string;
  cameraName: string;
  at: number;
  /** Epoch ms of the last frame seen (0 when none since start). */
  lastFrameAt: number;
  /** One sentence for a person: "connection refused", "wrong username or password", ... */
  reason: string;
}

export interface CameraOnlineEvent {
  type: "camera-online";
  cameraId: string;
  cameraName: string;
  at: number;
  /** How long it was offline, in ms (only sent after an offline event). */
  downtimeMs: number;
}

export interface ClipReadyEvent {
  type: "clip-ready";
  alertId: string;
  cameraId: string;
  cameraName: string;
  /** Blob name of the encrypted clip in the media store. */
  blob: string;
  durationSeconds: number;
  bytes: number;
}

export interface DetectorStatusEvent {
  type: "detector-status";
  ok: boolean;
  /** Why it failed, for `/status` and the chat. */
  reason?: string;
}

/** Motion on a camera began or ended (with hysteresis): the recorder uses it to end clips. */
export interface MotionEvent {
  type: "motion";
  cameraId: string;
  cameraName: string;
  at: number;
  state: "start" | "end";
}

export type PipelineEvent = AlertEvent | VisitEvent | CameraOfflineEvent | CameraOnlineEvent | ClipReadyEvent | DetectorStatusEvent | MotionEvent;

/** Live figures for one camera (`/status`, `vigil doctor`, benchmarks). */
export interface CameraStatus {
  cameraId: string;
  cameraName: string;
  state: "starting" | "online" | "offline" | "stopped";
  /** Frames per second received over the last few seconds. */
  fps: number;
  framesIn: number;
  framesDropped: number;
  /** Epoch ms of the last frame, 0 when none. */
  lastFrameAt: number;
  lastMotionAt: number;
  lastAlertAt: number;
  /** The last error, already masked (no credentials). */
  lastError?: string;
  restarts: number;
  /** Frames with motion, and frames the object detector ran on, since the camera started. */
  motionFrames?: number;
  detectorRuns?: number;
  /** Visits since the camera started. */
  visits?: number;
}
