/**
 * Whole sessions in the alert group, through the Bot API stand-in: claiming
 * Vigil, every command and its reply, and bad input of every kind. Cameras are
 * real RTSP streams (footage without people, so no alert interrupts).
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/bot/commands.js";
import { REFUSAL } from "../../src/bot/features/access.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { inlineButtons } from "../support/bot-api/index.js";
import { until } from "../support/wait.js";
import { claim, expectSilence, startHarness, type Harness } from "./harness.js";

let h: Harness;
let rtsp: RtspTestServer;
let alice: User;
let bob: User;
let group: Chat;
let topic: number;

const storeBytes = () => fs.readFile(path.join(h.dir, "vigil.db"));

beforeAll(async () => {
  rtsp = await startRtspServer({
    mounts: [
      { name: "road", clip: footage("bgslibrary_video03_road-traffic-trees.avi"), clipOptions: { width: 320, height: 240, fps: 5 } },
      { name: "lot", clip: footage("intel_car-detection.mp4"), clipOptions: { width: 640, height: 360, fps: 5 } },
    ],
  });
  h = await startHarness();
  await h.control.addCamera({ name: "cam1", url: rtsp.url("road") });
  await h.control.addCamera({ name: "cam2", url: rtsp.url("lot") });
  await until(() => h.pipeline.status().filter((c) => c.state === "online").length === 2, 60_000, "both cameras are online");
  alice = h.tg.user({ firstName: "Alice", username: "alice_home" });
  bob = h.tg.user({ firstName: "Bob", username: "bob_home" });
  group = h.tg.group({ title: "Home", forum: true, owner: alice });
  topic = h.tg.topic(group, "Cameras");
}, 180_000);
afterAll(async () => {
  await h?.stop();
  await rtsp?.close();
});

const say = (text: string, user = alice) => h.ask(user, group, text, { threadId: topic });

describe("claiming Vigil", () => {
  it("refuses a wrong code in one sentence, then the printed code makes the sender admin and the topic the alert chat", async () => {
    const mallory = h.tg.user({ firstName: "Mallory" });
    const wrong = await h.ask(mallory, h.tg.privateChat(mallory), "/claim 12345678");
    expect(wrong.text).toBe("That claim code is not valid: it is wrong, already used or expired. Restart Vigil to print a new one.");
    expect(h.store.admins()).toEqual([]);

    const reply = await claim(h, alice, group, topic);
    expect(reply.text).toBe("Vigil is yours. Alerts will come to this topic, and you, Alice (@alice_home), are its first admin.\nNext: /addcamera to add a camera, /help for everything else.");
    expect(reply.message_thread_id).toBe(topic);
    expect(h.store.admins()).toMatchObject([{ id: alice.id, username: "alice_home" }]);
    expect(h.store.chats()).toEqual([{ id: group.id, threadId: topic, title: "Home" }]);

    // Spent: the same code does nothing for anyone else, and the admin is told why.
    expect((await h.ask(mallory, h.tg.privateChat(mallory), `/claim ${h.claimCode}`)).text).toBe(REFUSAL);
    expect((await h.ask(alice, h.tg.privateChat(alice), `/claim ${h.claimCode}`)).text).toBe("Vigil already has its alert chat: /claim is for the first start only.");
    expect(h.store.admins()).toHaveLength(1);
  });

  it("registered the command menu, with descriptions, for groups and private chats", () => {
    for (const scope of [{ type: "all_group_chats" }, { type: "all_private_chats" }]) {
      expect(h.tg.commands(scope)).toEqual(COMMANDS.map((c) => ({ command: c.command, description: c.description })));
    }
  });
});

describe("commands", () => {
  // First: the flood limits (20 messages a minute in a group) would hold the heartbeat back behind the other replies.
  it("/heartbeat on sends the first silent heartbeat at once and keeps the day; off stops it; anything else gets one line", async () => {
    expect((await say("/heartbeat")).text).toBe("The daily heartbeat is off. /heartbeat on sends a silent message each day that Vigil is running.");
    const mark = h.tg.mark();
    const [on, beat] = await h.askAll(alice, group, "/heartbeat on", 2, { threadId: topic });
    expect(on!.text).toBe("Heartbeat on: a silent message each day at this time says Vigil is running; the first comes now.");
    expect(beat!.text).toMatch(/^Daily heartbeat: Vigil is running, disarmed; [12] of 2 cameras online.*; the detector works\. \/heartbeat off stops these\.$/);
    expect(beat!.message_thread_id).toBe(topic);
    const request = h.tg.outputs(group, mark).find((r) => (r.result as Message).message_id === beat!.message_id)!;
    expect(request.params.disable_notification).toBe(true);
    expect(h.store.heartbeat()).toBe(true);
    expect(Date.now() - h.store.heartbeatSentAt()).toBeLessThan(60_000);
    expect((await say("/heartbeat on")).text).toBe("The daily heartbeat is already on.");
    expect((await say("/heartbeat off")).text).toBe("Heartbeat off.");
    expect((await say("/heartbeat sometimes")).text).toBe("Use /heartbeat on or /heartbeat off.");
    expect(h.store.heartbeat()).toBe(false);
  });

  it("/arm and /disarm switch the mode (away, off), addressed plainly or as /cmd@bot", async () => {
    expect((await say("/arm")).text).toBe("Armed away: cam1, cam2 will alert here.");
    expect(h.store.isArmed()).toBe(true);
    expect((await say(`/disarm@${h.tg.bot.username}`)).text).toBe("Disarmed: no alerts until /arm.");
    expect(h.store.isArmed()).toBe(false);
    expect((await say("/disarm cam2")).text).toBe("cam2 is disarmed.");
    expect((await say("/arm")).text).toBe("Armed away: cam1 will alert here. Disarmed on their own: cam2.");
    expect((await say("/arm cam2")).text).toBe("cam2 is armed.");
    expect(h.store.cameras().every((c) => c.armed)).toBe(true);
  });

  it("/snapshot cam1 returns the camera's current picture; /snapshot all returns an album", async () => {
    const photo = await say("/snapshot cam1");
    expect(photo.text).toBeUndefined();
    expect(photo.caption).toMatch(/^cam1 · (\w{3} )?\d\d:\d\d:\d\d$/);
    expect(photo.photo?.[0]?.width).toBeGreaterThan(0);
    const mark = h.tg.mark();
    h.tg.send(alice, group, "/snapshot all", { threadId: topic });
    const album = await h.tg.waitFor((r) => r.method === "sendMediaGroup" && r.ok === true, { after: mark, timeoutMs: 60_000 });
    expect((album.result as Message[]).map((m) => m.caption?.split(" · ")[0])).toEqual(["cam1", "cam2"]);
  });

  it("/set sensitivity 5000 changes every camera and says so; /set cam1 score 0.7 and /get cam1 read it back", async () => {
    const before = h.pipeline.status().map((s) => [s.cameraId, s.restarts]);
    expect((await say("/set sensitivity 5000")).text).toBe("sensitivity is now 5000 on every camera (cam1, cam2).");
    expect(h.store.cameras().map((c) => c.settings.sensitivity)).toEqual([5000, 5000]);
    // Applied to the running cameras in place: their ffmpeg was not restarted.
    expect(h.pipeline.status().map((s) => [s.cameraId, s.restarts])).toEqual(before);
    expect((await say("/set cam1 score 0.7")).text).toBe("score is now 0.7 on cam1.");
    expect((await say("/set cam2 classes person, dog")).text).toBe("classes is now person, dog on cam2.");
    const get = await say("/get cam1");
    expect(get.text).toContain("sensitivity: 5000\n");
    expect(get.text).toContain("score: 0.7\n");
    const status = await say("/status");
    expect(status.text).toMatch(/^Armed away · running for /);
    expect(status.text).toMatch(/\ncam1: (online|starting).*\nsensitivity 5000 · person · score 0.7 · 5 fps/);
  });

  it("/clip records the next seconds of a camera; /events says when there are none", async () => {
    const [recording, video] = await h.askAll(alice, group, "/clip cam2 2", 2, { threadId: topic });
    expect(recording!.text).toBe("Recording 2 s from cam2…");
    // Cut at keyframes (one a second here): at least what was asked.
    expect(video!.caption).toMatch(/^cam2 · (\w{3} )?\d\d:\d\d:\d\d · [23] s$/);
    expect(video!.video?.width).toBe(640);
    expect(video!.video?.duration).toBeGreaterThanOrEqual(2);
    expect((await say("/clip cam2 90")).text).toBe("A clip is 1 to 60 whole seconds long.");
    expect((await say("/clip")).text).toBe("Use /clip followed by a camera name and, if you like, seconds (1 to 60), for example /clip cam1 20.");
    expect((await say("/events")).text).toBe("No events yet.");
    expect((await say("/events 99")).text).toBe("Ask for 1 to 16 events, for example /events 9.");
    expect((await say("/status")).text).toMatch(/\nRecording: [\d.]+ [kMG]B used, [\d.]+ [kMG]B free\.\n/);
  });

  it("/mute and /unmute, for one camera or all", async () => {
    const muted = await say("/mute cam1 2h");
    // Two hours from late evening is tomorrow: then the weekday comes first.
    expect(muted.text).toMatch(/^cam1 is muted until (\w{3} )?\d\d:\d\d \(2 h\)\. \/unmute cam1 ends it\.$/);
    const until = h.store.camera("cam1")!.mutedUntil!;
    expect(until - Date.now()).toBeGreaterThan(119 * 60_000);
    expect(until - Date.now()).toBeLessThanOrEqual(120 * 60_000);
    expect((await say("/mute")).text).toMatch(/^Every camera \(cam1, cam2\) is muted until (\w{3} )?\d\d:\d\d \(30 min\)/);
    expect((await say("/unmute")).text).toBe("Every camera alerts again (cam1, cam2).");
    expect(h.store.cameras().map((c) => c.mutedUntil)).toEqual([null, null]);
  });

  it("every bad input gets one clear line and changes nothing", async () => {
    const cases: [string, string | RegExp][] = [
      ["/set sensitivity abc", 'sensitivity must be a number from 10 to 230400; "abc" is not.'],
      ["/set sensitivity -5", "sensitivity must be from 10 to 230400; -5 is out of range."],
      ["/set sensitivity 1e12", 'sensitivity must be a number from 10 to 230400; "1e12" is not.'],
      ["/set sensitivity", /^Give a value for sensitivity: /],
      ["/set loudness 11", /^There is no setting or camera called "loudness"; the settings are modes, sensitivity, /],
      ["/set cam9 sensitivity 100", 'There is no camera called "cam9"; the cameras are cam1, cam2.'],
      ["/mute cam1 forever", 'Durations look like 30m, 2h or 1d; "forever" is not one. To stop alerts altogether, use /disarm.'],
      ["/mute forever", '"forever" is neither a camera nor a duration like 30m, 2h or 1d.'],
      ["/snapshot cam9", 'There is no camera called "cam9"; the cameras are cam1, cam2.'],
      ["/arm cam1 cam2", "Use /arm for every camera, or /arm followed by one camera name."],
      ["/rename cam1 all", '"all" is reserved; choose another camera name.'],
      ["/rename cam1 cam2", "There is already a camera called cam2."],
      ["/removecamera", "Use /removecamera followed by the camera's name."],
      ["/frobnicate", "There is no command /frobnicate; /help lists what Vigil understands."],
      [`/set ${"x".repeat(4000)} 1`, /^There is no setting or camera called "x{20}…"; /],
      ["/snapshot Ворота_№1", 'There is no camera called "Ворота_№1"; the cameras are cam1, cam2.'],
      ["/set sensitivity <b>5</b>&", 'sensitivity must be a number from 10 to 230400; "<b>5</b>&" is not.'],
    ];
    const bytes = await storeBytes();
    for (const [input, expected] of cases) {
      const reply = await say(input);
      if (typeof expected === "string") expect(reply.text, input).toBe(expected);
      else expect(reply.text, input).toMatch(expected);
      expect(reply.text!.split("\n"), input).toHaveLength(1);
    }
    expect((await storeBytes()).equals(bytes)).toBe(true);
  });

  it("an edited command is not run again", async () => {
    const bytes = await storeBytes();
    const original = h.tg.send(alice, group, "/help", { threadId: topic });
    await h.tg.nextMessage(group, { after: original.mark });
    const edit = h.tg.edit(alice, group, original.message, "/disarm");
    const reply = await h.tg.nextMessage(group, { after: edit.mark });
    expect(reply.text).toBe("I do not act on edited messages; send the command again as a new message.");
    expect(h.store.isArmed()).toBe(true);
    expect((await storeBytes()).equals(bytes)).toBe(true);
  });

  it("/rename and /removecamera (confirmed with buttons; a second press is answered, not obeyed)", async () => {
    expect((await say("/rename cam1 Ворота_1")).text).toBe("cam1 is now called Ворота_1.");
    expect((await say("/snapshot ворота_1")).caption).toMatch(/^Ворота_1 · /);
    expect((await say("/rename Ворота_1 cam1")).text).toBe("Ворота_1 is now called cam1.");
    expect((await say("/rename cam2 back_yard")).text).toBe("cam2 is now called back_yard.");
    const question = await say("/removecamera back_yard");
    expect(question.text).toBe("Remove back_yard? Its settings go with it.");
    const keep = h.tg.press(alice, question, "Keep it");
    expect((await h.tg.answerOf(keep)).params.text).toBe("Kept back_yard.");
    expect(h.store.camera("back_yard")).toBeDefined();

    const again = await say("/removecamera back_yard");
    const remove = h.tg.press(alice, again, "Remove back_yard");
    expect((await h.tg.answerOf(remove)).params.text).toBe("Removed back_yard.");
    expect(h.store.cameras().map((c) => c.name)).toEqual(["cam1"]);
    await h.tg.waitFor((r) => r.method === "editMessageText" && r.params.message_id === again.message_id, { after: remove.mark });
    expect(h.tg.message(group.id, again.message_id)?.text).toBe("Removed back_yard.");
    expect(inlineButtons(h.tg.message(group.id, again.message_id)!)).toEqual([]);
    // The old button's data pressed again (a stale client): answered, nothing happens.
    const stale = h.tg.press(alice, again, { data: (inlineButtons(again)[0] as { callback_data: string }).callback_data });
    expect((await h.tg.answerOf(stale)).params.text).toBe("This button is not valid any more.");
    await h.control.addCamera({ name: "cam2", url: rtsp.url("lot") });
  });

  it("/admins add by reply makes someone an admin; /admins lists; the last admin cannot be removed", async () => {
    await expectSilence(h, group, alice, () => h.tg.send(bob, group, "/status", { threadId: topic }), topic);
    const bobsMessage = h.tg.send(bob, group, `hi @${h.tg.bot.username}`, { threadId: topic }).message;
    expect((await h.ask(alice, group, "/admins add", { replyTo: bobsMessage })).text).toBe("Bob (@bob_home) is now a Vigil admin.");
    expect(h.store.isAdmin(bob.id)).toBe(true);
    expect((await say("/status", bob)).text).toMatch(/^Armed/);
    expect((await say("/admins")).text).toBe(`Admins\nAlice (@alice_home) · id ${alice.id}\nBob (@bob_home) · id ${bob.id}\n\nAdd one by replying to their message with /admins add, or /admins add @username.`);
    expect((await say("/admins remove @bob_home")).text).toBe("Bob (@bob_home) is no longer a Vigil admin.");
    expect((await say(`/admins remove ${alice.id}`)).text).toBe("That is the last admin; add another admin before removing this one.");
    expect((await say("/admins add @nobody_seen")).text).toBe("I have not seen @nobody_seen write yet: ask them to send any command here, or reply to one of their messages with /admins add.");
    expect(h.store.admins().map((a) => a.id)).toEqual([alice.id]);
  });

  it("answers an admin privately too, with /help listing every command", async () => {
    const help = await h.ask(alice, h.tg.privateChat(alice), "/help");
    for (const c of COMMANDS) expect(help.text).toContain(`/${c.command}: ${c.description}`);
    expect((await h.ask(alice, h.tg.privateChat(alice), "/cameras")).text).toMatch(/^cam1: rtsp:\/\/127\.0\.0\.1:\d+\/road\ncam2: /);
  });
});
