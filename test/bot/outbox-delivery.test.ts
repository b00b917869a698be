/**
 * The outbox sender against the Bot API stand-in over HTTP, with grammY's real
 * client and a real encrypted store: order, no duplicates, flood limits, 429,
 * outages, coalescing, and a SIGKILL in the middle of an outage.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Api } from "grammy";
import type { Chat } from "grammy/types";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { alertButtonState } from "../../src/bot/alert-view.js";
import { ChatRateLimiter } from "../../src/bot/rate-limit.js";
import { createOutboxSender, type OutboxSender } from "../../src/bot/sender.js";
import { pino } from "pino";
import { silentLogger, type Logger } from "../../src/log.js";
import { createStore, openStore, type Store } from "../../src/store/index.js";
import type { RecorderHandle } from "../../src/domain/recorder.js";
import { createRecorder } from "../../src/pipeline/record/index.js";
import { EventHistory } from "../../src/store/event-history.js";
import { Outbox, type NewAlert } from "../../src/store/outbox.js";
import { BotApiStandIn, type RecordedRequest } from "../support/bot-api/index.js";
import { ROOT } from "../support/cli.js";
import { until } from "../support/wait.js";
import { makeAlert } from "../support/alerts.js";
import { jpegFrame, mp4Cut } from "../support/video.js";
import { footage } from "../support/rtsp-server.js";
import { tempDir } from "../support/tmp.js";

const PASS = "delivery test passphrase";

let tg: BotApiStandIn;
let frame: Buffer;
beforeAll(async () => {
  tg = await BotApiStandIn.start();
  frame = await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25);
});
afterAll(() => tg.close());

interface Setup {
  dir: string;
  store: Store;
  outbox: Outbox;
  history: EventHistory;
  recorder: RecorderHandle;
  group: Chat;
  topic: number;
  cameras: { id: string; name: string }[];
}

async function setup(cameraNames: string[]): Promise<Setup> {
  const dir = path.join(await tempDir(), "data");
  const store = await createStore({ dataDir: dir, unlock: { passphrase: PASS }, kdfProfile: "interactive", token: tg.token });
  const group = tg.group({ forum: true, title: "Home" });
  const topic = tg.topic(group, "Alerts");
  await store.addChat({ id: group.id, threadId: topic });
  await store.setModeState({ mode: "away", at: Date.now(), by: { kind: "chat" } });
  const cameras = [];
  for (const [i, name] of cameraNames.entries()) cameras.push(await store.addCamera({ name, url: `rtsp://192.168.1.${20 + i}:554/sub` }));
  const history = await EventHistory.open(store.vault);
  const recorder = createRecorder({ history, retention: { dataDir: dir, limits: () => store.retention() } });
  recorders.push(recorder);
  return { dir, store, outbox: await Outbox.open(store.vault), history, recorder, group, topic, cameras };
}

const recorders: RecorderHandle[] = [];
afterAll(() => Promise.all(recorders.map((r) => r.stop())));

const running: OutboxSender[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  tg.clearFaults();
  await tg.acceptConnections();
});

function startSender(s: Setup, logger: Logger = silentLogger, limiter = new ChatRateLimiter()): OutboxSender {
  const sender = createOutboxSender({
    api: new Api(tg.token, { apiRoot: tg.apiRoot }),
    outbox: s.outbox,
    limiter,
    logger,
    token: tg.token,
    now: Date.now,
    timeZone: undefined,
    buttonState: (cameraId) => alertButtonState(s.store, cameraId),
    clipSource: (alertId) => s.recorder.eventClip(alertId),
    onChatMigrated: (from, to) => s.outbox.retarget(from, to),
  });
  sender.start();
  running.push(sender);
  return sender;
}

function alertOn(camera: { id: string; name: string }, n: number, at = Date.now()): NewAlert {
  return { alertId: `${camera.name}-${n}`, cameraId: camera.id, cameraName: camera.name, label: "person", score: 0.87, at, motionOnly: false, jpeg: frame };
}

/** The successful sends to a chat since `after`, once there are `count`. */
async function sends(chat: Chat, count: number, after = 0): Promise<RecordedRequest[]> {
  await until(() => tg.outputs(chat, after).length >= count, 90_000, `${count} messages reached the chat`);
  return tg.outputs(chat, after);
}

