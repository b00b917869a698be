import { describe, expect, it } from "vitest";
import { alertButtonData, alertCaption, alertKeyboard, MAX_FOLDED, parseAlertButton } from "../../src/bot/alert-view.js";
import { planDelivery } from "../../src/bot/sender.js";
import type { AlertPayload, OutboxEntry } from "../../src/store/outbox.js";
import { parseTelegramHtml } from "../support/bot-api/index.js";

const NOW = Date.UTC(2026, 2, 14, 14, 0, 0);
const TZ = "UTC";

function payload(cameraName: string, over: Partial<AlertPayload> = {}): AlertPayload {
  return { type: "alert", alertId: "a1", cameraId: "c0ffee000001", cameraName, label: "person", score: 0.912, at: NOW - 5000, motionOnly: false, photo: null, silent: false, ...over };
}

describe("alert captions and buttons", () => {
  it("escapes camera names so Telegram's HTML parser reads them back exactly", () => {
    for (const name of ["cam_1", "*front*", "<b>yard</b>", "a&b", 'q"uote', "Ворота-1", "门口"]) {
      const parsed = parseTelegramHtml(alertCaption(payload(name), [], NOW, TZ).value);
      expect(parsed.text).toBe(`Person on ${name} · 91% · 13:59:55`);
      expect(parsed.entities.map((e) => e.type)).toEqual(["bold", "bold"]);
    }
  });

  it("says the mode the alert was decided in", () => {
    expect(parseTelegramHtml(alertCaption(payload("living", { mode: "away" }), [], NOW, TZ).value).text).toBe("Person on living · 91% · 13:59:55 · away");
    expect(parseTelegramHtml(alertCaption(payload("yard", { mode: "night", motionOnly: true, label: "motion" }), [], NOW, TZ).value).text).toMatch(/^Motion on yard · 13:59:55 · night\n/);
  });

  it("lists every alert folded in with its time and object, says that it is late, and marks motion-only alerts", () => {
    const head = payload("cam2", { at: NOW - 10 * 60_000 });
    const folded = [payload("cam2", { at: NOW - 9 * 60_000 }), payload("cam2", { at: NOW - 8 * 60_000, label: "car" }), payload("cam2", { at: NOW - 7 * 60_000, label: "motion", motionOnly: true })];
    expect(parseTelegramHtml(alertCaption(head, folded, NOW, TZ).value).text).toBe("Person on cam2 · 91% · 13:50:00\n+3 more on cam2: 13:51:00 person, 13:52:00 car, 13:53:00 motion\nSent 10 min late: Telegram could not be reached until now.");
    expect(parseTelegramHtml(alertCaption(payload("cam3", { motionOnly: true, label: "motion" }), [], NOW, TZ).value).text).toBe("Motion on cam3 · 13:59:55\nMotion only: the object detector is not working (see /status).");
  });

  it("says a satellite's alert that reached the hub late was held by the satellite's link, not by Telegram", () => {
    const held = payload("cabin/porch", { at: NOW - 3 * 60_000, satellite: "cabin", receivedAt: NOW - 10_000 });
    expect(parseTelegramHtml(alertCaption(held, [], NOW, TZ).value).text).toBe("Person on cabin/porch · 91% · 13:57:00\nSent 3 min late: the satellite cabin could not reach the hub until then.");
    const prompt = payload("cabin/porch", { at: NOW - 3 * 60_000, satellite: "cabin", receivedAt: NOW - 3 * 60_000 + 200 });
    expect(parseTelegramHtml(alertCaption(prompt, [], NOW, TZ).value).text).toMatch(/Sent 3 min late: Telegram could not be reached until now\.$/);
  });

  it("keeps the longest folded caption within Telegram's 1024 characters for a photo", () => {
    const name = "a".repeat(32);
    const dayAgo = NOW - 26 * 3600_000;
    const folded = Array.from({ length: MAX_FOLDED }, (_, i) => payload(name, { at: dayAgo + i * 1000, label: "baseball glove", motionOnly: i % 2 === 0 }));
    const text = parseTelegramHtml(alertCaption(payload(name, { at: dayAgo, motionOnly: true, label: "motion", mode: "night" }), folded, NOW, TZ).value).text;
    expect(text.split(", ")).toHaveLength(MAX_FOLDED);
    expect(text.length).toBeLessThanOrEqual(1024);
  });

  it("draws the mute and disarm state, and its undo, into the buttons", () => {
    const texts = (m: ReturnType<typeof alertKeyboard>) => m.inline_keyboard.map((row) => row.map((b) => b.text));
    expect(texts(alertKeyboard("c0ffee000001", { mutedUntil: null, systemArmed: true }, NOW, TZ))).toEqual([["Mute 30 min", "Mute 2 h"], ["Snapshot", "Disarm"]]);
    expect(texts(alertKeyboard("c0ffee000001", { mutedUntil: NOW + 30 * 60_000, systemArmed: false }, NOW, TZ))).toEqual([["Muted until 14:30 · Unmute"], ["Snapshot", "Disarmed · Arm"]]);
    // A mute that has run out shows the mute buttons again; one that ends tomorrow names the day.
    expect(texts(alertKeyboard("c0ffee000001", { mutedUntil: NOW - 1, systemArmed: true }, NOW, TZ))[0]).toEqual(["Mute 30 min", "Mute 2 h"]);
    expect(texts(alertKeyboard("c0ffee000001", { mutedUntil: NOW + 24 * 3600_000, systemArmed: true }, NOW, TZ))[0]).toEqual(["Muted until Sun 14:00 · Unmute"]);
  });

  it("keeps callback data within Telegram's 64 bytes and refuses anything it did not make", () => {
    for (const b of alertKeyboard("a".repeat(48), { mutedUntil: null, systemArmed: true }, NOW, TZ).inline_keyboard.flat()) {
      expect(Buffer.byteLength((b as { callback_data: string }).callback_data)).toBeLessThanOrEqual(64);
    }
    expect(parseAlertButton(alertButtonData("m120", "c0ffee000001"))).toEqual({ action: "m120", cameraId: "c0ffee000001" });
    for (const forged of ["al:m999:c0ffee000001", "al:m30:", "al:m30:../../etc", "al:m30:c0ffee000001:extra", "rm:y:x:1", "", "al:snapshot:" + "x".repeat(60)]) expect(parseAlertButton(forged)).toBeUndefined();
  });
});

