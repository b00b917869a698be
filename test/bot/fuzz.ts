/**
 * Generated updates for the bot, from a seeded PRNG so a failure replays from
 * its seed: commands with odd arguments (huge, unicode, markup, shell and URL
 * tricks, absurd numbers), plain texts, edits of earlier messages, replies to
 * the bot, presses of real, stale and forged buttons, in the alert group, in a
 * group that is not Vigil's and in private chats.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import { expect } from "vitest";
import { COMMANDS } from "../../src/bot/commands.js";
import { REFUSAL } from "../../src/bot/features/access.js";
import { inlineButtons } from "../support/bot-api/index.js";
import { seededRandom } from "../support/random.js";
import { footage, startRtspServer } from "../support/rtsp-server.js";
import { listFiles } from "../support/tmp.js";
import { jpegFrame } from "../support/video.js";
import { until } from "../support/wait.js";
import { claim, drained, startHarness, type Harness } from "./harness.js";

/** Every command, and typical arguments. */
export const EVERY_COMMAND = [...COMMANDS.map((c) => `/${c.command}`), "/start", "/claim 12345678", "/arm all", "/disarm cam1", "/snapshot cam1", "/mute cam1 1d", "/unmute cam1", "/set sensitivity 5000", "/set cam1 classes car", "/get cam1", "/removecamera cam1", "/rename cam1 mine", `/admins add @mallory_x`, "/admins remove @alice_x", "/heartbeat on", "/mode away", "/mode off", "/set cam1 modes away", "/schedule night 23:00-07:00", "/schedule away mon-fri 08:30-17:00", "/schedule off", "/exitdelay 60s", "/quiet 22:00-07:00", "/quiet off", "/frobnicate"];

const ODD = [
  "", " ", "x".repeat(4000), "Ворота 门口 🚪", "‮evil‬", "a\u200bb", "👨‍👩‍👧‍👦".repeat(50), "<b>&amp;</b>", "<a href='x'>", "'; DROP TABLE cameras; --", "$(reboot)", "`id`", "a|b;c&&d",
  "rtsp://a:b@10.0.0.1/x", "file:///etc/passwd", "concat:/etc/passwd|/etc/shadow", "/etc/passwd", "../../etc", "rtsp://cam/%zz", "http://cam/x.m3u8",
  "\u0000\u001f\u202e", "1e12", "-5", "0", "NaN", "Infinity", "0x10", "99999999999999999999", "9".repeat(500), "3.5", "640x360", "99999x99999", "0,0 1,0 1,1", "0,0 5,5", "person,car", "person;rm",
  "all", "cam1", "CAM1", "cam2", "forever", "30m", "7d", "8d", "@alice_x", "@mallory_x", "on", "off", "tcp", "udp",
  "home", "away", "night", "modes", "23:00-07:00", "mon-fri", "24:00-00:00", "sun-sat", "25:61",
];

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Who writes and presses. */
  users: User[];
  /** Where; a user's private chat with the bot is added for each user. */
  groups: Chat[];
  /** The chat whose bot messages get pressed and replied to. */
  alertChat: Chat;
  /** Never sent: a command word (every use of it, "/clip") or one line of EVERY_COMMAND ("/admins remove @alice_x"). */
  exclude?: string[];
}

export interface FuzzReport {
  /** Messages in private chats that reach the bot (each gets one refusal from a non-admin). */
  privateMessages: number;
  presses: number;
  /** Updates that reached the bot (messages, edits, presses): `count`. */
  updates: number;
  /** Messages and edits generated, including those Telegram does not pass to the bot. */
  generated: number;
}