describe("outbox delivery", () => {
  it("sends alerts as photos with caption and buttons, and notices as text, in order, once each, about a second apart", async () => {
    const s = await setup(["front_door", "back_yard"]);
    const [front, back] = s.cameras as [Setup["cameras"][0], Setup["cameras"][0]];
    const mark = tg.mark();
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(front, 1));
    await s.outbox.enqueueNotice(s.store.chats(), "back_yard is offline: connection refused.");
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(back, 1));
    startSender(s);

    const out = await sends(s.group, 3, mark);
    expect(out.map((r) => r.method)).toEqual(["sendPhoto", "sendMessage", "sendPhoto"]);
    const first = tg.message(s.group.id, (out[0]!.result as { message_id: number }).message_id)!;
    expect(first.caption).toMatch(/^Person on front_door · 87% · (\w{3} )?\d\d:\d\d:\d\d$/);
    expect(first.message_thread_id).toBe(s.topic);
    expect(tg.media(first)?.equals(frame)).toBe(true);
    expect(first.reply_markup?.inline_keyboard.map((row) => row.map((b) => b.text))).toEqual([["Mute 30 min", "Mute 2 h"], ["Snapshot", "Disarm"]]);
    expect((out[1]!.result as { text: string }).text).toBe("back_yard is offline: connection refused.");
    // About one message per second per chat.
    expect(out[1]!.at - out[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(out[2]!.at - out[1]!.at).toBeGreaterThanOrEqual(1000);

    await until(() => s.outbox.pending().length === 0, 60_000, "the outbox is empty");
    expect(s.outbox.deliveries("front_door-1")).toMatchObject([{ chatId: s.group.id, messageId: first.message_id }]);
    expect(tg.outputs(s.group, mark)).toHaveLength(3); // nothing sent twice
  });

  it("waits exactly as long as a 429 asks, then sends once", async () => {
    const s = await setup(["cam1"]);
    tg.fault({ kind: "429", retryAfter: 2, methods: ["sendPhoto"], count: 1 });
    const mark = tg.mark();
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(s.cameras[0]!, 1));
    startSender(s);
    const [sent] = await sends(s.group, 1, mark);
    const refused = tg.requests.slice(mark).find((r) => r.method === "sendPhoto" && r.status === 429)!;
    expect(refused).toBeDefined();
    expect(sent!.at - refused.at).toBeGreaterThanOrEqual(2000);
    expect(tg.requests.slice(mark).filter((r) => r.method === "sendPhoto" && r.ok)).toHaveLength(1);
  });

  it("after an outage (refused, then 500s) folds each camera's backlog into one message, in order, and loses nothing", async () => {
    const s = await setup(["cam1", "back_yard"]);
    const [cam1, back] = s.cameras as [Setup["cameras"][0], Setup["cameras"][0]];
    await tg.refuseConnections();
    startSender(s);
    const t0 = Date.now();
    for (let i = 1; i <= 5; i++) await s.outbox.enqueueAlert(s.store.chats(), alertOn(back, i, t0 + i * 1000));
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(cam1, 1, t0 + 6000));
    await s.outbox.enqueueNotice(s.store.chats(), "cam1 is offline: connection refused.");
    expect(tg.outputs(s.group)).toEqual([]);
    // Telegram answers again, but with 500s for a while.
    const mark = tg.mark();
    tg.fault({ kind: "status", status: 500, count: 2 });
    await tg.acceptConnections();

    const out = await sends(s.group, 3, mark);
    expect(out.map((r) => r.method)).toEqual(["sendPhoto", "sendPhoto", "sendMessage"]);
    const folded = tg.message(s.group.id, (out[0]!.result as { message_id: number }).message_id)!;
    expect(folded.caption).toMatch(/^Person on back_yard · 87% · [\d:]+\n\+4 more on back_yard: ([\d:]+ person, ){3}[\d:]+ person$/);
    expect(tg.message(s.group.id, (out[1]!.result as { message_id: number }).message_id)!.caption).toMatch(/^Person on cam1/);
    for (let i = 1; i <= 5; i++) expect(s.outbox.deliveries(`back_yard-${i}`)).toMatchObject([{ messageId: folded.message_id }]);
    expect(s.outbox.deliveries("cam1-1")).toHaveLength(1);
    expect(tg.requests.slice(mark).filter((r) => r.fault === "status").length).toBe(2);
  });

  it("a message Telegram rejects is tried once as plain text, then dropped; it never blocks the ones behind it", async () => {
    const s = await setup(["cam1", "cam2"]);
    const [cam1, cam2] = s.cameras as [Setup["cameras"][0], Setup["cameras"][0]];
    tg.fault({ kind: "status", status: 400, description: "Bad Request: IMAGE_PROCESS_FAILED", methods: ["sendPhoto"], count: 1 });
    const mark = tg.mark();
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(cam1, 1));
    startSender(s);
    const [asText] = await sends(s.group, 1, mark);
    expect(asText!.method).toBe("sendMessage");
    expect((asText!.result as { text: string }).text).toMatch(/^Person on cam1 · 87%/);
    expect(asText!.params.message_thread_id).toBeUndefined();

    // Rejected in both forms: dropped (and not recorded as delivered), and the next alert still goes out.
    tg.fault({ kind: "status", status: 400, description: "Bad Request: chat has no topics", methods: ["sendPhoto", "sendMessage"], count: 2 });
    const next = tg.mark();
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(cam2, 1));
    await s.outbox.enqueueNotice(s.store.chats(), "after the rejected one");
    const [delivered] = await sends(s.group, 1, next);
    expect((delivered!.result as { text: string }).text).toBe("after the rejected one");
    expect(s.outbox.deliveries("cam2-1")).toEqual([]);
    await until(() => s.outbox.pending().length === 0, 60_000, "the outbox is empty");
  });

  it("edits an alert's photo in place into its clip, keeping caption and buttons; a folded alert's clip changes nothing", async () => {
    const s = await setup(["cam1"]);
    const cam = s.cameras[0]!;
    const mp4 = await mp4Cut(footage("wallflower_wavingtrees_10fps.mp4"), 20, 6);
    await tg.refuseConnections();
    startSender(s);
    const first = alertOn(cam, 1);
    const second = alertOn(cam, 2);
    await s.outbox.enqueueAlert(s.store.chats(), first);
    await s.outbox.enqueueAlert(s.store.chats(), second); // folded into the first during the outage
    // The recorder keeps both alerts, and one clip for each.
    for (const alert of [first, second]) {
      await s.history.record(makeAlert({ id: alert.alertId, cameraId: cam.id, cameraName: cam.name, at: alert.at, snapshot: frame }));
      await s.history.attachClip([alert.alertId], mp4, { durationSeconds: 6, width: 160, height: 120 });
      await s.outbox.enqueueClip(s.store.chats(), { alertId: alert.alertId, cameraId: cam.id, cameraName: cam.name });
    }
    const mark = tg.mark();
    await tg.acceptConnections();
    await tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true, { after: mark, timeoutMs: 60_000 });
    await until(() => s.outbox.pending().length === 0, 60_000, "the outbox is empty");

    const photo = tg.outputs(s.group, mark).find((r) => r.method === "sendPhoto")!;
    const id = (photo.result as { message_id: number }).message_id;
    const edited = tg.message(s.group.id, id)!;
    expect(edited.photo).toBeUndefined();
    expect(edited.video).toMatchObject({ width: 160, height: 120, duration: 6 });
    expect(tg.media(edited)?.equals(mp4)).toBe(true);
    expect(edited.caption).toMatch(/^Person on cam1 · 87% · [\d:]+\n\+1 more on cam1: [\d:]+ person$/);
    expect(edited.reply_markup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Mute 30 min", "Mute 2 h", "Snapshot", "Disarm"]);
    expect(tg.outputs(s.group, mark).map((r) => r.method)).toEqual(["sendPhoto", "editMessageMedia"]);
  });

  it("edits a visit's news into its alert's caption, only the newest when several wait, and keeps it under the clip", async () => {
    const s = await setup(["cam1"]);
    const cam = s.cameras[0]!;
    const alert = alertOn(cam, 1);
    const visit = { alertId: alert.alertId, cameraId: cam.id, cameraName: cam.name, label: "person", startedAt: alert.at - 400, stationary: false, motionOnly: false };
    startSender(s);
    const mark = tg.mark();
    await s.outbox.enqueueAlert(s.store.chats(), alert);
    const [photo] = await sends(s.group, 1, mark);
    const id = (photo!.result as { message_id: number }).message_id;

    // While Telegram is away, the visit goes on: three pieces of news, of which only the last is worth sending.
    await tg.refuseConnections();
    await s.outbox.enqueueVisit(s.store.chats(), { ...visit, at: alert.at + 30_000, lastSeenAt: alert.at + 30_000, counts: { person: 1 } });
    await s.outbox.enqueueVisit(s.store.chats(), { ...visit, at: alert.at + 40_000, lastSeenAt: alert.at + 40_000, counts: { person: 2 } });
    await s.outbox.enqueueVisit(s.store.chats(), { ...visit, at: alert.at + 185_000, lastSeenAt: alert.at + 184_600, counts: { person: 2 }, ended: "left" });
    expect(s.outbox.pending().map((e) => e.payload.type)).toEqual(["visit"]);
    const back = tg.mark();
    await tg.acceptConnections();
    await tg.waitFor((r) => r.method === "editMessageCaption" && r.ok === true, { after: back, timeoutMs: 60_000 });
    await until(() => s.outbox.pending().length === 0, 60_000, "the outbox is empty");
    expect(tg.outputs(s.group, back).map((r) => r.method)).toEqual(["editMessageCaption"]);
    const edited = tg.message(s.group.id, id)!;
    expect(edited.caption).toMatch(/^Person on cam1 · 87% · [\d:]+\nLeft at [\d:]+ after 3 min · 2 people$/);
    expect(edited.reply_markup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Mute 30 min", "Mute 2 h", "Snapshot", "Disarm"]);

    // The clip that replaces the photo keeps the visit's line.
    await s.history.record(makeAlert({ id: alert.alertId, cameraId: cam.id, cameraName: cam.name, at: alert.at, snapshot: frame }));
    await s.history.attachClip([alert.alertId], await mp4Cut(footage("wallflower_wavingtrees_10fps.mp4"), 20, 4), { durationSeconds: 4, width: 160, height: 120 });
    const clipMark = tg.mark();
    await s.outbox.enqueueClip(s.store.chats(), { alertId: alert.alertId, cameraId: cam.id, cameraName: cam.name });
    await tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true, { after: clipMark, timeoutMs: 60_000 });
    expect(tg.message(s.group.id, id)!.caption).toBe(edited.caption);
  });

  it("sends an alert queued while a visit's news waits for its turn at once, ahead of the news", async () => {
    // Three seconds a message here instead of Telegram's one, so that waiting for the news's turn would show.
    const perChatMs = 3000;
    const s = await setup(["cam1", "cam2"]);
    const [cam1, cam2] = s.cameras as [{ id: string; name: string }, { id: string; name: string }];
    startSender(s, silentLogger, new ChatRateLimiter({ perChatMs, groupPerMinute: 20 }));
    const mark = tg.mark();
    const first = alertOn(cam1, 1);
    const visit = { alertId: first.alertId, cameraId: cam1.id, cameraName: cam1.name, label: "person", startedAt: first.at, stationary: false, motionOnly: false };
    await s.outbox.enqueueAlert(s.store.chats(), first);
    await sends(s.group, 1, mark);
    // News of that visit: an edit, sent a turn after the photo; the next news waits a turn after that edit.
    await s.outbox.enqueueVisit(s.store.chats(), { ...visit, at: first.at + 1000, lastSeenAt: first.at + 1000, counts: { person: 1 } });
    await sends(s.group, 2, mark);
    await s.outbox.enqueueVisit(s.store.chats(), { ...visit, at: first.at + 2000, lastSeenAt: first.at + 2000, counts: { person: 2 } });
    // Someone at the other camera: a message's turn comes a turn after the last message (the photo), which is now.
    const queuedAt = Date.now();
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(cam2, 1));
    const out = await sends(s.group, 4, mark);
    expect(out.map((r) => r.method)).toEqual(["sendPhoto", "editMessageCaption", "sendPhoto", "editMessageCaption"]);
    expect(out[2]!.bodyAt - queuedAt).toBeLessThan(perChatMs / 2);
  });

  it("logs an outage in words, never with the bot token (even without the log scrubber)", async () => {
    const s = await setup(["cam1"]);
    const lines: string[] = [];
    // A bare pino logger: no redaction, so only the sender's own discipline keeps the token out.
    const raw = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
    await tg.refuseConnections();
    startSender(s, raw);
    await s.outbox.enqueueAlert(s.store.chats(), alertOn(s.cameras[0]!, 1));
    await until(() => lines.some((l) => l.includes("could not send to Telegram")), 60_000, "the outage is logged");
    const mark = tg.mark();
    tg.fault({ kind: "429", retryAfter: 1, count: 1 });
    await tg.acceptConnections();
    await sends(s.group, 1, mark);
    const log = lines.join("\n");
    expect(log).toMatch(/Network request for 'sendPhoto' failed!.*ECONNREFUSED|ECONNRESET/);
    expect(log).toContain("Telegram asked to slow down");
    expect(log).not.toContain(tg.token.split(":")[1]!);
  });

  it("a sender killed with SIGKILL during an outage delivers every queued alert after restart, in order, none twice", async () => {
    const s = await setup(["cam1", "cam2", "cam3", "cam4", "cam5", "cam6"]);
    await tg.refuseConnections();
    const mark = tg.mark();
    const first = startFixture(s.dir, 6);
    await first.saw("queued");
    await new Promise((r) => setTimeout(r, 1500)); // it is retrying now
    first.child.kill("SIGKILL");
    await first.exited;
    expect(tg.outputs(s.group, mark)).toEqual([]);

    const second = startFixture(s.dir, 0);
    await second.saw("queued");
    await tg.acceptConnections();
    const out = await sends(s.group, 6, mark);
    await second.saw("empty");
    second.child.kill("SIGTERM");
    await second.exited;

    expect(out.map((r) => (r.result as { caption: string }).caption.split(" · ")[0])).toEqual(["Person on cam1", "Person on cam2", "Person on cam3", "Person on cam4", "Person on cam5", "Person on cam6"]);
    expect(tg.outputs(s.group, mark)).toHaveLength(6);
    const outbox = await Outbox.open((await openStore(s.dir, { passphrase: PASS })).vault);
    expect(outbox.pending()).toEqual([]);
    const ids = new Set<number>();
    for (let i = 1; i <= 6; i++) {
      const delivered = outbox.deliveries(`alert-${i}`);
      expect(delivered).toHaveLength(1);
      ids.add(delivered[0]!.messageId);
    }
    expect(ids.size).toBe(6);
  });
});

function startFixture(dataDir: string, count: number): { child: ChildProcess; saw: (line: string) => Promise<void>; exited: Promise<void> } {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test", "bot", "fixtures", "outbox-sender.ts"), dataDir, tg.apiRoot, String(count)], {
    cwd: ROOT,
    env: { ...process.env, VIGIL_TEST_PASSPHRASE: PASS },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const listeners = new Set<() => void>();
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const saw = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (out.split("\n").includes(line)) {
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      check();
      void exited.then(() => {
        if (!out.split("\n").includes(line)) reject(new Error(`the fixture exited without printing ${line}; it printed: ${out}`));
      });
    });
  return { child, saw, exited };
}
