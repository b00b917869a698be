/**
 * Modes and schedules as the chat sees them, through the Bot API stand-in:
 * /mode and its buttons, /arm and /disarm as away and off, a camera's modes,
 * /schedule with its remove buttons, the silent notice of a change the schedule
 * makes, /exitdelay, quiet hours, and what happens to alerts queued before a
 * disarm. Everything refused to someone who is not an admin. The cameras play
 * a road with a parked car and nobody on it, so no alert interrupts; the
 * control's clock is real time moved to a Tuesday evening in London.
 */
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUTTON_REFUSAL } from "../../src/bot/features/access.js";
import { instantOf } from "../../src/domain/local-time.js";
import { inlineButtons } from "../support/bot-api/index.js";
import { makeAlert } from "../support/alerts.js";
import { parkedCar } from "../support/made-footage.js";
import { jpegFrame } from "../support/video.js";
import { footage } from "../support/rtsp-server.js";
import { until } from "../support/wait.js";
import { claim, drained, expectSilence, startHarness, type Harness } from "./harness.js";

const LONDON = "Europe/London";
/** 2026-02-03, a Tuesday, at hh:mm in London (GMT in February). */
const feb3 = (hhmm: string, day = 3) => instantOf({ year: 2026, month: 2, day }, Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3)), LONDON);

let h: Harness;
let alice: User;
let mallory: User;
let group: Chat;
let frame: Buffer;
/** The control's clock runs with real time from this offset; a test moves it on to a boundary. */
let offset = 0;
const clockAt = (t: number) => (offset = t - Date.now());

