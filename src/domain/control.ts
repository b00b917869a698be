/**
 * The one control interface. The bot (or any other front end) drives Vigil only
 * through this; `src/app/control.ts` implements it over the store, the
 * pipeline and the recorder. Every method either does what it says or throws
 * an InputError (or another VigilError) whose message is the one sentence to
 * show the user.
 */
import type { Camera } from "./camera.js";
import type { CameraLogin, CameraStreams, FoundCamera } from "./discovery.js";
import type { CameraStatus } from "./events.js";
import type { DiskStatus, EventsPicture, VideoClip } from "./recorder.js";

export interface Snapshot {
  cameraId: string;
  cameraName: string;
  /** Annotated JPEG: boxes of confirmed objects, camera name and local time. */
  jpeg: Buffer;
  at: number;
}

export interface CameraProbe {
  /** A JPEG of the first frame, to show the user what the camera sees. */
  jpeg: Buffer;
  /** Milliseconds from starting ffmpeg to the first decoded frame. */
  firstFrameMs: number;
  width: number;
  height: number;
}

export interface CameraState {
  camera: Camera;
  /** Live figures; undefined when the camera's worker has not started. */
  live: CameraStatus | undefined;
}

export interface SystemStatus {
  armed: boolean;
  cameras: CameraState[];
  detector: { ok: boolean; model: string; reason?: string };
  /** Disk use of the data directory, free space, the oldest event kept, and why clips are paused (recording). */
  disk?: DiskStatus;
  startedAt: number;
}

export interface NewCameraInput {
  name: string;
  /** The detection stream (the sub-stream). */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** The recording stream (the main stream); default `url`. */
  recordUrl?: string | undefined;
}

/** Both arm switches after a change: a camera alerts when the system and the camera are armed. */
export interface ArmState {
  systemArmed: boolean;
  cameras: { name: string; armed: boolean }[];
}

export interface Control {
  status(): Promise<SystemStatus>;
  cameras(): readonly Camera[];
  /** The system's arm switch, read synchronously (alert buttons are drawn from it). */
  isArmed(): boolean;
  /** Arms the whole system (no camera, or "all") or one camera's own switch. */
  arm(camera?: string): Promise<ArmState>;
  disarm(camera?: string): Promise<ArmState>;
  /** The current frame of a camera, annotated. */
  snapshot(camera: string): Promise<Snapshot>;
  /**
   * Parses and applies one setting (`/set [camera] key value`) to one camera, or to
   * every camera when `camera` is undefined. Returns the cameras changed and how the
   * new value reads back.
   */
  setSetting(camera: string | undefined, key: string, value: string): Promise<{ cameras: string[]; display: string }>;
  /** Mutes one camera or all until `until` (epoch ms); null unmutes. Returns the names affected. */
  mute(camera: string | undefined, until: number | null): Promise<string[]>;
  /** Whether {@link findCameras} searches at all (`VIGIL_ONVIF_TIMEOUT=0` switches it off). */
  cameraSearchEnabled(): boolean;
  /**
   * Searches the LAN for ONVIF cameras (WS-Discovery; takes the few seconds the
   * search listens). Throws an OnvifError when the search cannot be sent at all.
   */
  findCameras(signal?: AbortSignal): Promise<FoundCamera[]>;
  /** Asks a camera that {@link findCameras} found for its streams with this login (nothing is saved). */
  cameraStreams(camera: FoundCamera, login: CameraLogin, signal?: AbortSignal): Promise<CameraStreams>;
  /** Connects to a stream and grabs one frame, without saving anything. */
  probeCamera(input: NewCameraInput, signal?: AbortSignal): Promise<CameraProbe>;
  addCamera(input: NewCameraInput): Promise<Camera>;
  removeCamera(name: string): Promise<Camera>;
  renameCamera(name: string, newName: string): Promise<Camera>;
  /** `/events [n]`: one picture of the last n events (default 9, 1 to 16) and those events, newest first. */
  events(n?: number): Promise<EventsPicture>;
  /** `/clip <camera> [seconds]`: the next seconds (default 10, 1 to 60) of a camera, not stored. */
  clip(camera: string, seconds?: number, signal?: AbortSignal): Promise<VideoClip>;
  /** The stored clip of an alert: it replaces the alert's photo, and /events offers it. */
  eventClip(alertId: string): Promise<VideoClip>;
}
