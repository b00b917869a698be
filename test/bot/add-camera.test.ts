/**
 * The /addcamera conversation over a real RTSP server that demands a password,
 * in a group with privacy mode on (answers are replies to the bot's questions):
 * wrong URL, refused connection, timeout and wrong password each get a sentence
 * and a way on; the password message is deleted; the frame is shown; Save saves.
 */
import net from "node:net";
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STALE_BUTTON } from "../../src/bot/features/access.js";
import { formatClock } from "../../src/bot/format.js";
import { jpegFrame } from "../support/video.js";
import { filesContaining } from "../support/tmp.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { claim, startHarness, type Harness } from "./harness.js";

const CAMERA_PASSWORD = "Gr33n&Door pw";

let h: Harness;
let rtsp: RtspTestServer;
let blackhole: net.Server;
let alice: User;
let group: Chat;
let frame: Buffer;
const logLines: string[] = [];

beforeAll(async () => {
  rtsp = await startRtspServer({ mounts: [{ name: "garden", clip: footage("bgslibrary_video03_road-traffic-trees.avi"), clipOptions: { width: 320, height: 240, fps: 5 } }], auth: { user: "admin", password: CAMERA_PASSWORD } });
  // Accepts connections and never answers: a camera that hangs.
  blackhole = net.createServer(() => undefined).listen(0, "127.0.0.1");
  h = await startHarness({ logLines });
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice, botIsAdmin: true });
  await claim(h, alice, group);
  await h.control.addCamera({ name: "porch", url: rtsp.url("garden") });
  frame = await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25);
}, 180_000);
afterAll(async () => {
  await h?.stop();
  await rtsp?.close();
  blackhole?.close();
});

/** Alice answers the bot's last message (a reply, as Telegram's force_reply makes her client do); the bot says `count` things. */
const answer = (text: string, count = 1) => h.askAll(alice, group, text, count, { replyTo: h.lastBotMessage(group) });
/** Alice presses a button; the bot says `count` things. */
async function press(message: Message, label: string, count = 1): Promise<Message[]> {
  const p = h.tg.press(alice, message, label);
  await h.tg.answerOf(p);
  return h.sentSince(group, p.mark, count);
}
const texts = (messages: Message[]) => messages.map((m) => m.text ?? m.caption);

