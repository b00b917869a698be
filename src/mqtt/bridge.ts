/**
 * Vigil on MQTT: the bridge between the broker and the rest of Vigil. It owns
 * the connection (src/mqtt/connection.ts) and talks to Vigil only through the
 * control interface, the pipeline's events, the door events and the sensor
 * readings it hands on. Out: visits as `events`, motion, object counts,
 * occupancy, the last alert's JPEG, camera status, the alarm state and Home
 * Assistant discovery. In: the alarm panel's and the armed switch's commands,
 * Home Assistant's `online`, and the door sensors' topics.
 *
 * Every message that comes in is bounded and checked; one that is not what
 * the topic carries changes nothing and is said in the log (at most once per
 * topic every 10 s, so a flood cannot flood the log).
 */
import type { Control } from "../domain/control.js";
import type { PipelineEvent } from "../domain/events.js";
import type { MqttLinkStatus, MqttSettings } from "../domain/mqtt.js";
import type { DoorEvent, Sensor, SensorReading, SensorState } from "../domain/sensors.js";
import type { Logger } from "../log.js";
import { parseFieldReading, parseZigbee2mqtt, parseZigbee2mqttAvailability } from "../sensors/readings.js";
import { panelState, parsePanelCommand, parsePresence, parseSwitchCommand, type PanelCommand } from "./alarm-panel.js";
import { connectMqtt, type MqttConnection } from "./connection.js";
import { buildDiscovery, type Component } from "./discovery.js";
import { countMessages, doorMessages, eventAfterVisit, eventFromAlert, eventsMessage, simpleMessages, siteTopics, type EventView, type Message } from "./topics.js";

/** How long the panel reads `triggered` after an alert while armed. */
export const TRIGGERED_MS = 60_000;
const ZIGBEE2MQTT = "zigbee2mqtt";
const MAX_EVENTS_KEPT = 200;

export interface BridgeSensors {
  sensors(): readonly Sensor[];
  states(): SensorState[];
  /** A reading from an MQTT sensor topic. */
  reading(reading: SensorReading): void;
  /** A Zigbee2MQTT device reporting `contact` was seen (for `/addsensor`). */
  sawContactDevice(name: string, topic: string, at: number): void;
}

export interface MqttBridgeOptions {
  settings: MqttSettings;
  /** The mode is changed here (the chat hears of it from the control, like any change not made in the chat). */
  control: Pick<Control, "mode" | "setMode" | "setPresence" | "cameras" | "status">;
  sensors: BridgeSensors;
  logger: Logger;
  signal: AbortSignal;
  version: string;
  /** Connection tuning (tests). */
  reconnectMs?: number;
  refusedReconnectMs?: number;
  now?: () => number;
}

export interface MqttBridge {
  status(): MqttLinkStatus;
  /** Every pipeline event (after the door gate), in order. */
  handle(event: PipelineEvent): void;
  door(event: DoorEvent): void;
  /** A sensor's battery or availability changed. */
  sensorChanged(): void;
  /** The cameras or the sensors changed (store): discovery, subscriptions and state again; a renamed or removed one's retained topics are cleared. */
  configChanged(): void;
  /** The mode changed (chat, schedule, presence, the panel itself). */
  modeChanged(): void;
  /** An alert went out that did not come from the pipeline (a door): the panel reads `triggered` for a while. */
  trigger(): void;
  /** Publishes `offline` and closes. */
  closed(): Promise<void>;
}

