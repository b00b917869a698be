/**
 * The door and window sensors: the one owner of their states and of the
 * debounce timers. Readings come in from every source (the MQTT bridge, the
 * webhook listener, gpiomon); debounced changes go out as {@link DoorEvent}s.
 * It also keeps, per camera, when one of its doors last opened (for
 * `afterdoor`), and the Zigbee2MQTT contact sensors seen on the broker.
 */
import { randomBytes } from "node:crypto";
import type { Camera } from "../domain/camera.js";
import type { DoorEvent, NewSensorInput, SeenContactDevice, Sensor, SensorControl, SensorReading, SensorState } from "../domain/sensors.js";
import type { Logger } from "../log.js";
import { read, settle, settleAt, type Debounced } from "./door-rules.js";

export interface SensorStore {
  sensors(): readonly Sensor[];
  cameras(): readonly Camera[];
  addSensor(input: NewSensorInput): Promise<Sensor>;
  removeSensor(name: string): Promise<Sensor>;
  linkSensor(name: string, cameras: readonly string[]): Promise<Sensor>;
  muteSensor(id: string, until: number | null): Promise<Sensor>;
}

export interface SensorHubOptions {
  store: SensorStore;
  logger: Logger;
  now?: () => number;
}

export interface SensorHub extends SensorControl {
  /** Readings from any source; unknown sensors are ignored. */
  reading(reading: SensorReading): void;
  states(): SensorState[];
  /** Sensor configurations (the store's). */
  configured(): readonly Sensor[];
  sawContactDevice(name: string, topic: string, at: number): void;
  /** When a door linked to this camera last opened (epoch ms), since this start. */
  lastOpenedFor(cameraId: string): number | undefined;
  /** Debounced changes. Returns the unsubscribe function. */
  subscribe(listener: (event: DoorEvent) => void): () => void;
  /** Battery or availability changed. */
  onDetails(listener: () => void): () => void;
  /** Clears the timers. */
  close(): void;
}

interface Live {
  debounced: Debounced;
  changedAt: number;
  battery: number | undefined;
  batteryLow: boolean;
  online: boolean;
  timer?: NodeJS.Timeout | undefined;
  lastOpenedAt?: number | undefined;
}

export function createSensorHub(options: SensorHubOptions): SensorHub {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const live = new Map<string, Live>();
  const listeners = new Set<(event: DoorEvent) => void>();
  const detailListeners = new Set<() => void>();
  const seen = new Map<string, SeenContactDevice>();

  const stateOf = (id: string): Live => {
    let entry = live.get(id);
    if (!entry) live.set(id, (entry = { debounced: { open: undefined }, changedAt: 0, battery: undefined, batteryLow: false, online: true }));
    return entry;
  };
  const find = (id: string) => store.sensors().find((s) => s.id === id);

  function emit(event: DoorEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.error({ err: error }, "a door event listener failed");
      }
    }
  }

  function details(): void {
    for (const listener of detailListeners) {
      try {
        listener();
      } catch (error) {
        logger.error({ err: error }, "a sensor listener failed");
      }
    }
  }

  function states(): SensorState[] {
    return store.sensors().map((sensor) => {
      const entry = live.get(sensor.id);
      return { sensor, open: entry?.debounced.open, changedAt: entry?.changedAt ?? 0, battery: entry?.battery, batteryLow: entry?.batteryLow ?? false, online: entry?.online ?? true };
    });
  }

  function check(sensorId: string): void {
    const sensor = find(sensorId);
    const entry = live.get(sensorId);
    if (!sensor || !entry) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const t = now();
    const result = settle(entry.debounced, sensor.debounceMs, t);
    entry.debounced = result.state;
    if (result.changed) {
      entry.changedAt = t;
      if (result.changed.to) entry.lastOpenedAt = result.changed.since;
      logger.info({ sensor: sensor.name, state: result.changed.to ? "open" : "closed", first: result.changed.from === undefined }, "door sensor changed");
      emit({ type: "door", id: randomBytes(8).toString("hex"), sensorId, sensorName: sensor.name, kind: sensor.kind, state: result.changed.to ? "open" : "closed", at: t, since: result.changed.since, ...(result.changed.from === undefined ? { first: true } : {}) });
      return;
    }
    const at = settleAt(entry.debounced, sensor.debounceMs);
    if (at !== undefined) {
      entry.timer = setTimeout(() => check(sensorId), Math.max(0, at - now()));
      entry.timer.unref();
    }
  }

  return {
    reading(reading) {
      const sensor = find(reading.sensorId);
      if (!sensor) return;
      const entry = stateOf(sensor.id);
      let detailChanged = false;
      if (reading.battery !== undefined && reading.battery !== entry.battery) {
        entry.battery = reading.battery;
        detailChanged = true;
      }
      if (reading.batteryLow !== undefined && reading.batteryLow !== entry.batteryLow) {
        entry.batteryLow = reading.batteryLow;
        detailChanged = true;
        if (reading.batteryLow) logger.warn({ sensor: sensor.name }, "door sensor battery low");
      }
      if (reading.online !== undefined && reading.online !== entry.online) {
        entry.online = reading.online;
        detailChanged = true;
        logger[reading.online ? "info" : "warn"]({ sensor: sensor.name }, reading.online ? "door sensor online" : "door sensor offline");
      }
      if (detailChanged) details();
      if (reading.open === undefined) return;
      entry.debounced = read(entry.debounced, reading.open, reading.at);
      check(sensor.id);
    },
    states,
    sensors: states,
    configured: () => store.sensors(),
    sawContactDevice(name, topic, at) {
      if (store.sensors().some((s) => s.source.type === "mqtt" && s.source.topic === topic)) return;
      seen.delete(topic);
      seen.set(topic, { name: name.slice(0, 64), topic, lastSeenAt: at });
      if (seen.size > 100) seen.delete(seen.keys().next().value!);
    },
    seenContactDevices: () =>
      [...seen.values()].filter((d) => !store.sensors().some((s) => s.source.type === "mqtt" && s.source.topic === d.topic)).sort((a, b) => b.lastSeenAt - a.lastSeenAt),
    lastOpenedFor(cameraId) {
      let last: number | undefined;
      for (const sensor of store.sensors()) {
        if (!sensor.cameras.includes(cameraId)) continue;
        const opened = live.get(sensor.id)?.lastOpenedAt;
        if (opened !== undefined && (last === undefined || opened > last)) last = opened;
      }
      return last;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onDetails(listener) {
      detailListeners.add(listener);
      return () => detailListeners.delete(listener);
    },
    addSensor: (input) => store.addSensor(input),
    async removeSensor(name) {
      const removed = await store.removeSensor(name);
      clearTimeout(live.get(removed.id)?.timer);
      live.delete(removed.id);
      return removed;
    },
    linkSensor: (name, cameras) => store.linkSensor(name, cameras),
    muteSensor: (id, until) => store.muteSensor(id, until),
    close() {
      for (const entry of live.values()) clearTimeout(entry.timer);
    },
  };
}