/** Sends generated updates through the stand-in until `count` have reached the bot (without waiting for answers). */
export function sendFuzz(h: Harness, options: FuzzOptions): FuzzReport {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const commands = EVERY_COMMAND.filter((c) => !options.exclude?.includes(c) && !options.exclude?.includes(c.split(" ")[0]!));
  const text = () => {
    const roll = random();
    if (roll < 0.6) return `${pick(commands).split(" ")[0]}${random() < 0.3 ? `@${pick([h.tg.bot.username, "other_bot"])}` : ""} ${pick(ODD)} ${pick(ODD)}`.trimEnd().slice(0, 4096) || "/";
    if (roll < 0.8) return pick(commands);
    const odd = pick(ODD);
    // A bare odd text that starts with an excluded command would sneak it in.
    return odd && !options.exclude?.some((c) => odd.startsWith(c.split(" ")[0]!)) ? odd : "?";
  };
  const report: FuzzReport = { privateMessages: 0, presses: 0, updates: 0, generated: 0 };
  const botMessages = () => h.tg.messages(options.alertChat).filter((m) => m.from?.id === h.tg.bot.id);
  const sent: Message[] = [];
  // Until `count` updates reached the bot: in a group with privacy mode, Telegram keeps most plain texts from it.
  while (report.updates < options.count) {
    const user = pick(options.users);
    const roll = random();
    const chat = pick([...options.groups, h.tg.privateChat(user)]);
    if (roll < 0.15) {
      const mine = sent.filter((m) => m.from?.id === user.id && m.chat.id === chat.id);
      if (mine.length) {
        report.generated += 1;
        if (h.tg.edit(user, chat, pick(mine), text()).update) report.updates += 1;
        continue;
      }
    }
    if (roll < 0.35) {
      const target = pick(botMessages());
      const buttons = inlineButtons(target);
      report.presses += 1;
      report.updates += 1;
      h.tg.press(user, target, random() < 0.5 && buttons.length ? pick(buttons).text : { data: pick(["al:m30:zzz", "al:disarm:" + "f".repeat(12), "al:m30:../../x", "rm:y:abc:1", "ac:save:x", "", "x".repeat(64), "Ворота", "al:arm:" + "a".repeat(48)]) });
      continue;
    }
    const message = h.tg.send(user, chat, text(), random() < 0.2 ? { replyTo: pick(botMessages()) } : {});
    report.generated += 1;
    if (message.update) {
      report.updates += 1;
      if (chat.type === "private") report.privateMessages += 1;
    }
    sent.push(message.message);
  }
  return report;
}

/**
 * Vigil claimed by Alice in `group`, with a real camera, an alert and a
 * pending removal question (buttons to press); Mallory and a stranger are not
 * admins; `elsewhere` is a group that is not Vigil's. Unhandled rejections of
 * the test process are collected.
 */
export interface FuzzWorld {
  h: Harness;
  alice: User;
  mallory: User;
  stranger: User;
  group: Chat;
  elsewhere: Chat;
  alert: Message;
  confirm: Message;
  /** Alice's /mode, with its mode buttons. */
  modes: Message;
  /** Alice's /schedule list, with a remove button (its window is three days away, so it changes nothing while the tests run). */
  schedules: Message;
  unhandled: unknown[];
  /** Every file of the data directory with its bytes (the lock is Vigil's liveness, not state). */
  dataDirState(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startFuzzWorld(): Promise<FuzzWorld> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  const rtsp = await startRtspServer({ mounts: [{ name: "road", clip: footage("bgslibrary_video03_road-traffic-trees.avi"), clipOptions: { width: 320, height: 240, fps: 5 } }] });
  const h = await startHarness();
  const alice = h.tg.user({ firstName: "Alice", username: "alice_x" });
  const mallory = h.tg.user({ firstName: "Mallory", username: "mallory_x" });
  const stranger = h.tg.user({ firstName: "Stranger" });
  const group = h.tg.group({ title: "Home", owner: alice });
  const elsewhere = h.tg.group({ title: "Elsewhere", owner: mallory });
  h.tg.join(elsewhere, alice);
  await claim(h, alice, group);
  await h.control.addCamera({ name: "cam1", url: rtsp.url("road") });
  await h.control.arm();
  const mark = h.tg.mark();
  const camera = h.store.camera("cam1")!;
  await h.bot.publish({ type: "alert", id: "a1", cameraId: camera.id, cameraName: "cam1", at: Date.now(), startedAt: Date.now(), label: "person", score: 0.9, box: [0, 0, 10, 10], objects: [], frameWidth: 160, frameHeight: 120, snapshot: await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25), motionOnly: false, mode: "away" });
  const alert = await h.tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 60_000 });
  const confirm = await h.ask(alice, group, "/removecamera cam1");
  const modes = await h.ask(alice, group, "/mode");
  const day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(new Date().getDay() + 6 + 3) % 7]!;
  await h.ask(alice, group, `/schedule night ${day} 10:00-11:00`);
  const schedules = await h.ask(alice, group, "/schedule");
  await drained(h);
  return {
    h,
    alice,
    mallory,
    stranger,
    group,
    elsewhere,
    alert,
    confirm,
    modes,
    schedules,
    unhandled,
    async dataDirState() {
      const out: Record<string, string> = {};
      for (const file of await listFiles(h.dir)) if (!file.endsWith("vigil.lock")) out[path.relative(h.dir, file)] = (await fs.readFile(file)).toString("base64");
      return out;
    },
    async stop() {
      process.off("unhandledRejection", onUnhandled);
      await h.stop();
      await rtsp.close();
    },
  };
}

