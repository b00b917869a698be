/**
 * Alerts as the chat sees them: pipeline events go through the outbox and
 * arrive as photos with buttons; pressing a button answers at once, changes
 * the state and redraws the buttons.
 */
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlertEvent } from "../../src/domain/events.js";
import { BUTTON_REFUSAL, STALE_BUTTON } from "../../src/bot/features/access.js";
import { formatClock } from "../../src/bot/format.js";
import { jpegFrame } from "../support/video.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { claim, drained, startHarness, type Harness } from "./harness.js";

let h: Harness;
let rtsp: RtspTestServer;
let alice: User;
let mallory: User;
let group: Chat;
let frame: Buffer;
let n = 0;

beforeAll(async () => {
  rtsp = await startRtspServer({ mounts: [{ name: "road", clip: footage("bgslibrary_video03_road-traffic-trees.avi"), clipOptions: { width: 320, height: 240, fps: 5 } }] });
  h = await startHarness();
  alice = h.tg.user({ firstName: "Alice" });
  mallory = h.tg.user({ firstName: "Mallory" });
  group = h.tg.group({ title: "Home", owner: alice });
  await claim(h, alice, group);
  await h.control.addCamera({ name: "front_door", url: rtsp.url("road") });
  await h.control.arm();
  frame = await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25);
}, 180_000);
afterAll(async () => {
  await h?.stop();
  await rtsp?.close();
});

function alertEvent(over: Partial<AlertEvent> = {}): AlertEvent {
  const camera = h.store.camera("front_door")!;
  n += 1;
  return { type: "alert", id: `alert-${n}`, cameraId: camera.id, cameraName: camera.name, at: Date.now(), startedAt: Date.now() - 2000, label: "person", score: 0.91, box: [10, 10, 50, 100], objects: [], frameWidth: 160, frameHeight: 120, snapshot: frame, motionOnly: false, mode: "away", ...over };
}

async function publishAlert(over: Partial<AlertEvent> = {}): Promise<Message> {
  const mark = h.tg.mark();
  await h.bot.publish(alertEvent(over));
  return h.tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 60_000 });
}

const rows = (m: Message | undefined) => m?.reply_markup?.inline_keyboard.map((row) => row.map((b) => b.text));

describe("alerts", () => {
  it("arrive as the annotated photo with caption and the four buttons, and the outbox remembers where", async () => {
    const message = await publishAlert();
    expect(message.caption).toMatch(/^Person on front_door · 91% · (\w{3} )?\d\d:\d\d:\d\d · away$/);
    expect(h.tg.media(message)?.equals(frame)).toBe(true);
    expect(rows(message)).toEqual([["Mute 30 min", "Mute 2 h"], ["Snapshot", "Disarm"]]);
    await drained(h);
    expect(h.outbox.deliveries(`alert-${n}`)).toMatchObject([{ chatId: group.id, messageId: message.message_id }]);
  });

  it("Mute 30 min: answered at once, the camera is muted, the buttons say until when; Unmute undoes it", async () => {
    const message = await publishAlert();
    const press = h.tg.press(alice, message, "Mute 30 min");
    const answer = await h.tg.answerOf(press);
    const until = h.store.camera("front_door")!.mutedUntil!;
    expect(until - Date.now()).toBeGreaterThan(29 * 60_000);
    const hm = formatClock(until, Date.now());
    expect(answer.params.text).toBe(`front_door is muted until ${hm}.`);
    await h.tg.waitFor((r) => r.method === "editMessageReplyMarkup" && r.params.message_id === message.message_id && r.ok === true, { after: press.mark });
    const edited = h.tg.message(group.id, message.message_id);
    expect(rows(edited)).toEqual([[`Muted until ${hm} · Unmute`], ["Snapshot", "Disarm"]]);

    const unmute = h.tg.press(alice, edited!, `Muted until ${hm} · Unmute`);
    expect((await h.tg.answerOf(unmute)).params.text).toBe("front_door alerts again.");
    expect(h.store.camera("front_door")!.mutedUntil).toBeNull();
    await h.tg.waitFor((r) => r.method === "editMessageReplyMarkup" && r.ok === true, { after: unmute.mark });
    expect(rows(h.tg.message(group.id, message.message_id))).toEqual([["Mute 30 min", "Mute 2 h"], ["Snapshot", "Disarm"]]);
  });

  it("Disarm disarms the system and offers Arm; Snapshot replies with the camera's current picture", async () => {
    const message = await publishAlert();
    const disarm = h.tg.press(alice, message, "Disarm");
    expect((await h.tg.answerOf(disarm)).params.text).toBe("Disarmed: no alerts until /arm.");
    expect(h.store.isArmed()).toBe(false);
    await h.tg.waitFor((r) => r.method === "editMessageReplyMarkup" && r.ok === true, { after: disarm.mark });
    const arm = h.tg.press(alice, h.tg.message(group.id, message.message_id)!, "Disarmed · Arm");
    expect((await h.tg.answerOf(arm)).params.text).toBe("Armed away.");
    expect(h.store.isArmed()).toBe(true);

    const snap = h.tg.press(alice, message, "Snapshot");
    expect((await h.tg.answerOf(snap)).params.text).toBe("Taking a picture from front_door…");
    // Any reply counts, so a refusal fails here with its text instead of a timeout.
    const photo = await h.tg.nextMessage(group, { after: snap.mark, timeoutMs: 40_000 });
    expect(photo.text).toBeUndefined();
    expect(photo.caption).toMatch(/^front_door · /);
    expect(photo.reply_to_message?.message_id).toBe(message.message_id);
  });

  it("a press by someone who is not an admin, or with forged data, is answered and ignored", async () => {
    const message = await publishAlert();
    const before = JSON.stringify(h.store.redactedView());
    for (const label of ["Mute 30 min", "Mute 2 h", "Snapshot", "Disarm"]) {
      const press = h.tg.press(mallory, message, label);
      expect((await h.tg.answerOf(press)).params.text).toBe(BUTTON_REFUSAL);
    }
    const camera = h.store.camera("front_door")!;
    for (const data of [`al:disarm:${camera.id}x`, `al:m30:${camera.id}`.replace("m30", "m9999"), "al:unmute:../../x", `rm:y:${camera.id}:0`, "ac:save:abc"]) {
      const press = h.tg.press(alice, message, { data });
      expect((await h.tg.answerOf(press)).params.text).toBe(STALE_BUTTON);
    }
    expect(JSON.stringify(h.store.redactedView())).toBe(before);
    expect(rows(h.tg.message(group.id, message.message_id))).toEqual([["Mute 30 min", "Mute 2 h"], ["Snapshot", "Disarm"]]);
  });

  it("camera and detector notices go to the same chat, in order", async () => {
    const camera = h.store.camera("front_door")!;
    const mark = h.tg.mark();
    await h.bot.publish({ type: "camera-offline", cameraId: camera.id, cameraName: camera.name, at: Date.now(), lastFrameAt: 0, reason: "connection refused" });
    await h.bot.publish({ type: "camera-online", cameraId: camera.id, cameraName: camera.name, at: Date.now(), downtimeMs: 185_000 });
    await h.bot.publish({ type: "detector-status", ok: false, reason: "the model file is missing" });
    await drained(h);
    const texts = h.tg.outputs(group, mark).map((r) => (r.result as Message).text);
    expect(texts).toEqual([
      "front_door is offline: connection refused.",
      "front_door is back online after 3 min offline.",
      "The object detector stopped (the model file is missing): alerts now come from motion alone and say so.",
    ]);
    expect(h.tg.outputs(group, mark)[1]!.params.disable_notification).toBe(true);
  });
});
