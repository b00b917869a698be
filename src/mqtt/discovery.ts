/**
 * Home Assistant MQTT discovery, device-based (one retained message on
 * `<prefix>/device/<id>/config` with `dev`, `o` and `cmps`): Vigil appears as
 * one device with an alarm panel, an armed switch, an `event` entity for
 * alerts, per camera a motion and an occupancy binary sensor, an object count
 * and an image of the last alert, and per door sensor a `door` or `window`
 * binary sensor. Pure: the bridge publishes it on connect and whenever Home
 * Assistant says `online` on `<prefix>/status`.
 */
import type { Camera } from "../domain/camera.js";
import type { Sensor } from "../domain/sensors.js";
import { PANEL_FEATURES } from "./alarm-panel.js";
import type { SiteTopics } from "./topics.js";

export interface DiscoveryInput {
  prefix: string;
  site: string;
  topics: SiteTopics;
  cameras: readonly Pick<Camera, "id" | "name">[];
  sensors: readonly Pick<Sensor, "id" | "name" | "kind" | "source">[];
  version: string;
}

export type Component = Record<string, unknown> & { p: string };

export interface Discovery {
  topic: string;
  payload: { dev: Record<string, unknown>; o: Record<string, unknown>; cmps: Record<string, Component>; qos: number };
}

/** `homeassistant/device/vigil_home/config`. Object ids are letters, digits, `_` and `-`. */
export function discoveryTopic(prefix: string, site: string): string {
  return `${prefix}/device/${deviceId(site)}/config`;
}

function deviceId(site: string): string {
  return `vigil_${site.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

export function buildDiscovery(input: DiscoveryInput, removed: readonly Component[] = []): Discovery {
  const { topics, site } = input;
  const id = deviceId(site);
  const vigilUp = { topic: topics.availability };
  const cmps: Record<string, Component> = {
    [`${id}_alarm`]: {
      p: "alarm_control_panel",
      name: "Alarm",
      unique_id: `${id}_alarm`,
      state_topic: topics.alarmState,
      command_topic: topics.alarmSet,
      supported_features: [...PANEL_FEATURES],
      code_arm_required: false,
      code_disarm_required: false,
      availability: [vigilUp],
    },
    [`${id}_armed`]: {
      p: "switch",
      name: "Armed",
      unique_id: `${id}_armed`,
      state_topic: topics.armedState,
      command_topic: topics.armedSet,
      payload_on: "ON",
      payload_off: "OFF",
      icon: "mdi:shield-home",
      availability: [vigilUp],
    },
    [`${id}_alert`]: {
      p: "event",
      name: "Alert",
      unique_id: `${id}_alert`,
      state_topic: topics.alerts,
      event_types: ["alert"],
      availability: [vigilUp],
    },
  };
  for (const camera of input.cameras) {
    const t = topics.camera(camera.name);
    const key = `${id}_${camera.id}`;
    const up = { availability: [vigilUp, { topic: t.status }], availability_mode: "all" };
    cmps[`${key}_motion`] = { p: "binary_sensor", name: `${camera.name} motion`, unique_id: `${key}_motion`, device_class: "motion", state_topic: t.motion, payload_on: "ON", payload_off: "OFF", ...up };
    cmps[`${key}_occupancy`] = { p: "binary_sensor", name: `${camera.name} occupancy`, unique_id: `${key}_occupancy`, device_class: "occupancy", state_topic: t.occupancy, payload_on: "ON", payload_off: "OFF", ...up };
    cmps[`${key}_objects`] = { p: "sensor", name: `${camera.name} objects`, unique_id: `${key}_objects`, state_topic: t.count("all"), state_class: "measurement", icon: "mdi:account-multiple", ...up };
    cmps[`${key}_last_alert`] = { p: "image", name: `${camera.name} last alert`, unique_id: `${key}_last_alert`, image_topic: t.snapshot, content_type: "image/jpeg", availability: [vigilUp] };
  }
  for (const sensor of input.sensors) {
    const t = topics.door(sensor.name);
    const key = `${id}_${sensor.id}`;
    const up = { availability: [vigilUp, { topic: t.availability }], availability_mode: "all" };
    cmps[`${key}_contact`] = { p: "binary_sensor", name: sensor.name, unique_id: `${key}_contact`, device_class: sensor.kind, state_topic: t.state, payload_on: "ON", payload_off: "OFF", ...up };
    if (sensor.source.type === "mqtt") {
      cmps[`${key}_battery_low`] = { p: "binary_sensor", name: `${sensor.name} battery low`, unique_id: `${key}_battery_low`, device_class: "battery", entity_category: "diagnostic", state_topic: t.batteryLow, payload_on: "ON", payload_off: "OFF", ...up };
    }
  }
  // A component that is gone is removed by sending it once with its platform alone.
  for (const gone of removed) {
    const uid = typeof gone.unique_id === "string" ? gone.unique_id : "";
    if (uid && !(uid in cmps)) cmps[uid] = { p: gone.p };
  }
  return {
    topic: discoveryTopic(input.prefix, site),
    payload: {
      dev: { ids: [id], name: site === "home" ? "Vigil" : `Vigil ${site}`, mf: "Vigil", mdl: "Vigil camera and door alarm", sw: input.version },
      o: { name: "Vigil", sw: input.version },
      cmps,
      qos: 0,
    },
  };
}