/**
 * Mallory and the stranger send `count` generated updates everywhere; then
 * asserts what a user would notice: nothing changed in the store or on disk, the groups got
 * not a word, a private chat got exactly one refusal per message, every press
 * was answered once, nothing was rejected unhandled, and Vigil still answers.
 */
export async function expectNoEffectOfFuzz(world: FuzzWorld, options: { seed: number; count: number }): Promise<void> {
  const { h, alice, mallory, stranger, group, elsewhere } = world;
  const why = `seed ${options.seed} (VIGIL_FUZZ_SEED=${options.seed} replays it)`;
  const before = await world.dataDirState();
  const changes: unknown[] = [];
  const unsubscribe = h.store.onChange((change) => changes.push(change));
  const mark = h.tg.mark();
  const report = sendFuzz(h, { seed: options.seed, count: options.count, users: [mallory, stranger], groups: [group, elsewhere], alertChat: group });
  // Updates of a chat are handled in order: once a chat has answered its last update, the fuzz before it is done.
  // In the group that is an admin's command; in private chats, where every answer is the same refusal, their number.
  const barrier = await h.ask(alice, group, "/cameras");
  for (const user of [stranger, mallory]) h.tg.send(user, h.tg.privateChat(user), "/help");
  const marker = h.tg.press(alice, h.tg.send(mallory, elsewhere, "/help").message, { data: "x" });
  const refusals = () => [...h.tg.outputs(h.tg.privateChat(mallory), mark), ...h.tg.outputs(h.tg.privateChat(stranger), mark)];
  const answers = () => h.tg.requests.slice(mark).filter((r) => r.method === "answerCallbackQuery");
  await until(() => refusals().length >= report.privateMessages + 2 && answers().length >= report.presses + 1, 120_000, `every private message and press is answered (${why})`);
  await h.tg.answerOf(marker, { timeoutMs: 120_000 });
  unsubscribe();

  // Not a change of the store, written or pending, nor of any other file.
  expect(changes, why).toEqual([]);
  expect(await world.dataDirState(), why).toEqual(before);
  expect(world.unhandled, why).toEqual([]);
  expect(h.tg.outputs(group, mark).map((r) => (r.result as Message).message_id), why).toEqual([barrier.message_id]);
  expect(h.tg.outputs(elsewhere, mark), why).toEqual([]);
  // One refusal per private message, and nothing else there; every press answered, once.
  expect(refusals().every((r) => (r.result as Message).text === REFUSAL), why).toBe(true);
  expect(refusals(), why).toHaveLength(report.privateMessages + 2);
  expect(answers().every((r) => r.ok === true), why).toBe(true);
  expect(answers(), why).toHaveLength(report.presses + 1);
  expect((await h.ask(alice, group, "/status")).text, why).toMatch(/^Armed away/);
}
