/**
 * A hub and a satellite meeting on a real Mosquitto, in one process each half
 * wired as `vigil start` wires it (main's assembleVigil and assembleSatellite),
 * with a real camera on the satellite, real detection, real encrypted stores,
 * and the Bot API stand-in:
 *
 * - a satellite nobody adopted is listed as waiting and otherwise ignored; a
 *   wrong code adopts nothing; the right one does, once;
 * - the hub's mode reaches the satellite; its alert arrives in the group as
 *   `garage/yard` with its picture, then turns into its clip; `/events` has it;
 * - `/status`, `/snapshot`, `/set` and `/mute` reach the satellite's camera;
 * - on the broker there is only ciphertext; a replayed message (up or down)
 *   and a forged one are refused, and the chat shows nothing of them.
 */
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { assembleSatellite, type Satellite } from "../../src/main.js";
import { createPipeline, type Pipeline } from "../../src/pipeline/index.js";
import { createRecorder } from "../../src/pipeline/record/index.js";
import type { RecorderHandle } from "../../src/domain/recorder.js";
import { SatelliteLinkState } from "../../src/satellite/link-state.js";
import { newJoinCode, newSalt } from "../../src/satellite/sealing.js";
import { EventHistory } from "../../src/store/event-history.js";
import { createStore, openStore, type Store } from "../../src/store/index.js";
import { claim, startHarness, type Harness } from "../bot/harness.js";
import { addCameraByChat } from "../support/chat.js";
import { startBroker, watch, type Broker, type Watcher } from "../support/mosquitto.js";
import { loopbackDiscovery } from "../support/onvif-device.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

let broker: Broker;
let rtsp: RtspTestServer;
let hub: Harness;
let sat: { store: Store; pipeline: Pipeline; recorder: RecorderHandle; satellite: Satellite; code: string; stop(): Promise<void> };
let spy: Watcher;
let alice: User;
let group: Chat;
const hubLog: string[] = [];
const satLog: string[] = [];

let satDir: string;

/** The satellite garage, as `vigil satellite join` and `vigil start` make it; `again`: started again on the same store. */
async function startSatellite(again = false): Promise<typeof sat> {
  let store: Store;
  let code = "";
  if (again) store = await openStore(satDir, { passphrase: "satellite passphrase" });
  else {
    satDir = path.join(await tempDir(), "sat");
    store = await createStore({ dataDir: satDir, unlock: { passphrase: "satellite passphrase" }, kdfProfile: "interactive", token: "" });
    await store.setSatellite({ url: broker.url, site: "garage", id: "5a7e111e0001" });
    await store.addCamera({ name: "yard", url: rtsp.url("yard") });
    code = await newJoinCode();
    await (await SatelliteLinkState.open(store.vault, { fresh: { code, salt: await newSalt(), now: Date.now() } })).flush();
  }
  const dir = satDir;
  const logger = createLogger({ level: "debug", destination: { write: (line: string) => void satLog.push(line) }, secrets: () => store.secrets() });
  const pipeline = await createPipeline({ logger });
  const recorder = createRecorder({ history: await EventHistory.open(store.vault), retention: { dataDir: dir, limits: () => store.retention() }, logger });
  const printed: string[] = [];
  const satellite = await assembleSatellite({ store, pipeline, recorder, discovery: await loopbackDiscovery(), logger, print: (line) => printed.push(line), link: { heartbeatMs: 2000, resendMs: 3000, reconnectMs: 300 } });
  if (!again) expect(printed[0]).toBe(`Send this in your Telegram group to adopt this box: /adopt garage ${code}`);
  else expect(printed).toEqual([]);
  return {
    store,
    pipeline,
    recorder,
    satellite,
    code,
    async stop() {
      await satellite.stop();
      await pipeline.stop();
      await recorder.stop();
      await store.flush();
    },
  };
}