beforeAll(async () => {
  const road = await parkedCar(600, false);
  clockAt(feb3("22:00"));
  h = await startHarness({ timeZone: LONDON, controlNow: () => Date.now() + offset });
  alice = h.tg.user({ firstName: "Alice" });
  mallory = h.tg.user({ firstName: "Mallory" });
  group = h.tg.group({ title: "Home", owner: alice });
  h.tg.join(group, mallory);
  await claim(h, alice, group);
  await h.store.addCamera({ name: "living", url: road.file, settings: { width: road.width, height: road.height } });
  await h.store.addCamera({ name: "porch", url: road.file, settings: { width: road.width, height: road.height } });
  await until(() => h.pipeline.status().filter((c) => c.state === "online").length === 2, 60_000, "both cameras are online");
  frame = await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25);
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

const say = (text: string, user = alice) => h.ask(user, group, text);
const rows = (m: Message | undefined) => m?.reply_markup?.inline_keyboard.map((row) => row.map((b) => b.text));

describe("modes", () => {
  it("/mode shows the mode with buttons; /mode home sets it and says which cameras alert; the buttons change it at once and redraw", async () => {
    const first = await say("/mode");
    expect(first.text).toBe("Disarmed.");
    expect(rows(first)).toEqual([["• Off", "Home", "Away", "Night"]]);

    // An indoor camera: only in away.
    expect((await say("/set living modes away")).text).toBe("modes is now away on living.");
    expect((await say("/get living")).text).toContain("\nmodes: away\n");
    const home = await say("/mode home");
    expect(home.text).toBe("Armed home: porch will alert here. Silent in home: living (alerts in away).");
    expect(rows(home)).toEqual([["Off", "• Home", "Away", "Night"]]);
    expect(h.store.modeState()).toMatchObject({ mode: "home", by: { kind: "chat", userId: alice.id, name: "Alice" } });
    expect((await say("/status")).text).toMatch(/^Armed home · running for .*\n(.*\n)*living: online.* · silent in home \(alerts in away\)\n/);

    const press = h.tg.press(alice, home, "Away");
    expect((await h.tg.answerOf(press)).params.text).toBe("Armed away.");
    await h.tg.waitFor((r) => r.method === "editMessageText" && r.ok === true && r.params.message_id === home.message_id, { after: press.mark });
    const redrawn = h.tg.message(group.id, home.message_id)!;
    expect(redrawn.text).toMatch(/^Armed away since (Tue )?22:\d\d, by Alice\.\nliving, porch will alert here\.$/);
    expect(rows(redrawn)).toEqual([["Off", "Home", "• Away", "Night"]]);
    expect(h.store.modeState().mode).toBe("away");
  });

  it("/arm is away and /disarm is off, as before; a camera's own switch still works; bad input gets one sentence", async () => {
    expect((await say("/disarm")).text).toBe("Disarmed: no alerts until /arm.");
    expect(h.store.modeState().mode).toBe("off");
    expect((await say("/arm")).text).toBe("Armed away: living, porch will alert here.");
    expect(h.store.modeState().mode).toBe("away");
    expect((await say("/mode night")).text).toBe("Armed night: porch will alert here. Silent in night: living (alerts in away).");
    expect((await say("/arm living")).text).toBe("living is armed; it alerts in away, and the mode is night.");
    expect((await say("/disarm porch")).text).toBe("porch is disarmed; the other cameras still alert.");
    expect((await say("/mode")).text).toMatch(/^Armed night since (Tue )?22:\d\d, by Alice\.\nNo camera alerts in night\. Silent in night: living \(alerts in away\)\. Disarmed on their own: porch\.$/);
    expect((await say("/arm porch")).text).toBe("porch is armed.");
    const cases: [string, string][] = [
      ["/mode holiday", 'There is no mode called "holiday"; the modes are off, home, away and night.'],
      ["/mode away night", "Use /mode to see the mode, or /mode followed by off, home, away or night."],
      ["/set living modes off", "Nothing alerts in off; give the modes the camera alerts in (home, away, night), or /disarm the camera to silence it."],
      ["/set living modes <b>x</b>", 'There is no mode called "<b>x</b>"; the modes are off, home, away and night.'],
    ];
    for (const [input, expected] of cases) expect((await say(input)).text, input).toBe(expected);
    expect(h.store.modeState().mode).toBe("night");
    expect(h.store.camera("living")!.settings.modes).toEqual(["away"]);
  });
});

describe("schedules", () => {
  it("/schedule adds, refuses an overlap, lists with remove buttons; the change it makes is said in the chat silently; a button removes one", { timeout: 240_000 }, async () => {
    await say("/mode home");
    expect((await say("/schedule")).text).toBe("No schedules. For example /schedule night 23:00-07:00 or /schedule away mon-fri 08:30-17:00.");
    expect((await say("/schedule night 23:00-07:00")).text).toMatch(/^Schedule added: night 23:00-07:00 every day \(Europe\/London\)\. Next: armed night at (Tue )?23:00, by the schedule night 23:00-07:00 every day\.$/);
    expect((await say("/schedule away mon-fri 06:00-09:00")).text).toBe("That overlaps night 23:00-07:00 every day; schedules must not overlap (one may end when another starts).");
    expect((await say("/schedule away weekdays 08:30-17:00")).text).toMatch(/^Schedule added: away 08:30-17:00 mon-fri /);
    for (const [input, expected] of [
      ["/schedule night", "Give the times for night, for example /schedule night 23:00-07:00 or /schedule away mon-fri 08:30-17:00."],
      ["/schedule night 23:00-31:00", '"31:00" is not a time; write times as 23:00 or 7:30, from 00:00 to 23:59 (24:00 for an end).'],
      ["/schedule holiday 23:00-07:00", 'There is no mode called "holiday"; the modes are off, home, away and night.'],
    ]) expect((await say(input!)).text, input).toBe(expected);

    const list = await say("/schedule");
    expect(list.text).toMatch(/^Schedules \(Europe\/London\):\naway 08:30-17:00 mon-fri\nnight 23:00-07:00 every day\nNow armed home\. Next: armed night at (Tue )?23:00, by the schedule night 23:00-07:00 every day\.$/);
    expect(rows(list)).toEqual([["Remove away 08:30-17:00 mon-fri"], ["Remove night 23:00-07:00 every day"]]);
    const awayButton = (inlineButtons(list)[0] as { callback_data: string }).callback_data;

    // 23:00: the schedule arms night, and says so in the chat without a sound (within the group's 20 messages a minute).
    clockAt(feb3("23:00") + 1000);
    const mark = h.tg.mark();
    await h.control.tick();
    const notice = await h.tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && String(r.params.text).startsWith("Armed night"), { after: mark, timeoutMs: 90_000 });
    expect(notice.params.text).toBe("Armed night: the schedule night 23:00-07:00 every day began. porch will alert here. Silent in night: living (alerts in away).");
    expect(notice.params.disable_notification).toBe(true);
    expect(h.store.modeState()).toMatchObject({ mode: "night", by: { kind: "schedule", edge: "start" }, resume: "home" });

    // Someone who is not an admin: the buttons are answered and ignored, the commands get silence.
    const before = JSON.stringify(h.store.redactedView());
    for (const button of inlineButtons(list).map((b) => b.text)) expect((await h.tg.answerOf(h.tg.press(mallory, list, button))).params.text).toBe(BUTTON_REFUSAL);
    await expectSilence(h, group, alice, () => {
      for (const text of ["/schedule off", "/schedule away 00:00-01:00", "/mode off", "/exitdelay 60s", "/quiet 00:00-23:00"]) h.tg.send(mallory, group, text);
    });
    const modes = await say("/mode");
    for (const button of ["Off", "Home", "Away"]) expect((await h.tg.answerOf(h.tg.press(mallory, modes, button))).params.text).toBe(BUTTON_REFUSAL);
    expect(JSON.stringify(h.store.redactedView())).toBe(before);

    // Alice removes the weekday one with its button: answered, and the list redrawn.
    const remove = h.tg.press(alice, list, "Remove away 08:30-17:00 mon-fri");
    expect((await h.tg.answerOf(remove)).params.text).toBe("Removed away 08:30-17:00 mon-fri.");
    await h.tg.waitFor((r) => r.method === "editMessageText" && r.ok === true && r.params.message_id === list.message_id, { after: remove.mark });
    const redrawn = h.tg.message(group.id, list.message_id)!;
    expect(redrawn.text).toMatch(/^Schedules \(Europe\/London\):\nnight 23:00-07:00 every day\nNow armed night\. Next: armed home at (Wed )?07:00, by the schedule night 23:00-07:00 every day\.$/);
    expect(rows(redrawn)).toEqual([["Remove night 23:00-07:00 every day"]]);
    const stale = h.tg.press(alice, redrawn, { data: awayButton });
    expect((await h.tg.answerOf(stale)).params.text).toBe("This button is not valid any more.");

    expect((await say("/schedule off")).text).toBe("Removed the schedule. The mode stays armed night until someone changes it.");
    expect((await say("/schedule off")).text).toBe("There were no schedules.");
    expect(h.store.schedules()).toEqual([]);
    expect(h.store.modeState().mode).toBe("night");
  });
});

