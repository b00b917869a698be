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
import type { Mode, ModeChange, ModeSource, Presence } from "./modes.js";
import type { DiskStatus, EventsPicture, VideoClip } from "./recorder.js";
import type { Schedule, TimeWindow } from "./schedule.js";

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

/** The mode as /mode, /status and the heartbeat show it (and, later, what MQTT publishes). */
export interface ModeView {
  mode: Mode;
  /** When and by whom it was set. */
  since: number;
  by: ModeSource;
  /** Until when visits that start are not alerted (a person just armed); null when no exit delay is running. */
  exitDelayUntil: number | null;
  /** The next change the schedules will make (within a week), if any. */
  next: ModeChange | undefined;
  schedules: readonly Schedule[];
  /** Seconds of exit delay after a person arms; 0: none. */
  exitDelay: number;
  /** When alerts come without a sound; null: never. */
  quietHours: TimeWindow | null;
  /** The zone of the schedules and quiet hours (VIGIL_TZ, else the machine's). */
  timeZone: string;
}

export interface SystemStatus {
  mode: ModeView;
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

/** The mode and every camera's switch after a change: a camera alerts when the mode in force is one of its modes and its own switch is on. */
export interface ArmState {
  mode: ModeView;
  cameras: { name: string; armed: boolean; modes: Mode[] }[];
}

export interface Control {
  status(): Promise<SystemStatus>;
  cameras(): readonly Camera[];
  /** Whether the mode in force is an armed one (not `off`), read synchronously (alert buttons are drawn from it). */
  isArmed(): boolean;
  /** Arms (mode `away`) or, with a camera name, switches that camera on; `by`: who did it (default: the chat). */
  arm(camera?: string, by?: ModeSource): Promise<ArmState>;
  /** Disarms (mode `off`) or, with a camera name, switches that camera off. */
  disarm(camera?: string, by?: ModeSource): Promise<ArmState>;
  /** The mode in force now, with the schedules, the exit delay and quiet hours. */
  mode(): ModeView;
  /**
   * Sets the mode, and says who did (a chat user, later Home Assistant's panel).
   * Schedule boundaries that have passed are applied first; the mode set holds
   * until the next one. Every listener of {@link onModeChange} hears of it.
   */
  setMode(mode: Mode, by: ModeSource): Promise<ModeView>;
  /**
   * Home Assistant presence: `not_home` (the last phone left) arms `away`;
   * `home` goes back to `home` out of `away`. Returns the change, if it made one.
   * (The MQTT topic that feeds it is the MQTT work's.)
   */
  setPresence(presence: Presence): Promise<ModeChange | undefined>;
  /** Hears every change of mode, whoever made it (the chat, a schedule, presence, MQTT). Returns the unsubscribe function. */
  onModeChange(listener: (change: ModeChange) => void): () => void;
  /** Adds a schedule: `mode` from the window's start to its end. Refused when it overlaps another. */
  addSchedule(mode: Mode, window: TimeWindow): Promise<Schedule>;
  /** Removes a schedule; undefined when it was already gone. The mode in force stays. */
  removeSchedule(id: string): Promise<Schedule | undefined>;
  /** Removes every schedule; returns how many there were. The mode in force stays. */
  clearSchedules(): Promise<number>;
  /** Seconds, 0 (none) to 600, after a person arms during which visits that start are not alerted. */
  setExitDelay(seconds: number): Promise<void>;
  /** Quiet hours: alerts in this window come without a sound; null: none. */
  setQuietHours(window: TimeWindow | null): Promise<void>;
  /** Whether an alert at `at` falls in the quiet hours. */
  isQuiet(at: number): boolean;
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