describe("/addcamera", () => {
  it("walks through name, URL and login, recovers from every kind of failure, shows the frame and saves", async () => {
    const [intro, nameQuestion] = await h.askAll(alice, group, "/addcamera", 2);
    expect(intro!.text).toBe("Adding a camera; /cancel stops at any step.");
    expect(nameQuestion!.text).toBe("What should the camera be called? Letters, digits, _ or -, for example front_door.");

    expect(texts(await answer("front door"))).toEqual(["A camera name is 1 to 32 letters, digits, `_` or `-`, with no spaces (for example front_door). Try another name."]);
    // No ONVIF camera answers this test's search: the one sentence, then the URL question with the patterns.
    const [looking, urlQuestion] = await answer("garden", 2);
    expect(looking!.text).toBe("No camera answered the ONVIF search (the camera may not speak ONVIF, or this network may not pass multicast), so its stream URL has to be given by hand.");
    expect(h.tg.requests.some((r) => r.method === "sendMessage" && r.ok && (r.result as Message).message_id === looking!.message_id && r.params.text === "Looking for cameras on your network…")).toBe(true);
    expect(urlQuestion!.text).toMatch(/^The camera's stream URL\? .*\nReolink: rtsp:\/\/IP:554\/h264Preview_01_sub\n(.*\n){4}I ask for the username and password next\.$/);

    expect(texts(await answer("file:///etc/passwd"))).toEqual(["Camera streams must be rtsp://, rtsps://, http:// or https:// URLs; file: is not allowed."]);
    expect(texts(await answer("rtsp://127.0.0.1:1/stream"))).toEqual(["The camera's username? Send - if it needs none."]);
    const [connecting, refused] = await answer("-", 2);
    expect(connecting!.text).toBe("Connecting to rtsp://127.0.0.1:1/stream…");
    expect(refused!.text).toMatch(/refused the connection.* Check the port \(RTSP is usually 554\) and that the camera's RTSP stream is switched on\.$/);
    expect(refused!.reply_markup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Try again", "Change URL", "Change login", "Cancel"]);

    await press(refused!, "Change URL");
    const { port } = blackhole.address() as net.AddressInfo;
    await answer(`rtsp://127.0.0.1:${port}/stream`);
    const probing = h.tg.send(alice, group, "-", { replyTo: h.lastBotMessage(group) });
    // While the chat waits for that camera, an alert's button is still answered at once.
    const porch = h.store.camera("porch")!;
    const alertMark = h.tg.mark();
    await h.bot.publish({ type: "alert", id: "during-probe", cameraId: porch.id, cameraName: porch.name, at: Date.now(), startedAt: Date.now(), label: "person", score: 0.8, box: [0, 0, 1, 1], objects: [], frameWidth: 160, frameHeight: 120, snapshot: frame, motionOnly: false, mode: "away" });
    const alert = await h.tg.nextMessage(group, { after: alertMark, method: "sendPhoto" });
    const mute = h.tg.press(alice, alert, "Mute 30 min");
    const muteAnswer = await h.tg.answerOf(mute);
    const [, timedOut] = await h.sentSince(group, probing.mark, 3).then((m) => m.filter((x) => x.message_id !== alert.message_id));
    const failureSent = h.tg.requests.find((r) => r.ok && r.method === "sendMessage" && (r.result as Message).message_id === timedOut!.message_id)!;
    expect(muteAnswer.index).toBeLessThan(failureSent.index);
    expect(h.store.camera("porch")!.mutedUntil).not.toBeNull();
    // ffmpeg gives up on a server that never answers after its socket timeout; whatever it reports, it is one sentence and a way on.
    expect(timedOut!.text).toMatch(/^Could not open camera at rtsp:\/\/127\.0\.0\.1:\d+\/stream: [^\n]+\. Check [^\n]+\.$/);
    expect(timedOut!.reply_markup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Try again", "Change URL", "Change login", "Cancel"]);

    await press(timedOut!, "Change URL");
    expect(texts(await answer(rtsp.url("garden", null)))).toEqual(["The camera's username? Send - if it needs none."]);
    expect(texts(await answer("admin"))).toEqual(["The password for admin? I delete your message as soon as I have read it."]);
    const wrongMark = h.tg.mark();
    const [, unauthorized] = await answer("not the password", 2);
    const deleted = h.tg.requests.slice(wrongMark).find((r) => r.method === "deleteMessage");
    expect(deleted?.ok).toBe(true);
    expect(h.tg.messages(group).some((m) => m.text === "not the password")).toBe(false);
    expect(unauthorized!.text).toMatch(/refused the username or password\. Check the username and password\.$/);

    await press(unauthorized!, "Change login");
    await answer("admin");
    const [, photo] = await answer(CAMERA_PASSWORD, 2);
    expect(h.tg.messages(group).some((m) => m.text === CAMERA_PASSWORD)).toBe(false);
    expect(photo!.caption).toMatch(/^This is what garden sees \(320x240, first picture after [\d.]+ s\)\. Save it\?$/);
    expect(photo!.photo?.[0]).toMatchObject({ width: 320, height: 240 });
    expect(photo!.reply_markup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Save", "Cancel"]);

    expect(texts(await press(photo!, "Save"))).toEqual(["Saved garden. It is armed and alerts here when the system is armed (/arm). /set garden sensitivity 5000 and the other settings tune it."]);
    expect(h.tg.message(group.id, photo!.message_id)?.caption).toBe("garden: saved.");
    expect(h.store.camera("garden")).toMatchObject({ url: rtsp.url("garden", null), username: "admin", password: CAMERA_PASSWORD });
    await h.store.flush();
    expect(await filesContaining(h.dir, CAMERA_PASSWORD)).toEqual([]);
    // The password never appears in anything the bot sent.
    expect(JSON.stringify(h.tg.requests.map((r) => r.params))).not.toContain(CAMERA_PASSWORD);
    // Each failure is in the log too (a camera that fails now and then shows there), with no password, right or wrong.
    const failures = logLines.map((line) => JSON.parse(line) as { level: number; msg: string; camera?: string }).filter((l) => l.msg === "/addcamera: the camera could not be opened");
    expect(failures.map((l) => [l.level, l.camera])).toEqual([
      [40, "garden"],
      [40, "garden"],
      [40, "garden"],
    ]);
    expect(logLines.join("\n")).not.toContain(CAMERA_PASSWORD);
    expect(logLines.join("\n")).not.toContain("not the password");
  });

  it("with the camera search switched off (VIGIL_ONVIF_TIMEOUT=0), the URL question follows the name at once", async () => {
    const quiet = await startHarness({ onvifTimeoutMs: 0 });
    try {
      const bob = quiet.tg.user({ firstName: "Bob" });
      const home = quiet.tg.group({ title: "Quiet home", owner: bob, botIsAdmin: true });
      await claim(quiet, bob, home);
      await quiet.askAll(bob, home, "/addcamera", 2);
      const mark = quiet.tg.mark();
      const [urlQuestion] = await quiet.askAll(bob, home, "gate", 1, { replyTo: quiet.lastBotMessage(home) });
      expect(urlQuestion!.text).toMatch(/^The camera's stream URL\? /);
      expect(quiet.tg.outputs(home, mark).map((r) => r.params.text)).not.toContain("Looking for cameras on your network…");
      expect((await quiet.ask(bob, home, "/cancel")).text).toBe("Stopped adding the camera; nothing was saved.");
    } finally {
      await quiet.stop();
    }
  });

  it("/cancel leaves at any step, another command leaves and runs, and old conversation buttons are stale", async () => {
    await h.askAll(alice, group, "/addcamera", 2);
    await answer("shed", 2);
    expect((await h.ask(alice, group, "/cancel")).text).toBe("Stopped adding the camera; nothing was saved.");
    expect((await h.ask(alice, group, "/cancel")).text).toBe("There is nothing to cancel.");
    expect(h.store.camera("shed")).toBeUndefined();

    await h.askAll(alice, group, "/addcamera", 2);
    expect(texts(await answer("/cameras", 2))).toEqual(["Stopped adding the camera; nothing was saved.", `porch: ${rtsp.url("garden", null)} · muted until ${formatClock(h.store.camera("porch")!.mutedUntil!, Date.now())}\ngarden: ${rtsp.url("garden", null)}`]);

    const oldPhoto = h.tg.messages(group).find((m) => m.caption === "garden: saved.")!;
    const stale = h.tg.press(alice, oldPhoto, { data: "ac:save:zzzzzz" });
    expect((await h.tg.answerOf(stale)).params.text).toBe(STALE_BUTTON);
  });
});
