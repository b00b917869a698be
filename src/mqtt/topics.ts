/**
 * Vigil's MQTT topics and what goes on them, modelled on Frigate's API (the
 * NVR most Home Assistant users already know): under `vigil/<site>/`,
 * `events` carries each visit as `new`, `update` and `end` JSON with `before`
 * and `after`; per camera, `motion` is ON/OFF, `<label>` and `all` count
 * objects, `snapshot` is the last alert's JPEG, `status` online/offline.
 * Adapted where Vigil differs: an event is a visit (several objects, counted
 * per kind) and is announced when it alerts, times are epoch seconds, and a
 * door's state has its own subtree. Pure: the bridge publishes what these
 * return.
 */
import type { AlertEvent, PipelineEvent, VisitEvent } from "../domain/events.js";
import type { DoorEvent } from "../domain/sensors.js";

export interface Message {
  topic: string;
  payload: string | Buffer;
  retain: boolean;
}

/** Every topic of one site. Camera and sensor names are letters, digits, `_` and `-` (no `/`, `+`, `#`). */
export function siteTopics(site: string) {
  const base = `vigil/${site}`;
  return {
    base,
    availability: `${base}/availability`,
    events: `${base}/events`,
    /** HA's `event` entity: one JSON message per alert (not retained). */
    alerts: `${base}/alerts`,
    alarmState: `${base}/alarm/state`,
    alarmSet: `${base}/alarm/set`,
    armedState: `${base}/armed/state`,
    armedSet: `${base}/armed/set`,
    camera: (camera: string) => ({
      motion: `${base}/${camera}/motion`,
      occupancy: `${base}/${camera}/occupancy`,
      count: (label: string) => `${base}/${camera}/${label}`,
      snapshot: `${base}/${camera}/snapshot`,
      status: `${base}/${camera}/status`,
    }),
    door: (sensor: string) => ({
      state: `${base}/doors/${sensor}/state`,
      battery: `${base}/doors/${sensor}/battery`,
      batteryLow: `${base}/doors/${sensor}/battery_low`,
      availability: `${base}/doors/${sensor}/availability`,
    }),
  };
}

export type SiteTopics = ReturnType<typeof siteTopics>;

/** A visit as `events` carries it (Frigate's `after`). */
export interface EventView {
  id: string;
  camera: string;
  label: string;
  score: number;
  top_score: number;
  box: [number, number, number, number];
  /** Epoch seconds. */
  start_time: number;
  end_time: number | null;
  frame_time: number;
  has_clip: boolean;
  has_snapshot: boolean;
  stationary: boolean;
  motion_only: boolean;
  /** Most objects of each kind seen at once. */
  counts: Record<string, number>;
  end_reason: "left" | "disarmed" | "stopped" | null;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

export function eventFromAlert(alert: AlertEvent): EventView {
  return {
    id: alert.id,
    camera: alert.cameraName,
    label: alert.label,
    score: alert.score,
    top_score: alert.score,
    box: alert.box,
    start_time: seconds(alert.startedAt),
    end_time: null,
    frame_time: seconds(alert.at),
    has_clip: false,
    has_snapshot: true,
    stationary: false,
    motion_only: alert.motionOnly,
    counts: countObjects(alert),
    end_reason: null,
  };
}

function countObjects(alert: AlertEvent): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of alert.objects.length ? alert.objects : [{ label: alert.label }]) counts[o.label] = (counts[o.label] ?? 0) + 1;
  return counts;
}

export function eventAfterVisit(before: EventView, visit: VisitEvent): EventView {
  return {
    ...before,
    counts: { ...visit.counts },
    stationary: visit.stationary,
    frame_time: seconds(visit.at),
    end_time: visit.phase === "end" ? seconds(visit.lastSeenAt) : null,
    end_reason: visit.phase === "end" ? (visit.reason ?? "left") : null,
  };
}

export function eventsMessage(topics: SiteTopics, type: "new" | "update" | "end", before: EventView | null, after: EventView): Message {
  return { topic: topics.events, payload: JSON.stringify({ type, before, after }), retain: false };
}

/** The per-camera count topics after a change: each label, and `all`. Labels no longer seen go to 0. */
export function countMessages(topics: SiteTopics, camera: string, counts: Record<string, number>, previous: Record<string, number>): Message[] {
  const labels = new Set([...Object.keys(counts), ...Object.keys(previous)]);
  const out: Message[] = [];
  for (const label of labels) out.push({ topic: topics.camera(camera).count(label), payload: String(counts[label] ?? 0), retain: true });
  out.push({ topic: topics.camera(camera).count("all"), payload: String(Object.values(counts).reduce((a, b) => a + b, 0)), retain: true });
  return out;
}

/** The messages a pipeline event makes by itself (the bridge adds `events` and counts, which need memory). */
export function simpleMessages(topics: SiteTopics, event: PipelineEvent): Message[] {
  switch (event.type) {
    case "motion":
      return [{ topic: topics.camera(event.cameraName).motion, payload: event.state === "start" ? "ON" : "OFF", retain: true }];
    case "camera-online":
      return [{ topic: topics.camera(event.cameraName).status, payload: "online", retain: true }];
    case "camera-offline":
      return [{ topic: topics.camera(event.cameraName).status, payload: "offline", retain: true }];
    case "alert":
      return [
        { topic: topics.camera(event.cameraName).snapshot, payload: event.snapshot, retain: true },
        { topic: topics.alerts, payload: JSON.stringify({ event_type: "alert", camera: event.cameraName, label: event.label, score: event.score, id: event.id }), retain: false },
      ];
    default:
      return [];
  }
}

export function doorMessages(topics: SiteTopics, event: DoorEvent): Message[] {
  return [{ topic: topics.door(event.sensorName).state, payload: event.state === "open" ? "ON" : "OFF", retain: true }];
}
