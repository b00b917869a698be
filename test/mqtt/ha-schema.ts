/**
 * Home Assistant's MQTT discovery schema, as far as Vigil's payloads use it,
 * written down from its documentation (home-assistant.io/integrations/mqtt/
 * "Device discovery payload", and each platform's page: alarm_control_panel,
 * binary_sensor, sensor, switch, image, event). A discovery payload is checked
 * key by key against it: an unknown key, a missing required one, or a value of
 * the wrong type or outside the documented choices fails, as HA would refuse it.
 */

type Check = (value: unknown) => boolean;
const str: Check = (v) => typeof v === "string" && v.length > 0;
const bool: Check = (v) => typeof v === "boolean";
const int: Check = (v) => Number.isInteger(v);
const oneOf = (...choices: string[]): Check => (v) => typeof v === "string" && choices.includes(v);
const listOf = (check: Check): Check => (v) => Array.isArray(v) && v.length > 0 && v.every(check);
/** A topic Vigil publishes or HA subscribes to: no wildcards, no empty levels at the ends. */
const topic: Check = (v) => typeof v === "string" && v.length > 0 && !/[+#]/.test(v) && !v.startsWith("/") && !v.endsWith("/");
const availabilityList: Check = listOf((v) => typeof v === "object" && v !== null && topic((v as { topic?: unknown }).topic) && Object.keys(v).every((k) => ["topic", "payload_available", "payload_not_available", "value_template"].includes(k)));

/** Options every entity platform takes. */
const COMMON: Record<string, Check> = {
  p: str,
  name: (v) => v === null || str(v),
  unique_id: str,
  object_id: str,
  availability: availabilityList,
  availability_mode: oneOf("all", "any", "latest"),
  availability_topic: topic,
  enabled_by_default: bool,
  entity_category: oneOf("config", "diagnostic"),
  icon: (v) => typeof v === "string" && v.startsWith("mdi:"),
  json_attributes_topic: topic,
  qos: (v) => v === 0 || v === 1 || v === 2,
};

const BINARY_SENSOR_CLASSES = ["battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"];

export const PLATFORMS: Record<string, { required: string[]; options: Record<string, Check> }> = {
  alarm_control_panel: {
    required: ["command_topic", "state_topic"],
    options: {
      command_topic: topic,
      state_topic: topic,
      code_arm_required: bool,
      code_disarm_required: bool,
      code_trigger_required: bool,
      supported_features: listOf(oneOf("arm_home", "arm_away", "arm_night", "arm_vacation", "arm_custom_bypass", "trigger")),
      payload_arm_away: str,
      payload_arm_home: str,
      payload_arm_night: str,
      payload_disarm: str,
      retain: bool,
    },
  },
  binary_sensor: {
    required: ["state_topic"],
    options: { state_topic: topic, device_class: oneOf(...BINARY_SENSOR_CLASSES), payload_on: str, payload_off: str, off_delay: int, expire_after: int, force_update: bool },
  },
  sensor: {
    required: ["state_topic"],
    options: { state_topic: topic, state_class: oneOf("measurement", "total", "total_increasing"), unit_of_measurement: str, device_class: str, expire_after: int, force_update: bool, suggested_display_precision: int },
  },
  switch: {
    required: ["command_topic"],
    options: { command_topic: topic, state_topic: topic, payload_on: str, payload_off: str, state_on: str, state_off: str, optimistic: bool, retain: bool, device_class: oneOf("outlet", "switch") },
  },
  image: {
    required: [],
    options: { image_topic: topic, url_topic: topic, content_type: oneOf("image/jpeg", "image/png", "image/gif", "image/webp"), image_encoding: oneOf("b64") },
  },
  event: {
    required: ["state_topic", "event_types"],
    options: { state_topic: topic, event_types: listOf(str), device_class: oneOf("button", "doorbell", "motion") },
  },
};

const DEVICE_KEYS: Record<string, Check> = { ids: listOf(str), identifiers: listOf(str), name: str, mf: str, manufacturer: str, mdl: str, model: str, sw: str, sw_version: str, hw: str, sn: str, cu: str, sa: str };
const ORIGIN_KEYS: Record<string, Check> = { name: str, sw: str, sw_version: str, url: str, support_url: str };

/** Every problem with a device-based discovery payload; empty when HA would take it. */
export function discoveryProblems(payload: unknown): string[] {
  const problems: string[] = [];
  if (typeof payload !== "object" || payload === null) return ["not a JSON object"];
  const p = payload as Record<string, unknown>;
  for (const key of Object.keys(p)) if (!["dev", "device", "o", "origin", "cmps", "components", "qos", "state_topic", "command_topic", "availability", "availability_topic", "availability_mode"].includes(key)) problems.push(`unknown top-level key ${key}`);
  const dev = (p.dev ?? p.device) as Record<string, unknown> | undefined;
  if (!dev) problems.push("no dev");
  else {
    if (!dev.ids && !dev.identifiers) problems.push("dev has no ids");
    for (const [k, v] of Object.entries(dev)) if (!DEVICE_KEYS[k]?.(v)) problems.push(`dev.${k} is not valid`);
  }
  const origin = (p.o ?? p.origin) as Record<string, unknown> | undefined;
  if (!origin || !str(origin.name)) problems.push("o.name is required for device discovery");
  else for (const [k, v] of Object.entries(origin)) if (!ORIGIN_KEYS[k]?.(v)) problems.push(`o.${k} is not valid`);
  const cmps = (p.cmps ?? p.components) as Record<string, Record<string, unknown>> | undefined;
  if (!cmps || Object.keys(cmps).length === 0) return [...problems, "no cmps"];
  const uniqueIds = new Set<string>();
  for (const [id, component] of Object.entries(cmps)) {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) problems.push(`component id ${id} has characters HA refuses`);
    const platform = PLATFORMS[String(component.p)];
    if (!platform) {
      problems.push(`${id}: unknown platform ${String(component.p)}`);
      continue;
    }
    if (Object.keys(component).length === 1) continue; // `{ p }` alone: the component is being removed
    for (const key of platform.required) if (!(key in component)) problems.push(`${id}: missing ${key}`);
    if (component.p === "image" && !component.image_topic && !component.url_topic) problems.push(`${id}: an image needs image_topic or url_topic`);
    if (component.availability && component.availability_topic) problems.push(`${id}: availability and availability_topic together`);
    for (const [key, value] of Object.entries(component)) {
      const check = platform.options[key] ?? COMMON[key];
      if (!check) problems.push(`${id}: unknown option ${key}`);
      else if (!check(value)) problems.push(`${id}: ${key} = ${JSON.stringify(value)} is not valid`);
    }
    const uid = String(component.unique_id);
    if (uniqueIds.has(uid)) problems.push(`${id}: unique_id ${uid} used twice`);
    uniqueIds.add(uid);
  }
  return problems;
}
