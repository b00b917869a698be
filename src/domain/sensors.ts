/**
 * Door and window sensors as the rest of Vigil sees them: what a sensor is,
 * what it reports, and the one interface the chat and the command line use to
 * read and change them. The sources (MQTT, the webhook listener, gpiomon) live
 * in `src/sensors`; nothing here knows about any of them.
 */
import type { Mode } from "./modes.js";
import { InputError } from "../errors.js";

export type SensorKind = "door" | "window";

export type SensorSource =
  | { type: "mqtt"; topic: string; format: "zigbee2mqtt" | "field"; field?: string | undefined; openValue?: string | undefined }
  | { type: "webhook"; secret: string }
  | { type: "gpio"; chip: string; line: number; activeLow: boolean };

export interface Sensor {
  id: string;
  name: string;
  kind: SensorKind;
  source: SensorSource;
  /** Camera ids: their pictures come with the sensor's alert; their `afterdoor` window opens with it. */
  cameras: string[];
  /** A new state counts once it has held this long (ms). */
  debounceMs: number;
  /** Epoch ms until which its alerts are muted, or null. */
  mutedUntil: number | null;
  /** The modes it alerts in (like a camera's): by default every mode but off. */
  modes: Mode[];
}

/** What a sensor's source said, before debouncing: open or closed, and what else it tells. */
export interface SensorReading {
  sensorId: string;
  /** Epoch ms it was received. */
  at: number;
  open?: boolean | undefined;
  /** Battery percentage, when the source says. */
  battery?: number | undefined;
  batteryLow?: boolean | undefined;
  /** The source's own availability (Zigbee2MQTT's), when it says. */
  online?: boolean | undefined;
}

/** What Vigil knows of a sensor now. */
export interface SensorState {
  sensor: Sensor;
  /** Debounced; undefined until the source has said. */
  open: boolean | undefined;
  /** Epoch ms of the last debounced change (0: none yet). */
  changedAt: number;
  battery: number | undefined;
  batteryLow: boolean;
  /** False when the source says the device is offline. */
  online: boolean;
}

/** A debounced open or close of a door or window. */
export interface DoorEvent {
  type: "door";
  /** Unique: the event history and the outbox refer to it. */
  id: string;
  sensorId: string;
  sensorName: string;
  kind: SensorKind;
  state: "open" | "closed";
  at: number;
  /** Epoch ms the state began (the first reading of it, before the debounce time). */
  since: number;
  /** The first state the sensor reported since Vigil started: not a change, never an alert. */
  first?: boolean;
}

/** A door or window that opened while armed: the alert, with a picture from each linked camera that could give one. */
export interface DoorAlert {
  type: "door-alert";
  /** The door event's id. */
  id: string;
  sensorId: string;
  sensorName: string;
  kind: SensorKind;
  /** When it opened (epoch ms). */
  at: number;
  photos: { cameraId: string; cameraName: string; jpeg: Buffer }[];
}

/** A device seen on the broker under `zigbee2mqtt/` that reports `contact` (`/addsensor` offers them). */
export interface SeenContactDevice {
  name: string;
  topic: string;
  lastSeenAt: number;
}

export interface NewSensorInput {
  name: string;
  kind?: SensorKind;
  source: SensorSource;
  debounceMs?: number;
  modes?: Mode[];
}

/** What the chat and the command line do with sensors. */
export interface SensorControl {
  sensors(): SensorState[];
  addSensor(input: NewSensorInput): Promise<Sensor>;
  removeSensor(name: string): Promise<Sensor>;
  /** Links a sensor to cameras (by name), replacing the cameras it had. */
  linkSensor(name: string, cameras: readonly string[]): Promise<Sensor>;
  muteSensor(id: string, until: number | null): Promise<Sensor>;
  /** Zigbee2MQTT contact sensors seen on the broker, newest first, not yet added. */
  seenContactDevices(): SeenContactDevice[];
}

/** Names people type: like camera names. */
const NAME_PATTERN = /^[\p{L}\p{N}_-]{1,32}$/u;

export function validateSensorName(raw: string): string {
  const name = raw.trim();
  if (!NAME_PATTERN.test(name)) throw new InputError("A sensor name is 1 to 32 letters, digits, `_` or `-`, with no spaces (for example front_door).");
  return name;
}

/** The debounce a person may set: 0 to 10 s. */
export function validateDebounce(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0 || ms > 10_000) throw new InputError("The debounce is a whole number of milliseconds from 0 to 10000.");
  return ms;
}

/** An MQTT topic a sensor may listen on: no wildcards, not empty, not under Vigil's own subtree. */
export function validateSensorTopic(raw: string): string {
  const topic = raw.trim();
  if (topic.length === 0 || topic.length > 200 || /[+#]/.test(topic) || topic.includes("\u0000")) throw new InputError("A sensor's MQTT topic is 1 to 200 characters without wildcards (+ or #), e.g. zigbee2mqtt/front_door.");
  if (topic.startsWith("vigil/")) throw new InputError("A sensor cannot listen under vigil/: that is where Vigil publishes.");
  return topic;
}

/** `gpiochip0:17` or `0:17`. */
export function parseGpioLine(raw: string): { chip: string; line: number } {
  const match = /^([A-Za-z0-9_-]{1,32}):(\d{1,4})$/.exec(raw.trim());
  if (!match) throw new InputError(`A GPIO line is CHIP:LINE, like gpiochip0:17; "${raw.slice(0, 40)}" is not.`);
  return { chip: match[1]!, line: Number(match[2]) };
}
