/**
 * The main store document (`vigil.db`): everything sensitive Vigil keeps. Validated
 * on every read; new fields get defaults so older files of the same version load.
 * When the shape changes incompatibly, bump STORE_VERSION and add a migration.
 */
import * as v from "valibot";
import { DEFAULT_SETTINGS } from "../domain/camera.js";
import { DEFAULT_CAMERA_MODES, INITIAL_MODE_STATE, MODES } from "../domain/modes.js";
import type { DocumentSpec } from "./document.js";

const Point = v.tuple([v.pipe(v.number(), v.minValue(0), v.maxValue(1)), v.pipe(v.number(), v.minValue(0), v.maxValue(1))]);
const Polygons = v.array(v.array(Point));

const d = DEFAULT_SETTINGS;
export const SettingsSchema = v.object({
  sensitivity: v.optional(v.number(), d.sensitivity),
  timeout: v.optional(v.number(), d.timeout),
  classes: v.optional(v.array(v.string()), () => [...d.classes]),
  modes: v.optional(v.array(v.picklist(MODES)), () => [...DEFAULT_CAMERA_MODES]),
  minSize: v.optional(v.object({ value: v.number(), unit: v.picklist(["px", "%"]) }), () => ({ ...d.minSize })),
  score: v.optional(v.number(), d.score),
  fps: v.optional(v.number(), d.fps),
  width: v.optional(v.number(), d.width),
  height: v.optional(v.number(), d.height),
  zones: v.optional(Polygons, () => []),
  masks: v.optional(Polygons, () => []),
  transport: v.optional(v.picklist(["tcp", "udp"]), d.transport),
  offlineAfter: v.optional(v.number(), d.offlineAfter),
  preRoll: v.optional(v.number(), d.preRoll),
  postRoll: v.optional(v.number(), d.postRoll),
  maxClip: v.optional(v.number(), d.maxClip),
  afterDoor: v.optional(v.number(), d.afterDoor),
});

export const CameraSchema = v.object({
  id: v.string(),
  name: v.string(),
  url: v.string(),
  username: v.optional(v.string()),
  password: v.optional(v.string()),
  recordUrl: v.optional(v.string()),
  snapshotUrl: v.optional(v.string()),
  armed: v.optional(v.boolean(), true),
  mutedUntil: v.optional(v.nullable(v.number()), null),
  settings: v.optional(SettingsSchema, () => ({})),
});

export const ChatSchema = v.object({
  id: v.number(),
  /** Forum topic the alerts go to (where `/claim` was sent). */
  threadId: v.optional(v.number()),
  title: v.optional(v.string()),
});

export const AdminSchema = v.object({
  id: v.number(),
  username: v.optional(v.string()),
  name: v.optional(v.string()),
});

const Weekdays = v.array(v.picklist([0, 1, 2, 3, 4, 5, 6] as const));
const Minute = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1440));

export const WindowSchema = v.object({ days: Weekdays, start: Minute, end: Minute });

export const ScheduleSchema = v.object({
  id: v.string(),
  mode: v.picklist(MODES),
  days: Weekdays,
  start: Minute,
  end: Minute,
  createdAt: v.number(),
});

const ModeSourceSchema = v.variant("kind", [
  v.object({ kind: v.literal("chat"), userId: v.optional(v.number()), name: v.optional(v.string()) }),
  v.object({ kind: v.literal("mqtt") }),
  v.object({ kind: v.literal("schedule"), scheduleId: v.string(), edge: v.picklist(["start", "end"]) }),
  v.object({ kind: v.literal("presence"), presence: v.picklist(["home", "not_home"]) }),
  v.object({ kind: v.literal("setup") }),
]);

export const ModeStateSchema = v.object({
  mode: v.picklist(MODES),
  at: v.number(),
  by: ModeSourceSchema,
  resume: v.optional(v.picklist(MODES)),
});

/** The MQTT broker Vigil publishes to and listens on (`vigil mqtt set`); null: no MQTT at all. */
export const MqttSchema = v.object({
  url: v.string(),
  username: v.optional(v.string()),
  password: v.optional(v.string()),
  /** The topic subtree is `vigil/<site>/`. */
  site: v.optional(v.string(), "home"),
  discoveryPrefix: v.optional(v.string(), "homeassistant"),
  /** A CA certificate file for `mqtts://` (default: the system's CAs). */
  caFile: v.optional(v.string()),
  /** Home Assistant presence: `home` / `not_home` on this topic switch the mode between home and away. */
  presenceTopic: v.optional(v.string()),
});

/**
 * This box is a satellite (`vigil satellite join`): its broker and its site.
 * null: a hub, or a box on its own (the default).
 */
export const SatelliteConfigSchema = v.object({
  url: v.string(),
  username: v.optional(v.string()),
  password: v.optional(v.string()),
  caFile: v.optional(v.string()),
  /** How the chat names this box: its cameras are `site/camera`. */
  site: v.string(),
  /** 12 hex digits, random: its topics are vigil/satellites/<id>/. */
  id: v.string(),
});

