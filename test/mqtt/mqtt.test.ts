/**
 * Vigil on a real Mosquitto, as Home Assistant sees it: availability and
 * discovery (checked key by key against HA's documented schema), the alarm
 * panel's commands reaching Vigil and the chat, a real camera's motion and a
 * real visit's events, snapshot, counts and occupancy, hostile messages on
 * every topic Vigil listens to, and the broker killed and started again.
 */
import type { Chat, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeAlert } from "../support/alerts.js";
import { startBroker, watch, type Broker, type Watcher } from "../support/mosquitto.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { jpegFrame } from "../support/video.js";
import { until } from "../support/wait.js";
import { claim, startHarness, type Harness } from "../bot/harness.js";
import { discoveryProblems } from "./ha-schema.js";

const DISCOVERY = "homeassistant/device/vigil_home/config";
let broker: Broker;
let rtsp: RtspTestServer;
let h: Harness;
let ha: Watcher;
let alice: User;
let group: Chat;
const logLines: string[] = [];

beforeAll(async () => {
  broker = await startBroker();
  rtsp = await startRtspServer({ mounts: [{ name: "yard", clip: footage("wallflower_wavingtrees_10fps.mp4"), clipOptions: { width: 640, height: 360 } }] });
  ha = await watch(broker.url, ["vigil/#", "homeassistant/#"]);
  h = await startHarness({
    logLines,
    mqtt: { reconnectMs: 200 },
    setup: async (store) => {
      await store.setMqtt({ url: broker.url, site: "home", discoveryPrefix: "homeassistant", presenceTopic: "homeassistant/group/family/state" });
      await store.addCamera({ name: "yard", url: rtsp.url("yard") });
    },
  });
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice });
  await claim(h, alice, group);
}, 180_000);

afterAll(async () => {
  await h?.stop();
  await ha?.close();
  await rtsp?.close();
  await broker?.stop();
});

type EventMessage = { type: string; before: Record<string, unknown> | null; after: Record<string, unknown> };
const eventsOf = (w: Watcher): EventMessage[] => w.messages.filter((m) => m.topic === "vigil/home/events").map((m) => JSON.parse(m.payload.toString()) as EventMessage);
const discovery = () => JSON.parse(ha.last(DISCOVERY) ?? "null") as { cmps: Record<string, Record<string, unknown>> } | null;