beforeAll(async () => {
  broker = await startBroker();
  rtsp = await startRtspServer({ mounts: [{ name: "yard", clip: footage("wallflower_wavingtrees_10fps.mp4"), clipOptions: { width: 640, height: 360 } }] });
  spy = await watch(broker.url, ["vigil/satellites/#"]);
  hub = await startHarness({ logLines: hubLog, mqtt: { reconnectMs: 300 }, satellites: { silentAfterMs: 10_000 }, setup: (store) => store.setMqtt({ url: broker.url, site: "home", discoveryPrefix: "homeassistant" }) });
  alice = hub.tg.user({ firstName: "Alice" });
  group = hub.tg.group({ title: "Home", owner: alice });
  await claim(hub, alice, group);
  sat = await startSatellite();
}, 180_000);

afterAll(async () => {
  await sat?.stop();
  await hub?.stop();
  await spy?.close();
  await rtsp?.close();
  await broker?.stop();
});

/** The bot's answer to `text`: the first message it sends to the group after it that matches. */
async function answer(text: string, match: (m: Message) => boolean = () => true, timeoutMs = 60_000): Promise<Message> {
  const mark = hub.tg.mark();
  hub.tg.send(alice, group, text);
  const request = await hub.tg.waitFor((r) => r.ok === true && /^send(Message|Photo|Video|MediaGroup)$/.test(r.method) && Number(r.params.chat_id) === group.id && match(r.result as Message), { after: mark, timeoutMs });
  return request.result as Message;
}
const textOf = (m: Message) => m.text ?? m.caption ?? "";
const alertPhotos = () => hub.tg.messages(group).filter((m) => m.photo && /^Person on garage\/yard/.test(m.caption ?? ""));