describe("exit delay and quiet hours", () => {
  it("/exitdelay and /quiet are shown, set and cleared, with one sentence for bad input", async () => {
    expect((await say("/exitdelay")).text).toBe("No exit delay: alerts start as soon as someone arms. /exitdelay 60s gives a minute to leave.");
    expect((await say("/exitdelay 45s")).text).toBe("Exit delay 45 s: after /arm, /mode or an alert's Arm button, nothing that comes into view in the next 45 s alerts, even if it is still there afterwards.");
    expect((await say("/arm")).text).toMatch(/^Armed away: living, porch will alert here\. Exit delay: nothing that comes into view before (\w{3} )?\d\d:\d\d:\d\d alerts\.$/);
    expect((await say("/exitdelay 11m")).text).toBe('The exit delay is seconds or minutes up to 10 minutes, like 45s or 2m, or off; "11m" is not.');
    expect((await say("/exitdelay off")).text).toBe("No exit delay: alerts start as soon as someone arms.");
    expect(h.store.exitDelay()).toBe(0);

    expect((await say("/quiet")).text).toBe("No quiet hours: every alert notifies. /quiet 22:00-07:00 sends alerts silently at night.");
    expect((await say("/quiet 22:00-07:00")).text).toBe("Quiet hours 22:00-07:00 every day (Europe/London): alerts then still come, without a sound.");
    expect((await say("/quiet")).text).toBe("Quiet hours 22:00-07:00 every day (Europe/London): alerts then come without a sound. /quiet off ends them.");
    expect((await say("/quiet 7pm-6am")).text).toBe('"7pm-6am" is not a from-to time; write it as 23:00-07:00.');
    expect((await say("/mode")).text).toMatch(/\nQuiet hours 22:00-07:00 every day\.$/);
  });

  it("sends an alert in the quiet hours without a sound, and one outside them with it; the caption says the mode", { timeout: 240_000 }, async () => {
    const living = h.store.camera("living")!;
    const at = (t: number) => makeAlert({ cameraId: living.id, cameraName: "living", at: t, snapshot: frame, mode: "away" });
    let mark = h.tg.mark();
    await h.bot.publish(at(feb3("23:30")));
    const quiet = await h.tg.waitFor((r) => r.ok === true && r.method === "sendPhoto", { after: mark, timeoutMs: 90_000 });
    expect(quiet.params.disable_notification).toBe(true);
    expect(h.tg.message(group.id, (quiet.result as Message).message_id)!.caption).toMatch(/^Person on living · 87% · \w{3} 23:30:00 · away\nSent .* late: Telegram could not be reached until now\.$/);
    mark = h.tg.mark();
    await h.bot.publish(at(feb3("12:00", 4)));
    const loud = await h.tg.waitFor((r) => r.ok === true && r.method === "sendPhoto", { after: mark, timeoutMs: 90_000 });
    expect(loud.params.disable_notification).toBeUndefined();
    expect((await say("/quiet off")).text).toBe("No quiet hours: every alert notifies.");
    await drained(h);
  });
});

