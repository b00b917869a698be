/**
 * Someone who is not an admin tries everything, by hand and then with a
 * thousand generated updates: nothing changes, groups stay silent, a private
 * chat gets one short refusal per message, every button press is answered and
 * ignored, and nothing crashes.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUTTON_REFUSAL, REFUSAL } from "../../src/bot/features/access.js";
import { COMMANDS } from "../../src/bot/commands.js";
import { inlineButtons } from "../support/bot-api/index.js";
import { jpegFrame } from "../support/video.js";
import { seededRandom } from "../support/random.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { listFiles } from "../support/tmp.js";
import { claim, drained, expectSilence, startHarness, type Harness } from "./harness.js";

let h: Harness;
let rtsp: RtspTestServer;
let alice: User;
let mallory: User;
let group: Chat;
let elsewhere: Chat;
let alert: Message;
let confirm: Message;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** Every file of the data directory with its bytes (the lock is Vigil's liveness, not state). */
async function dataDirState(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of await listFiles(h.dir)) if (!file.endsWith("vigil.lock")) out[path.relative(h.dir, file)] = (await fs.readFile(file)).toString("base64");
  return out;
}

const EVERYTHING = [...COMMANDS.map((c) => `/${c.command}`), "/start", "/claim 12345678", "/arm all", "/disarm cam1", "/snapshot cam1", "/mute cam1 1d", "/unmute cam1", "/set sensitivity 5000", "/set cam1 classes car", "/get cam1", "/removecamera cam1", "/rename cam1 mine", `/admins add @mallory_x`, "/admins remove @alice_x", "/frobnicate"];

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  rtsp = await startRtspServer({ mounts: [{ name: "road", clip: footage("bgslibrary_video03_road-traffic-trees.avi"), clipOptions: { width: 320, height: 240, fps: 5 } }] });
  h = await startHarness();
  alice = h.tg.user({ firstName: "Alice", username: "alice_x" });
  mallory = h.tg.user({ firstName: "Mallory", username: "mallory_x" });
  group = h.tg.group({ title: "Home", owner: alice });
  elsewhere = h.tg.group({ title: "Elsewhere", owner: mallory });
  h.tg.join(elsewhere, alice);
  await claim(h, alice, group);
  await h.control.addCamera({ name: "cam1", url: rtsp.url("road") });
  await h.control.arm();
  const mark = h.tg.mark();
  const camera = h.store.camera("cam1")!;
  await h.bot.publish({ type: "alert", id: "a1", cameraId: camera.id, cameraName: "cam1", at: Date.now(), motionStartedAt: Date.now(), label: "person", score: 0.9, box: [0, 0, 10, 10], objects: [], frameWidth: 160, frameHeight: 120, snapshot: await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25), motionOnly: false });
  alert = await h.tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 60_000 });
  confirm = await h.ask(alice, group, "/removecamera cam1");
  await drained(h);
}, 180_000);
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await h?.stop();
  await rtsp?.close();
});