describe("a hub and a satellite", () => {
  it("lists a satellite nobody adopted as waiting, ignores it, and adopts nothing with a wrong code", async () => {
    await until(() => hub.vigil.satellites!.list().some((s) => s.site === "garage" && s.state === "waiting"), 30_000, "the satellite is seen waiting");
    const list = await answer("/satellites", (m) => textOf(m).includes("garage"));
    expect(textOf(list)).toMatch(/^garage: waiting to be adopted \(Vigil \S+, announced \d\d:\d\d\): send \/adopt garage followed by the code it printed\.$/);
    expect(textOf(await answer("/status", (m) => textOf(m).includes("running for")))).not.toContain("garage");
    const wrong = sat.code.replace(/^./, (c) => (c === "a" ? "b" : "a"));
    expect(textOf(await answer(`/adopt garage ${wrong}`))).toBe("That code does not match the satellite garage; check the line it printed (each code works once; `vigil satellite join` again makes a new one).");
    expect(textOf(await answer(`/adopt shed ${sat.code}`))).toBe("No satellite called shed is waiting to be adopted; those waiting are garage.");
    expect(sat.satellite.link.status().adopted).toBe(false);
  });

  it("adopts it with its code; its camera is in /status and /cameras as garage/yard; the hub's mode reaches it", async () => {
    const adopted = await answer(`/adopt Garage ${sat.code.toUpperCase()}`, () => true, 90_000);
    expect(textOf(adopted)).toBe("The satellite garage is adopted; its cameras: garage/yard.");
    await sat.satellite.link.adopted();
    expect(textOf(await answer(`/adopt garage ${sat.code}`))).toBe("No satellite called garage is waiting to be adopted: run `vigil satellite join` on it, start it, and check that it reaches the same MQTT broker.");
    const cameras = await answer("/cameras");
    expect(textOf(cameras)).toContain("garage/yard: rtsp://127.0.0.1:");
    await answer("/arm", (m) => /^Armed/.test(textOf(m)));
    await until(() => sat.satellite.control.mode().mode === "away", 30_000, "the satellite follows the hub's mode");
    await until(async () => textOf(await answer("/status", (m) => textOf(m).includes("running for"))).includes("garage/yard: online"), 60_000, "garage/yard online in /status");
    expect(textOf(await answer("/status", (m) => textOf(m).includes("running for")))).toMatch(/\nSatellite garage: heard \d+ s ago, Vigil \S+\.\n/);
    const listed = await answer("/satellites", (m) => textOf(m).includes("garage"));
    expect(textOf(listed)).toMatch(/^garage: heard \d+ s ago · Vigil \S+ · detector yolox-nano-416 working\ngarage\/yard \(online\)$/);
  }, 180_000);

  it("brings the satellite's alert into the group with its picture, then its clip; /events has it", async () => {
    await until(() => alertPhotos().length > 0, 120_000, "an alert from garage/yard");
    const alert = alertPhotos()[0]!;
    expect(alert.caption).toMatch(/^Person on garage\/yard · \d+% · \d\d:\d\d:\d\d · away/);
    await hub.tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true && r.params.message_id === alert.message_id, { timeoutMs: 120_000 });
    const events = await answer("/events", (m) => Boolean(m.photo));
    expect(events.caption ?? "").toContain("garage/yard");
    expect(hub.recorder.status().events).toBeGreaterThan(0);
  }, 300_000);

  it("takes /snapshot, /set and /mute to the satellite's camera", async () => {
    const shot = await answer("/snapshot garage/yard", (m) => Boolean(m.photo));
    expect(shot.caption).toMatch(/^garage\/yard · \d\d:\d\d:\d\d$/);
    expect(textOf(await answer("/set garage/yard sensitivity 3000"))).toBe("sensitivity is now 3000 on garage/yard.");
    expect(sat.store.camera("yard")?.settings.sensitivity).toBe(3000);
    expect(textOf(await answer("/mute yard 30m"))).toMatch(/^garage\/yard is muted until .*\d\d:\d\d \(30 min\)\. \/unmute garage\/yard ends it\.$/);
    expect(sat.store.camera("yard")?.mutedUntil).toBeGreaterThan(Date.now());
    expect(textOf(await answer("/unmute garage/yard"))).toMatch(/garage\/yard/);
    expect(sat.store.camera("yard")?.mutedUntil).toBeNull();
    expect(textOf(await answer("/snapshot shed/yard"))).toBe('There is no camera called "shed/yard"; the cameras are garage/yard.');
  });

  it("shows the broker only ciphertext, and refuses what is replayed or forged there", async () => {
    const ups = spy.messages.filter((m) => m.topic === "vigil/satellites/5a7e111e0001/up");
    const downs = spy.messages.filter((m) => m.topic === "vigil/satellites/5a7e111e0001/down");
    expect(ups.length).toBeGreaterThan(3);
    for (const m of [...ups, ...downs]) expect(m.payload.includes(Buffer.from("yard")) || m.payload.includes(Buffer.from("Person")), m.topic).toBe(false);
    // The alert, as it went over the broker (reliable channel, with its picture): sent again, it is not alerted again.
    const sealedAlert = ups.filter((m) => m.payload[1] === 0).sort((a, b) => b.payload.length - a.payload.length)[0]!;
    const before = alertPhotos().length;
    const mark = hub.tg.mark();
    await spy.publish("vigil/satellites/5a7e111e0001/up", sealedAlert.payload);
    // A forged one: the same with a flipped byte, and one made of nothing.
    const forged = Buffer.from(sealedAlert.payload);
    forged[forged.length - 5]! ^= 0x40;
    await spy.publish("vigil/satellites/5a7e111e0001/up", forged);
    await spy.publish("vigil/satellites/5a7e111e0001/up", Buffer.from("ARM_AWAY"));
    // A command from the hub, replayed to the satellite: refused, not run twice.
    const command = downs.at(-1)!;
    await spy.publish("vigil/satellites/5a7e111e0001/down", command.payload);
    await until(() => hubLog.some((l) => l.includes("not sealed by the satellite was refused")), 20_000, "the forged message refused");
    await until(() => satLog.some((l) => l.includes("a replayed or outdated message from the hub was refused")), 20_000, "the replayed command refused");
    // The chat is asked something after all that: nothing else was said in between.
    await answer("/cameras");
    expect(alertPhotos().length).toBe(before);
    expect(hub.tg.outputs(group, mark).filter((r) => r.method === "sendPhoto")).toEqual([]);
  });

  it("takes one camera's switch and its name to the satellite", async () => {
    expect(textOf(await answer("/disarm garage/yard"))).toContain("garage/yard");
    expect(sat.store.camera("yard")?.armed).toBe(false);
    expect(textOf(await answer("/arm garage/yard"))).toContain("garage/yard");
    expect(sat.store.camera("yard")?.armed).toBe(true);
    expect(textOf(await answer("/rename garage/yard drive"))).toBe("garage/yard is now called garage/drive.");
    expect(sat.store.camera("drive")).toBeDefined();
    expect(textOf(await answer("/rename garage/drive cabin/drive"))).toBe("A camera stays on its box: rename garage/drive to a name without a site, or garage/<name>.");
    // A bare name works when no other box has such a camera (the answer repeats it as typed).
    expect(textOf(await answer("/rename drive yard"))).toBe("drive is now called garage/yard.");
  });

  it("adds a camera named site/camera on that satellite through /addcamera, and removes it with /removecamera", async () => {
    // Disarmed, so no alert comes between the conversation's messages.
    await answer("/disarm", (m) => textOf(m).startsWith("Disarmed"));
    await until(() => sat.satellite.control.mode().mode === "off", 30_000, "the satellite disarmed");
    const saved = await addCameraByChat(hub.tg, hub, alice, group, { name: "garage/porch", url: rtsp.url("yard") }, 90_000);
    expect(textOf(saved)).toMatch(/^Saved garage\/porch\./);
    expect(sat.store.camera("porch")?.url).toBe(rtsp.url("yard"));
    expect(hub.store.camera("porch")).toBeUndefined();
    const question = await answer("/removecamera garage/porch");
    expect(textOf(question)).toBe("Remove garage/porch? Its settings go with it.");
    const mark = hub.tg.mark();
    await hub.tg.answerOf(hub.tg.press(alice, hub.tg.message(group.id, question.message_id)!, "Remove garage/porch"));
    await hub.tg.waitFor((r) => r.method === "editMessageText" && String(r.params.text) === "Removed garage/porch.", { after: mark, timeoutMs: 30_000 });
    expect(sat.store.camera("porch")).toBeUndefined();
  }, 180_000);

  it("says when the satellite stops answering: a command times out in one sentence, the chat is told it is silent, and when it is back", async () => {
    await sat.stop();
    const mark = hub.tg.mark();
    // Silent after 10 s here, said in the chat meanwhile; the command's own answer is the timeout.
    expect(textOf(await answer("/snapshot garage/yard", (m) => textOf(m).includes("did not answer"), 60_000))).toBe("The satellite garage did not answer within 20 s; try again.");
    const silent = await hub.tg.waitFor((r) => r.ok === true && String(r.params.text).startsWith("The satellite garage is silent"), { after: mark, timeoutMs: 60_000 });
    expect(String(silent.params.text)).toMatch(/^The satellite garage is silent: nothing from it since \d\d:\d\d, so no alerts from garage\/yard until it is back\.$/);
    expect(textOf(await answer("/mute garage/yard 30m"))).toMatch(/^The satellite garage is silent since \d\d:\d\d; try again when it is back\.$/);
    expect(textOf(await answer("/status", (m) => textOf(m).includes("running for")))).toMatch(/Satellite garage: silent since \d\d:\d\d\.[\s\S]*garage\/yard: offline .*the satellite garage is silent/);
    const back = hub.tg.mark();
    sat = await startSatellite(true);
    const notice = await hub.tg.waitFor((r) => r.ok === true && String(r.params.text).startsWith("The satellite garage is back"), { after: back, timeoutMs: 90_000 });
    expect(String(notice.params.text)).toMatch(/^The satellite garage is back after \d+ s\.$/);
    expect((await answer("/snapshot garage/yard", (m) => Boolean(m.photo), 90_000)).caption).toMatch(/^garage\/yard · /);
  }, 240_000);
});