export function createMqttBridge(options: MqttBridgeOptions): MqttBridge {
  const { settings, control, sensors, logger } = options;
  const now = options.now ?? Date.now;
  const topics = siteTopics(settings.site);
  const prefix = settings.discoveryPrefix;
  const haStatus = `${prefix}/status`;
  /** Open visits per camera name: visit id → counts. */
  const visits = new Map<string, Map<string, Record<string, number>>>();
  const lastCounts = new Map<string, Record<string, number>>();
  const motion = new Map<string, "ON" | "OFF">();
  const events = new Map<string, EventView>();
  let triggeredUntil = 0;
  let triggerTimer: NodeJS.Timeout | undefined;
  let published: Component[] = [];
  let subscribed = new Set<string>();
  const junkLoggedAt = new Map<string, number>();

  const connection: MqttConnection = connectMqtt({
    settings,
    availabilityTopic: topics.availability,
    logger,
    signal: options.signal,
    ...(options.reconnectMs !== undefined ? { reconnectMs: options.reconnectMs } : {}),
    ...(options.refusedReconnectMs !== undefined ? { refusedReconnectMs: options.refusedReconnectMs } : {}),
    now,
    onConnect: () => {
      subscribed = new Set();
      resubscribe();
      publishAll();
    },
    onMessage,
  });

  const send = (messages: readonly Message[]) => {
    for (const m of messages) connection.publish(m.topic, m.payload, { retain: m.retain, qos: m.retain ? 1 : 0 });
  };

  function ignored(topic: string, why: string): void {
    const t = now();
    const key = topic.slice(0, 200);
    if ((junkLoggedAt.get(key) ?? 0) > t - 10_000) return;
    if (junkLoggedAt.size > 500) junkLoggedAt.clear();
    junkLoggedAt.set(key, t);
    logger.warn({ topic: key }, `MQTT: ignored a message: ${why}`);
  }

  // --- in --------------------------------------------------------------------

  function wantedTopics(): Set<string> {
    const wanted = new Set([topics.alarmSet, topics.armedSet, haStatus, `${ZIGBEE2MQTT}/+`]);
    if (settings.presenceTopic) wanted.add(settings.presenceTopic);
    for (const sensor of sensors.sensors()) {
      if (sensor.source.type !== "mqtt") continue;
      wanted.add(sensor.source.topic);
      if (sensor.source.format === "zigbee2mqtt") wanted.add(`${sensor.source.topic}/availability`);
    }
    return wanted;
  }

  function resubscribe(): void {
    const wanted = wantedTopics();
    connection.unsubscribe([...subscribed].filter((t) => !wanted.has(t)));
    connection.subscribe([...wanted].filter((t) => !subscribed.has(t)));
    subscribed = wanted;
  }

  function onMessage(topic: string, payload: Buffer): void {
    if (topic === topics.alarmSet || topic === topics.armedSet) {
      const command = topic === topics.alarmSet ? parsePanelCommand(payload) : parseSwitchCommand(payload);
      if (!command) return ignored(topic, topic === topics.alarmSet ? "not an alarm panel command (DISARM, ARM_AWAY, ARM_HOME, ARM_NIGHT)" : "not ON or OFF");
      void runCommand(command, topic === topics.alarmSet ? "the alarm panel" : "the armed switch");
      return;
    }
    if (topic === settings.presenceTopic) {
      const presence = parsePresence(payload);
      if (!presence) return ignored(topic, "not a presence state (home, not_home or a zone)");
      void control.setPresence(presence).catch((error: unknown) => logger.error({ err: error }, "MQTT: presence could not change the mode"));
      return;
    }
    if (topic === haStatus) {
      if (payload.length <= 16 && payload.toString().trim() === "online") {
        logger.info("MQTT: Home Assistant is online; sending discovery and state again");
        publishAll();
      }
      return;
    }
    const at = now();
    let matched = false;
    for (const sensor of sensors.sensors()) {
      const source = sensor.source;
      if (source.type !== "mqtt") continue;
      if (topic === source.topic) {
        matched = true;
        const fields = source.format === "zigbee2mqtt" ? parseZigbee2mqtt(payload) : parseFieldReading(payload, source.field, source.openValue ?? "true");
        if (!fields) ignored(topic, source.format === "zigbee2mqtt" ? "not Zigbee2MQTT state JSON with contact, battery or battery_low" : `not a reading of ${source.field ?? "the payload"}`);
        else sensors.reading({ sensorId: sensor.id, at, ...fields });
      } else if (source.format === "zigbee2mqtt" && topic === `${source.topic}/availability`) {
        matched = true;
        const online = parseZigbee2mqttAvailability(payload);
        if (online === undefined) ignored(topic, "not online or offline");
        else sensors.reading({ sensorId: sensor.id, at, online });
      }
    }
    if (!matched && topic.startsWith(`${ZIGBEE2MQTT}/`) && topic.split("/").length === 2 && topic !== `${ZIGBEE2MQTT}/bridge`) {
      const fields = parseZigbee2mqtt(payload);
      if (fields?.open !== undefined) sensors.sawContactDevice(topic.slice(ZIGBEE2MQTT.length + 1), topic, at);
    }
  }

  async function runCommand(command: PanelCommand, from: string): Promise<void> {
    try {
      await control.setMode(command.mode, { kind: "mqtt" });
    } catch (error) {
      logger.error({ err: error }, "MQTT: the alarm panel's command failed");
      return;
    }
    logger.info({ mode: command.mode, from }, "MQTT: mode set from Home Assistant");
    publishArmState();
  }

  // --- out -------------------------------------------------------------------

  function publishArmState(): void {
    const { mode } = control.mode();
    send([
      { topic: topics.alarmState, payload: panelState(mode, triggeredUntil, now()), retain: true },
      { topic: topics.armedState, payload: mode === "off" ? "OFF" : "ON", retain: true },
    ]);
  }

  function trigger(): void {
    if (control.mode().mode === "off") return;
    triggeredUntil = now() + TRIGGERED_MS;
    clearTimeout(triggerTimer);
    triggerTimer = setTimeout(publishArmState, TRIGGERED_MS + 50);
    triggerTimer.unref();
    publishArmState();
  }

  function publishDiscovery(): void {
    const discovery = buildDiscovery({ prefix, site: settings.site, topics, cameras: control.cameras(), sensors: sensors.sensors(), version: options.version }, published);
    connection.publish(discovery.topic, JSON.stringify(discovery.payload), { retain: true, qos: 1 });
    published = Object.values(discovery.payload.cmps).filter((c) => Object.keys(c).length > 1);
  }

  function publishSensors(): void {
    for (const state of sensors.states()) {
      const t = topics.door(state.sensor.name);
      const out: Message[] = [{ topic: t.availability, payload: state.online ? "online" : "offline", retain: true }];
      if (state.open !== undefined) out.push({ topic: t.state, payload: state.open ? "ON" : "OFF", retain: true });
      if (state.battery !== undefined) out.push({ topic: t.battery, payload: String(state.battery), retain: true });
      out.push({ topic: t.batteryLow, payload: state.batteryLow ? "ON" : "OFF", retain: true });
      send(out);
    }
  }

  /** Names whose retained topics Vigil has published, by camera or sensor id. */
  const names = { cameras: new Map<string, string>(), sensors: new Map<string, string>() };
  function noteNames(): void {
    for (const c of control.cameras()) names.cameras.set(c.id, c.name);
    for (const s of sensors.sensors()) names.sensors.set(s.id, s.name);
  }

  /** An empty retained message deletes what the broker keeps: a removed or renamed camera or door leaves nothing stale. */
  function clearGone(): void {
    const clear = (topic: string): Message => ({ topic, payload: "", retain: true });
    const cameraNow = new Map(control.cameras().map((c) => [c.id, c.name]));
    for (const [id, name] of names.cameras) {
      if (cameraNow.get(id) === name) continue;
      const t = topics.camera(name);
      send([t.motion, t.occupancy, t.snapshot, t.status, t.count("all"), ...Object.keys(lastCounts.get(name) ?? {}).map((label) => t.count(label))].map(clear));
      names.cameras.delete(id);
      for (const map of [visits, lastCounts, motion]) map.delete(name);
    }
    const sensorNow = new Map(sensors.sensors().map((s) => [s.id, s.name]));
    for (const [id, name] of names.sensors) {
      if (sensorNow.get(id) === name) continue;
      const t = topics.door(name);
      send([t.state, t.battery, t.batteryLow, t.availability].map(clear));
      names.sensors.delete(id);
    }
  }

  function publishCameras(): void {
    void control.status().then((status) => {
      for (const { camera, live } of status.cameras) {
        const t = topics.camera(camera.name);
        const open = visits.get(camera.name);
        const counts = lastCounts.get(camera.name) ?? {};
        send([
          { topic: t.status, payload: live?.state === "offline" ? "offline" : "online", retain: true },
          { topic: t.motion, payload: motion.get(camera.name) ?? "OFF", retain: true },
          { topic: t.occupancy, payload: open && open.size ? "ON" : "OFF", retain: true },
          ...countMessages(topics, camera.name, counts, {}),
        ]);
      }
    }, (error: unknown) => logger.error({ err: error }, "MQTT: could not read the cameras' state"));
  }

  function publishAll(): void {
    noteNames();
    publishDiscovery();
    publishArmState();
    publishCameras();
    publishSensors();
  }

  function updateCounts(camera: string): void {
    const open = visits.get(camera) ?? new Map<string, Record<string, number>>();
    const counts: Record<string, number> = {};
    for (const visit of open.values()) for (const [label, n] of Object.entries(visit)) counts[label] = (counts[label] ?? 0) + n;
    send([...countMessages(topics, camera, counts, lastCounts.get(camera) ?? {}), { topic: topics.camera(camera).occupancy, payload: open.size ? "ON" : "OFF", retain: true }]);
    lastCounts.set(camera, counts);
  }

  function keep(view: EventView): void {
    events.delete(view.id);
    events.set(view.id, view);
    if (events.size > MAX_EVENTS_KEPT) events.delete(events.keys().next().value!);
  }

  return {
    status: () => connection.status(),
    handle(event) {
      send(simpleMessages(topics, event));
      switch (event.type) {
        case "motion":
          motion.set(event.cameraName, event.state === "start" ? "ON" : "OFF");
          return;
        case "alert": {
          const view = eventFromAlert(event);
          keep(view);
          send([eventsMessage(topics, "new", null, view)]);
          const open = visits.get(event.cameraName) ?? new Map<string, Record<string, number>>();
          open.set(event.id, view.counts);
          visits.set(event.cameraName, open);
          updateCounts(event.cameraName);
          trigger();
          return;
        }
        case "visit": {
          const before = events.get(event.id);
          if (!before) return;
          const after = eventAfterVisit(before, event);
          keep(after);
          send([eventsMessage(topics, event.phase === "end" ? "end" : "update", before, after)]);
          const open = visits.get(event.cameraName);
          if (open) {
            if (event.phase === "end") open.delete(event.id);
            else open.set(event.id, { ...event.counts });
            updateCounts(event.cameraName);
          }
          return;
        }
        case "clip-ready": {
          const before = events.get(event.alertId);
          if (!before) return;
          const after = { ...before, has_clip: true };
          keep(after);
          send([eventsMessage(topics, "update", before, after)]);
          return;
        }
        default:
          return;
      }
    },
    door(event) {
      send(doorMessages(topics, event));
    },
    sensorChanged: publishSensors,
    configChanged() {
      if (connection.status().state !== "connected") return;
      clearGone();
      noteNames();
      resubscribe();
      publishDiscovery();
      publishArmState();
      publishCameras();
      publishSensors();
    },
    modeChanged: publishArmState,
    trigger,
    async closed() {
      clearTimeout(triggerTimer);
      await connection.closed();
    },
  };
}