describe("someone who is not an admin", () => {
  it("gets silence in the alert group and in other groups, a refusal in private, and changes nothing", async () => {
    const before = await dataDirState();
    await expectSilence(h, group, alice, () => {
      for (const text of EVERYTHING) h.tg.send(mallory, group, text);
      h.tg.send(mallory, group, "cam1", { replyTo: confirm });
      const own = h.tg.send(mallory, group, "/help").message;
      h.tg.edit(mallory, group, own, "/disarm");
    });
    // In a group that is not Vigil's, even an admin gets silence; a press there is answered, so it marks the end.
    const strayMark = h.tg.mark();
    for (const text of EVERYTHING) h.tg.send(mallory, elsewhere, text);
    h.tg.send(alice, elsewhere, "/status");
    const marker = h.tg.press(alice, h.tg.send(mallory, elsewhere, "/help").message, { data: "x" });
    expect((await h.tg.answerOf(marker)).params.text).toBe("This chat is not one of Vigil's.");
    expect(h.tg.outputs(elsewhere, strayMark)).toEqual([]);

    const dm = h.tg.privateChat(mallory);
    for (const text of EVERYTHING) expect((await h.ask(mallory, dm, text)).text).toBe(REFUSAL);
    expect(h.tg.outputs(dm)).toHaveLength(EVERYTHING.length);

    for (const button of inlineButtons(alert).map((b) => b.text)) {
      const press = h.tg.press(mallory, alert, button);
      expect((await h.tg.answerOf(press)).params.text).toBe(BUTTON_REFUSAL);
    }
    const remove = h.tg.press(mallory, confirm, "Remove cam1");
    expect((await h.tg.answerOf(remove)).params.text).toBe(BUTTON_REFUSAL);

    expect(await dataDirState()).toEqual(before);
    expect(h.store.admins().map((a) => a.id)).toEqual([alice.id]);
    expect(unhandled).toEqual([]);
  });

  it("1,000 generated updates (commands, huge and odd texts, edits, forged presses) crash nothing and change nothing", async () => {
    const random = seededRandom(4);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const stranger = h.tg.user({ firstName: "Stranger" });
    const strangerDm = h.tg.privateChat(stranger);
    const malloryDm = h.tg.privateChat(mallory);
    const odd = ["", " ", "x".repeat(4000), "Ворота 门口 🚪", "<b>&amp;</b>", "'; DROP TABLE cameras; --", "rtsp://a:b@10.0.0.1/x", "file:///etc/passwd", "concat:/etc/passwd", "\u0000\u001f\u202e", "1e12", "-5", "NaN", "all", "cam1", "forever", "@alice_x", "99999999999999999999"];
    const text = () => {
      const roll = random();
      if (roll < 0.6) return `${pick(EVERYTHING).split(" ")[0]}${random() < 0.3 ? `@${pick([h.tg.bot.username, "other_bot"])}` : ""} ${pick(odd)} ${pick(odd)}`.trimEnd().slice(0, 4096) || "/";
      return pick(odd) || "?";
    };
    const before = await dataDirState();
    const botMessages = () => h.tg.messages(group).filter((m) => m.from?.id === h.tg.bot.id);
    let privateMessages = 0;
    let presses = 0;
    const mark = h.tg.mark();
    const sent: Message[] = [];
    for (let i = 0; i < 1000; i++) {
      const user = pick([mallory, stranger]);
      const roll = random();
      const chat = pick([group, elsewhere, user === mallory ? malloryDm : strangerDm]);
      if (roll < 0.15 && sent.length) {
        const mine = sent.filter((m) => m.from?.id === user.id && m.chat.id === chat.id);
        if (mine.length) {
          h.tg.edit(user, chat, pick(mine), text());
          continue;
        }
      }
      if (roll < 0.35) {
        const target = pick(botMessages());
        const buttons = inlineButtons(target);
        presses += 1;
        h.tg.press(user, target, random() < 0.5 && buttons.length ? pick(buttons).text : { data: pick(["al:m30:zzz", "al:disarm:" + "f".repeat(12), "rm:y:abc:1", "ac:save:x", "", "x".repeat(64)]) });
        continue;
      }
      const message = h.tg.send(user, chat, text(), random() < 0.2 ? { replyTo: pick(botMessages()) } : {});
      if (message.update && chat.type === "private") privateMessages += 1;
      sent.push(message.message);
    }
    // Updates of a chat are handled in order: once each chat has answered its last update, the fuzz before it is done.
    const barrier = await h.ask(alice, group, "/cameras");
    await h.ask(stranger, strangerDm, "/help");
    await h.ask(mallory, malloryDm, "/help");
    const marker = h.tg.press(alice, h.tg.send(mallory, elsewhere, "/help").message, { data: "x" });
    await h.tg.answerOf(marker);

    expect(await dataDirState()).toEqual(before);
    expect(unhandled).toEqual([]);
    expect(h.tg.outputs(group, mark).map((r) => (r.result as Message).message_id)).toEqual([barrier.message_id]);
    expect(h.tg.outputs(elsewhere, mark)).toEqual([]);
    // One refusal per private message, and nothing else there.
    const refusals = [...h.tg.outputs(malloryDm, mark), ...h.tg.outputs(strangerDm, mark)];
    expect(refusals.every((r) => (r.result as Message).text === REFUSAL)).toBe(true);
    expect(refusals).toHaveLength(privateMessages + 2);
    // Every press was answered, once.
    const answers = h.tg.requests.slice(mark).filter((r) => r.method === "answerCallbackQuery");
    expect(answers.every((r) => r.ok === true)).toBe(true);
    expect(answers).toHaveLength(presses + 1);
    expect((await h.ask(alice, group, "/status")).text).toMatch(/^Armed/);
  });
});
