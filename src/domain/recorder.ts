/**
 * The recorder as the rest of Vigil sees it: event clips with pre-roll, on-demand
 * clips, the event history and its picture. `src/pipeline/record` implements it
 * (`createRecorder`); `src/main.ts` feeds it every pipeline event, and the bot
 * publishes the `clip-ready` events it emits and calls the rest for /clip and
 * /events. Nothing here knows about Telegram.
 */
import type { BoxXYXY, ClipReadyEvent, PipelineEvent } from "./events.js";
import type { Camera } from "./camera.js";

/** An MP4 (H.264, index first) in memory, ready to send. */
export interface VideoClip {
  mp4: Buffer;
  durationSeconds: number;
  width: number;
  height: number;
  bytes: number;
  /** True when it had to be re-encoded to fit the upload limit (or was not H.264). */
  transcoded: boolean;
}

/** One visit as the event history keeps it, by its alert. Times are epoch ms. */
export interface StoredEvent {
  /** The alert's id (`AlertEvent.id`), also the visit's. */
  id: string;
  cameraId: string;
  cameraName: string;
  label: string;
  score: number;
  box: BoxXYXY;
  motionOnly: boolean;
  /** When the object was confirmed: the alert. */
  at: number;
  /** When the visitor was first seen. */
  startedAt: number;
  /** When the visit ended; undefined while it goes on. */
  endedAt?: number | undefined;
  /** Most objects of each kind seen at once, by label family (`{ person: 2 }`); empty until the visit ends. */
  counts: Record<string, number>;
  snapshotBytes: number;
  /** Present once the clip is stored. */
  clip?: { durationSeconds: number; bytes: number; width: number; height: number } | undefined;
}

/** A door or window opening or closing, as the event history keeps it beside the visits. */
export interface StoredDoorEvent {
  id: string;
  sensorId: string;
  sensorName: string;
  kind: "door" | "window";
  state: "open" | "closed";
  at: number;
  /** It alerted the chat. */
  alerted: boolean;
}

/** `/events`: one picture (contact sheet and 24-hour activity) and the events on it, newest first, and the doors of the last day. */
export interface EventsPicture {
  jpeg: Buffer;
  events: StoredEvent[];
  /** Door events of the last 24 hours, newest first, at most 10. */
  doors: StoredDoorEvent[];
}

export interface RecordingCameraStatus {
  cameraId: string;
  cameraName: string;
  state: "starting" | "recording" | "offline" | "stopped";
  /** Seconds of video in the in-memory ring buffer. */
  bufferSeconds: number;
  bufferBytes: number;
  restarts: number;
  /** The last failure, one sentence, credentials masked. */
  lastError?: string | undefined;
}

export interface DiskStatus {
  /** Bytes the data directory takes (store, history, media). */
  usedBytes: number;
  /** Free bytes on its filesystem, for this user. */
  freeBytes: number;
  /** Epoch ms of the oldest event kept; undefined when there is none. */
  oldestEventAt?: number | undefined;
  /** Why clips are not being kept right now (disk full), or undefined when they are. */
  paused?: string | undefined;
}

export interface RecorderStatus {
  cameras: RecordingCameraStatus[];
  disk: DiskStatus;
  /** Events in the history. */
  events: number;
}

export interface RecorderHandle {
  /** Starts, stops and restarts the per-camera ring buffers to match `cameras`; settings apply from the next event. */
  reconcile(cameras: readonly Camera[]): void;
  /** Every pipeline event goes here: alerts are stored and get a clip, visit ends end clips and complete their entry. Never throws. */
  handle(event: PipelineEvent): void;
  /** Keeps a door event in the history, beside the visits. Never throws. */
  recordDoor(event: StoredDoorEvent): void;
  /** `clip-ready` events, one per alert (visit), after the clip is stored. Returns the unsubscribe function. */
  subscribe(listener: (event: ClipReadyEvent) => void): () => void;
  /** `/clip`: the next `seconds` (default 10, 1 to 60) of a camera, from its newest keyframe. Not stored. */
  clip(cameraId: string, seconds?: number, signal?: AbortSignal): Promise<VideoClip>;
  /** An event's stored clip, decrypted in memory (for a button under /events, or to send after `clip-ready`). */
  eventClip(alertId: string): Promise<VideoClip>;
  /** `/events [n]`: the picture of the last `n` events (default 9, 1 to 16). */
  events(n?: number): Promise<EventsPicture>;
  /** For /status: per-camera recording, disk use, the oldest event kept. */
  status(): RecorderStatus;
  /** Finishes open clips with what is buffered, stops every ffmpeg child and timer. */
  stop(): Promise<void>;
}