describe("what the sender sends next", () => {
  const entry = (seq: number, p: OutboxEntry["payload"]): OutboxEntry => ({ seq, chatId: -1, createdAt: 0, payload: p });
  const alert = (seq: number, cameraId: string) => entry(seq, { ...payload("x"), alertId: `a${seq}`, cameraId });
  const notice = (seq: number) => entry(seq, { type: "notice", text: "n", silent: false });

  it("folds the waiting alerts of the head's camera into it, at most MAX_FOLDED, and nothing else", () => {
    const plan = planDelivery([alert(1, "cam2"), alert(2, "cam1"), notice(3), alert(4, "cam2"), alert(5, "cam2")])!;
    expect(plan.head.seq).toBe(1);
    expect(plan.folded.map((e) => e.seq)).toEqual([4, 5]);
    const backlog = Array.from({ length: 40 }, (_, i) => alert(i + 1, "cam2"));
    expect(planDelivery(backlog)!.folded.map((e) => e.seq)).toEqual(Array.from({ length: MAX_FOLDED }, (_, i) => i + 2));
    expect(planDelivery([notice(1), alert(2, "cam1")])).toMatchObject({ head: { seq: 1 }, folded: [] });
    expect(planDelivery([])).toBeUndefined();
  });

  it("sends waiting alerts and notices before clips, and a clip once nothing else waits", () => {
    const clip = (seq: number, alertId: string) => entry(seq, { type: "clip", alertId, cameraId: "cam1", cameraName: "x" });
    expect(planDelivery([clip(1, "a0"), clip(2, "a9"), alert(3, "cam1"), notice(4), alert(5, "cam1")])).toMatchObject({ head: { seq: 3 }, folded: [{ seq: 5 }] });
    expect(planDelivery([clip(1, "a0"), notice(2)])).toMatchObject({ head: { seq: 2 } });
    expect(planDelivery([clip(1, "a0"), clip(2, "a9")])).toMatchObject({ head: { seq: 1 }, folded: [] });
  });
});
