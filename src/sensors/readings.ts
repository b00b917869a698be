/**
 * What door sensors send, read into {@link SensorReading}s. Pure and bounded:
 * anything that is not what the source sends (not JSON, too large, nested,
 * the wrong types) reads as nothing, never as a change.
 */
import type { SensorReading } from "../domain/sensors.js";

/** Messages larger than this are not sensor states. Zigbee2MQTT's are a few hundred bytes. */
export const MAX_READING_BYTES = 16 * 1024;

type Fields = Omit<SensorReading, "sensorId" | "at">;

function parseObject(payload: Buffer | string): Record<string, unknown> | undefined {
  if (payload.length > MAX_READING_BYTES) return undefined;
  try {
    const value: unknown = JSON.parse(payload.toString());
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function battery(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= 100 ? Math.round(value) : undefined;
}

/**
 * Zigbee2MQTT's state JSON on `zigbee2mqtt/<name>`: `contact: false` is open
 * (the magnet is away), `battery` a percentage, `battery_low` a boolean.
 * Undefined when the message says none of these.
 */
export function parseZigbee2mqtt(payload: Buffer | string): Fields | undefined {
  const object = parseObject(payload);
  if (!object) return undefined;
  const out: Fields = {};
  if (typeof object.contact === "boolean") out.open = !object.contact;
  const b = battery(object.battery);
  if (b !== undefined) out.battery = b;
  if (typeof object.battery_low === "boolean") out.batteryLow = object.battery_low;
  return Object.keys(out).length ? out : undefined;
}

/** Zigbee2MQTT's availability, `online`/`offline` (before 2.0) or `{"state":"online"}` (2.0). */
export function parseZigbee2mqttAvailability(payload: Buffer | string): boolean | undefined {
  if (payload.length > 256) return undefined;
  const text = payload.toString().trim();
  if (text === "online") return true;
  if (text === "offline") return false;
  const object = parseObject(text);
  if (object?.state === "online") return true;
  if (object?.state === "offline") return false;
  return undefined;
}

/**
 * Any other sensor: JSON whose `field` equals `openValue` when open (compared
 * as text, so `"true"` matches `true` and `"1"` matches `1`), or, without a
 * field, the whole payload compared with `openValue`. `closedValue`, when
 * given, must match to read closed; otherwise any other value is closed.
 */
export function parseFieldReading(payload: Buffer | string, field: string | undefined, openValue: string, closedValue?: string): Fields | undefined {
  if (payload.length > MAX_READING_BYTES) return undefined;
  let raw: unknown;
  if (field) {
    const object = parseObject(payload);
    if (!object || !Object.hasOwn(object, field)) return undefined;
    raw = object[field];
  } else raw = payload.toString().trim();
  if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") return undefined;
  const text = String(raw);
  if (text === openValue) return { open: true };
  if (closedValue !== undefined && text !== closedValue) return undefined;
  return { open: false };
}

/**
 * One line of libgpiod 1.6's `gpiomon` in its default format:
 * `event:  RISING EDGE offset: 17 timestamp: [1547562354.829386418]`
 * (`event: FALLING EDGE ...`). Undefined for anything else.
 */
export function parseGpiomonLine(line: string): { rising: boolean; offset: number; timestampNs: bigint } | undefined {
  const match = /^event:\s+(RISING|FALLING) EDGE offset: (\d+) timestamp: \[\s*(\d+)\.(\d{9})\]$/.exec(line.trim());
  if (!match) return undefined;
  return { rising: match[1] === "RISING", offset: Number(match[2]), timestampNs: BigInt(match[3]!) * 1_000_000_000n + BigInt(match[4]!) };
}