const SensorSourceSchema = v.variant("type", [
  v.object({
    type: v.literal("mqtt"),
    topic: v.string(),
    /** `zigbee2mqtt`: `contact: false` is open, battery and availability read the Zigbee2MQTT way; `field`: `field` equal to `openValue` is open. */
    format: v.picklist(["zigbee2mqtt", "field"]),
    field: v.optional(v.string()),
    openValue: v.optional(v.string()),
  }),
  /** Signed HTTP POSTs to the webhook listener; the secret is the HMAC-SHA256 key. */
  v.object({ type: v.literal("webhook"), secret: v.string() }),
  /** A GPIO line read through libgpiod's gpiomon. */
  v.object({ type: v.literal("gpio"), chip: v.string(), line: v.number(), activeLow: v.optional(v.boolean(), false) }),
]);

export const SensorSchema = v.object({
  id: v.string(),
  name: v.string(),
  /** Home Assistant's device class: what opens. */
  kind: v.optional(v.picklist(["door", "window"]), "door"),
  source: SensorSourceSchema,
  /** Cameras (by id) whose pictures come with this sensor's alert, and that `afterdoor` opens. */
  cameras: v.optional(v.array(v.string()), () => []),
  /** A new state counts once it has held this long. */
  debounceMs: v.optional(v.number(), 300),
  mutedUntil: v.optional(v.nullable(v.number()), null),
  /** The modes it alerts in: by default every mode but off. */
  modes: v.optional(v.array(v.picklist(MODES)), () => [...DEFAULT_CAMERA_MODES]),
});

export const RetentionSchema = v.object({
  /** Bytes of event media kept at most, all cameras together. 0: no limit but the disk floor. */
  maxBytes: v.optional(v.number(), 0),
  /** Days an event is kept. 0: no age limit. */
  maxAgeDays: v.optional(v.number(), 30),
  /** Free disk space Vigil always leaves. */
  minFreeBytes: v.optional(v.number(), 1024 ** 3),
  /** Per-camera byte limits, by camera id. */
  perCameraBytes: v.optional(v.record(v.string(), v.number()), () => ({})),
});

/**
 * 3: the system's arm switch (`armed`) became the mode (`mode`): armed is
 * `away` (every camera alerted), disarmed is `off`.
 *
 * 2: `timeout` changed meaning. It was the quiet time after an alert (default
 * 15 s, up to a day); alerts now follow visits, and it is how long a visitor
 * who vanishes inside the picture is still the same visit (default 5 s, 1 to
 * 120 s). The old default becomes the new one; other values are kept within
 * the new bounds.
 */
export const STORE_VERSION = 3;

export const STORE_MIGRATIONS: Record<number, (old: Record<string, unknown>) => Record<string, unknown>> = {
  1: (old) => {
    const cameras = Array.isArray(old.cameras) ? (old.cameras as Record<string, unknown>[]) : [];
    return {
      ...old,
      cameras: cameras.map((camera) => {
        const settings = (camera.settings ?? {}) as Record<string, unknown>;
        if (typeof settings.timeout !== "number") return camera;
        const timeout = settings.timeout === 15 ? DEFAULT_SETTINGS.timeout : Math.min(120, Math.max(1, Math.round(settings.timeout)));
        return { ...camera, settings: { ...settings, timeout } };
      }),
    };
  },
  2: (old) => {
    const { armed, ...rest } = old;
    return { ...rest, mode: { mode: armed === true ? "away" : "off", at: 0, by: { kind: "setup" } } };
  },
};

export const StoreSchema = v.object({
  version: v.literal(STORE_VERSION),
  createdAt: v.string(),
  telegram: v.object({ token: v.string() }),
  chats: v.optional(v.array(ChatSchema), () => []),
  admins: v.optional(v.array(AdminSchema), () => []),
  /** A pending `/claim` code: only its hash is stored. */
  claim: v.optional(v.nullable(v.object({ codeHash: v.string(), expiresAt: v.number() })), null),
  /** The mode in force, when and by whom it was set (schedules move it on; see domain/schedule.ts). */
  mode: v.optional(ModeStateSchema, () => structuredClone(INITIAL_MODE_STATE)),
  /** Windows of the week that set a mode at their start and undo it at their end. */
  schedules: v.optional(v.array(ScheduleSchema), () => []),
  /** Seconds after a person arms during which new visits do not alert. 0: none. */
  exitDelay: v.optional(v.number(), 0),
  /** When alerts come without a notification sound; null: never. */
  quietHours: v.optional(v.nullable(WindowSchema), null),
  cameras: v.optional(v.array(CameraSchema), () => []),
  retention: v.optional(RetentionSchema, () => ({})),
  /** Send a silent "still here" message once a day. */
  heartbeat: v.optional(v.boolean(), false),
  /** Epoch ms of the last heartbeat message, so a restart neither repeats nor skips one. */
  heartbeatSentAt: v.optional(v.number(), 0),
  mqtt: v.optional(v.nullable(MqttSchema), null),
  sensors: v.optional(v.array(SensorSchema), () => []),
  /** Where the sensors' webhook listener binds (`vigil webhook listen`); null: no listener. */
  webhook: v.optional(v.nullable(v.object({ host: v.string(), port: v.number() })), null),
  satellite: v.optional(v.nullable(SatelliteConfigSchema), null),
});

export type StoreData = v.InferOutput<typeof StoreSchema>;

export const STORE_FILE = "vigil.db";

export function storeSpec(token = ""): DocumentSpec<StoreData> {
  return {
    file: STORE_FILE,
    version: STORE_VERSION,
    schema: StoreSchema,
    migrations: STORE_MIGRATIONS,
    empty: () => v.parse(StoreSchema, { version: STORE_VERSION, createdAt: new Date().toISOString(), telegram: { token } }),
  };
}