describe("Vigil on MQTT", () => {
  it("says online on a retained availability topic and announces itself to Home Assistant as one device that HA's schema accepts", async () => {
    await until(() => ha.last("vigil/home/availability") === "online", 20_000, "availability online");
    await until(() => discovery() !== null, 20_000, "discovery");
    const payload = discovery()!;
    expect(discoveryProblems(payload)).toEqual([]);
    const camera = h.store.camera("yard")!;
    const byPlatform = Object.values(payload.cmps).map((c) => `${String(c.p)}:${String(c.device_class ?? c.name)}`);
    expect(byPlatform).toEqual(expect.arrayContaining(["alarm_control_panel:Alarm", "switch:Armed", "event:Alert", "binary_sensor:motion", "binary_sensor:occupancy", "image:yard last alert", "sensor:yard objects"]));
    expect(payload.cmps[`vigil_home_${camera.id}_motion`]).toMatchObject({ state_topic: "vigil/home/yard/motion", availability_mode: "all" });
    // Retained: a client that subscribes later (HA after a restart) is told at once.
    const later = await watch(broker.url, ["vigil/home/availability"]);
    await until(() => later.messages.length > 0, 10_000, "the retained availability");
    expect(later.messages[0]).toMatchObject({ retain: true });
    expect(later.last("vigil/home/availability")).toBe("online");
    await later.close();
    expect(ha.last("vigil/home/alarm/state")).toBe("disarmed");
    expect(ha.last("vigil/home/armed/state")).toBe("OFF");
    const status = await h.ask(alice, group, "/status");
    expect(status.text).toContain(`MQTT: connected to ${broker.url}.`);
  });

  it("sets the mode from the alarm panel's command topic, one to one: the state topic and the chat are told", async () => {
    const notice = (mark: number, text: string) => h.tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && Number(r.params.chat_id) === group.id && String(r.params.text).startsWith(text) && r.params.disable_notification === true, { after: mark, timeoutMs: 20_000 });
    for (const [command, mode, state] of [["ARM_NIGHT", "night", "armed_night"], ["DISARM", "off", "disarmed"], ["ARM_HOME", "home", "armed_home"]] as const) {
      const mark = h.tg.mark();
      await ha.publish("vigil/home/alarm/set", command);
      await until(() => h.control.mode().mode === mode, 10_000, `mode ${mode}`);
      await until(() => ha.last("vigil/home/alarm/state") === state, 10_000, `panel state ${state}`);
      expect(ha.last("vigil/home/armed/state")).toBe(mode === "off" ? "OFF" : "ON");
      // The camera may alert first now that Vigil is armed: look for the notice among what comes.
      await notice(mark, `${mode === "off" ? "Disarmed" : `Armed ${mode}`} from Home Assistant.`);
    }
    // A mode set in the chat reaches the panel too.
    expect((await h.ask(alice, group, "/mode night")).text).toMatch(/^Armed night/);
    await until(() => ha.last("vigil/home/alarm/state") === "armed_night", 10_000, "panel follows the chat");
  });

  it("follows Home Assistant presence: away when everyone has left, home when someone is back", async () => {
    await ha.publish("homeassistant/group/family/state", "not_home");
    await until(() => h.control.mode().mode === "away", 10_000, "away on not_home");
    await until(() => ha.last("vigil/home/alarm/state") === "armed_away", 10_000, "panel armed_away");
    await ha.publish("homeassistant/group/family/state", '{"state":"home"}');
    await until(() => h.control.mode().mode === "home", 10_000, "home on home");
    expect(h.control.mode().by).toEqual({ kind: "presence", presence: "home" });
    // Junk on the presence topic changes nothing.
    for (const junk of ["unknown", "x".repeat(2000), Buffer.from([0xff])]) await ha.publish("homeassistant/group/family/state", junk);
    await ha.publish("vigil/home/alarm/set", "ARM_HOME"); // a barrier: handled after the junk
    await until(() => logLines.some((l) => l.includes("ignored a message") && l.includes("homeassistant/group/family/state")), 10_000, "the junk logged");
    expect(h.control.mode().mode).toBe("home");
  });

  it("ignores hostile messages on every topic it listens to: nothing changes, nothing crashes, one log line each", async () => {
    const junk: [string, string | Buffer][] = [];
    for (const topic of ["vigil/home/alarm/set", "vigil/home/armed/set", "homeassistant/status", "zigbee2mqtt/whatever", "homeassistant/group/family/state"]) {
      junk.push([topic, "not json {"], [topic, Buffer.alloc(1024 * 1024, 0x41)], [topic, '{"contact": "yes", "battery": "lots"}'], [topic, "arm_away"], [topic, Buffer.from([0xff, 0xfe, 0x00])], [topic, "DISARM".repeat(100)], [topic, "[1,2,3]"]);
    }
    for (const [topic, payload] of junk) await ha.publish(topic, payload);
    // A command after the junk is still obeyed: the bridge read every message before it, in order.
    await ha.publish("vigil/home/armed/set", "ON");
    await until(() => logLines.some((l) => l.includes("ignored a message") && l.includes("vigil/home/armed/set")), 10_000, "the junk logged");
    expect(h.store.isArmed()).toBe(true);
    expect(ha.last("vigil/home/alarm/state")).toBe("armed_away");
    const ignoredLines = logLines.filter((l) => l.includes("ignored a message"));
    // One line per topic per 10 s, however many bad messages.
    expect(ignoredLines.length).toBeLessThanOrEqual(5);
    expect(logLines.some((l) => l.includes("over the size limit"))).toBe(true);
  });

  it("sends discovery and state again when Home Assistant says it is online", async () => {
    const before = ha.messages.filter((m) => m.topic === DISCOVERY).length;
    await ha.publish("homeassistant/status", "online");
    await until(() => ha.messages.filter((m) => m.topic === DISCOVERY).length > before, 10_000, "discovery again");
    expect(discoveryProblems(discovery())).toEqual([]);
  });

  it("publishes a real camera's motion, and a real visit as Frigate-style events with its snapshot, counts and occupancy", async () => {
    await until(() => ha.last("vigil/home/yard/status") === "online", 30_000, "camera online");
    await until(() => ha.last("vigil/home/yard/motion") === "ON", 60_000, "motion ON");
    await until(() => eventsOf(ha).some((e) => e.type === "new"), 90_000, "an event");
    const newEvent = eventsOf(ha).find((e) => e.type === "new")!;
    expect(newEvent).toMatchObject({ type: "new", before: null, after: { camera: "yard", label: "person", end_time: null, has_snapshot: true, has_clip: false } });
    expect(newEvent.after.box).toHaveLength(4);
    expect(ha.lastBuffer("vigil/home/yard/snapshot")?.subarray(0, 2).toString("hex")).toBe("ffd8");
    expect(ha.messages.some((m) => m.topic === "vigil/home/yard/person" && m.payload.toString() === "1")).toBe(true);
    expect(ha.messages.some((m) => m.topic === "vigil/home/yard/occupancy" && m.payload.toString() === "ON")).toBe(true);
    expect(JSON.parse(ha.last("vigil/home/alerts")!)).toMatchObject({ event_type: "alert", camera: "yard", label: "person" });
    expect(ha.messages.some((m) => m.topic === "vigil/home/alarm/state" && m.payload.toString() === "triggered")).toBe(true);
    const id = newEvent.after.id;
    await until(() => eventsOf(ha).some((e) => e.type === "end" && e.after.id === id), 60_000, "the visit's end");
    const end = eventsOf(ha).find((e) => e.type === "end" && e.after.id === id)!;
    expect(end.before?.end_time).toBeNull();
    expect(end.after.end_time).toEqual(expect.any(Number));
    expect(end.after.counts).toMatchObject({ person: 1 });
    await until(() => ha.last("vigil/home/yard/occupancy") === "OFF" && ha.last("vigil/home/yard/person") === "0", 10_000, "occupancy off");
    await until(() => eventsOf(ha).some((e) => e.after.id === id && e.after.has_clip === true), 60_000, "has_clip");
  }, 240_000);

  it("survives the broker being killed: says so in /status, keeps alerting in the chat, reconnects and republishes availability and discovery", async () => {
    await broker.kill();
    await until(() => h.vigil.mqtt?.status().state === "down", 20_000, "the link down");
    const status = await h.ask(alice, group, "/status");
    expect(status.text).toMatch(/MQTT: not connected to mqtt:\/\/127\.0\.0\.1:\d+ since (\w{3} )?\d\d:\d\d \(.+\); retrying by itself\./);
    // Alerts do not wait for the broker.
    const camera = h.store.camera("yard")!;
    const mark = h.tg.mark();
    const alert = makeAlert({ cameraId: camera.id, cameraName: camera.name, at: Date.now(), snapshot: await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25) });
    await h.bot.publish(alert);
    h.vigil.mqtt?.handle(alert);
    const photo = await h.tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 20_000 });
    expect(photo.caption).toContain("Person on yard");

    const killedAt = Date.now();
    await broker.start();
    // A broker that restarted has forgotten every retained message: a new client sees them only if Vigil sent them again.
    await until(() => h.vigil.mqtt?.status().state === "connected", 30_000, "reconnected");
    const reconnectMs = Date.now() - killedAt;
    const fresh = await watch(broker.url, ["vigil/home/availability", DISCOVERY, "vigil/home/alarm/state"]);
    try {
      await until(() => fresh.last("vigil/home/availability") === "online" && fresh.last(DISCOVERY) !== undefined && fresh.last("vigil/home/alarm/state") !== undefined, 20_000, "retained state again");
      expect(discoveryProblems(JSON.parse(fresh.last(DISCOVERY)!))).toEqual([]);
    } finally {
      await fresh.close();
    }
    expect(logLines.filter((l) => l.includes("MQTT: connected again")).length).toBeGreaterThanOrEqual(1);
    console.log(`MQTT reconnect after the broker restarted: ${reconnectMs} ms`);
  }, 120_000);

  it("a renamed camera's old retained topics are cleared, and Home Assistant is told its new name", async () => {
    await until(() => ha.lastBuffer("vigil/home/yard/snapshot") !== undefined, 10_000, "the snapshot retained");
    await h.control.renameCamera("yard", "porch");
    await until(() => Object.values(discovery()?.cmps ?? {}).some((c) => c.name === "porch motion"), 10_000, "discovery with the new name");
    expect(discoveryProblems(discovery())).toEqual([]);
    await until(() => ha.lastBuffer("vigil/home/yard/snapshot")?.length === 0, 10_000, "the old snapshot cleared");
    // A client that subscribes now finds nothing left under the old name.
    const later = await watch(broker.url, ["vigil/home/yard/#"]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(later.messages.map((m) => m.topic)).toEqual([]);
    } finally {
      await later.close();
    }
    await until(() => ha.last("vigil/home/porch/status") !== undefined, 30_000, "the new name's status");
  }, 60_000);

  it("says offline on the availability topic when Vigil stops", async () => {
    await h.vigil.mqtt?.closed();
    await until(() => ha.last("vigil/home/availability") === "offline", 20_000, "offline");
  });
});