describe("no replay of the past", () => {
  it("still delivers an alert queued before a disarm (it happened while armed), and says the mode it was decided in", { timeout: 240_000 }, async () => {
    expect((await say("/arm")).text).toBe("Armed away: living, porch will alert here.");
    const porch = h.store.camera("porch")!;
    // Telegram refuses photos for a while: the alert waits in the outbox.
    h.tg.fault({ kind: "status", status: 502, methods: ["sendPhoto"] });
    const mark = h.tg.mark();
    await h.bot.publish(makeAlert({ cameraId: porch.id, cameraName: "porch", at: Date.now(), snapshot: frame, mode: "away" }));
    await h.tg.waitFor((r) => r.method === "sendPhoto" && r.status === 502, { after: mark, timeoutMs: 30_000 });
    expect((await say("/disarm")).text).toBe("Disarmed: no alerts until /arm.");
    h.tg.clearFaults();
    const sent = await h.tg.waitFor((r) => r.ok === true && r.method === "sendPhoto", { after: mark, timeoutMs: 120_000 });
    expect(h.tg.message(group.id, (sent.result as Message).message_id)!.caption).toMatch(/^Person on porch · 87% · (\w{3} )?\d\d:\d\d:\d\d · away$/);
    // Disarmed, its buttons offer to arm again.
    expect(rows(h.tg.message(group.id, (sent.result as Message).message_id))).toEqual([["Mute 30 min", "Mute 2 h"], ["Snapshot", "Disarmed · Arm"]]);
    await drained(h);
  });
});
