/** The pure decisions about doors and their readings: debounce, when a door alerts, `afterdoor`, what sources send. */
import { describe, expect, it } from "vitest";
import type { AlertEvent, VisitEvent } from "../../src/domain/events.js";
import { defaultSettings, parseSetting, type Camera } from "../../src/domain/camera.js";
import { createAlertGate } from "../../src/sensors/alert-gate.js";
import { cameraMayAlert, doorAlerts, read, settle, settleAt, type Debounced } from "../../src/sensors/door-rules.js";
import { parseFieldReading, parseGpiomonLine, parseZigbee2mqtt, parseZigbee2mqttAvailability } from "../../src/sensors/readings.js";
import { verifyWebhook, signWebhook } from "../../src/sensors/webhook.js";

describe("debounce", () => {
  it("believes a new state only once it has held for the debounce time; a bounce back cancels it", () => {
    let s: Debounced = { open: false };
    s = read(s, true, 1000);
    expect(settleAt(s, 300)).toBe(1300);
    expect(settle(s, 300, 1200).changed).toBeUndefined();
    s = read(s, false, 1250); // the wire bounced back
    expect(settle(s, 300, 1400).changed).toBeUndefined();
    s = read(s, true, 2000);
    s = read(s, true, 2100); // the same again does not restart the wait
    const settled = settle(s, 300, 2300);
    expect(settled.changed).toEqual({ from: false, to: true, since: 2000 });
    expect(settled.state).toEqual({ open: true });
  });
});

describe("doorAlerts", () => {
  it("alerts when a closed door opens while armed and not muted, and only then", () => {
    expect(doorAlerts({ from: false, to: true }, true, null, 0)).toBe(true);
    expect(doorAlerts({ from: undefined, to: true }, true, null, 0)).toBe(false); // the state at start
    expect(doorAlerts({ from: true, to: false }, true, null, 0)).toBe(false);
    expect(doorAlerts({ from: false, to: true }, false, null, 0)).toBe(false);
    expect(doorAlerts({ from: false, to: true }, true, 5000, 1000)).toBe(false);
    expect(doorAlerts({ from: false, to: true }, true, 500, 1000)).toBe(true);
  });
});

describe("afterdoor", () => {
  it("lets a camera alert only within its minutes after a linked door opened", () => {
    expect(cameraMayAlert(0, undefined, 1)).toBe(true);
    expect(cameraMayAlert(5, undefined, 1)).toBe(false);
    expect(cameraMayAlert(5, 1000, 1000 + 5 * 60_000)).toBe(true);
    expect(cameraMayAlert(5, 1000, 1001 + 5 * 60_000)).toBe(false);
    expect(cameraMayAlert(5, 10_000, 9000)).toBe(false);
  });

  it("is a /set setting (minutes, or off)", () => {
    expect(parseSetting("afterdoor", "10")).toEqual({ afterDoor: 10 });
    expect(parseSetting("afterdoor", "off")).toEqual({ afterDoor: 0 });
    expect(() => parseSetting("afterdoor", "1000")).toThrow(/afterdoor must be from 0 to 240/);
  });

  it("drops a gated camera's alert and its visit's news, and passes the rest", () => {
    const camera: Camera = { id: "c1", name: "hall", url: "rtsp://x", armed: true, mutedUntil: null, settings: { ...defaultSettings(), afterDoor: 2 } };
    const door: { openedAt?: number } = {};
    const gate = createAlertGate(() => [camera], () => door.openedAt);
    const alert = (id: string, at: number) => ({ type: "alert", id, cameraId: "c1", cameraName: "hall", at, startedAt: at, label: "cat", score: 0.9, box: [0, 0, 1, 1], objects: [], frameWidth: 1, frameHeight: 1, snapshot: Buffer.alloc(0), motionOnly: false, mode: "away" }) as AlertEvent;
    const visit = (id: string) => ({ type: "visit", phase: "end", id, cameraId: "c1", cameraName: "hall", at: 0, startedAt: 0, lastSeenAt: 0, label: "cat", counts: {}, stationary: false, motionOnly: false }) as VisitEvent;
    expect(gate.pass(alert("cat", 10_000))).toBe(false);
    expect(gate.pass(visit("cat"))).toBe(false);
    expect(gate.pass({ type: "motion", cameraId: "c1", cameraName: "hall", at: 10_000, state: "start" })).toBe(true);
    door.openedAt = 20_000;
    expect(gate.pass(alert("burglar", 30_000))).toBe(true);
    expect(gate.pass(visit("burglar"))).toBe(true);
    expect(gate.pass(alert("cat-later", 20_000 + 3 * 60_000))).toBe(false);
  });
});

describe("what sources send", () => {
  it("reads Zigbee2MQTT's contact, battery and availability, and nothing from junk", () => {
    expect(parseZigbee2mqtt('{"contact":false,"battery":91,"battery_low":false,"linkquality":120}')).toEqual({ open: true, battery: 91, batteryLow: false });
    expect(parseZigbee2mqtt('{"contact":true}')).toEqual({ open: false });
    for (const junk of ["", "nope", "[]", "null", '{"contact":"false"}', '{"battery":900}', '{"a":1}', "x".repeat(20_000)]) expect(parseZigbee2mqtt(junk)).toBeUndefined();
    expect(parseZigbee2mqttAvailability("online")).toBe(true);
    expect(parseZigbee2mqttAvailability('{"state":"offline"}')).toBe(false);
    expect(parseZigbee2mqttAvailability('{"state":1}')).toBeUndefined();
  });

  it("reads any topic's field against its open value", () => {
    expect(parseFieldReading('{"state":"OPEN"}', "state", "OPEN")).toEqual({ open: true });
    expect(parseFieldReading('{"state":"CLOSED"}', "state", "OPEN")).toEqual({ open: false });
    expect(parseFieldReading('{"door":1}', "door", "1")).toEqual({ open: true });
    expect(parseFieldReading("1", undefined, "1")).toEqual({ open: true });
    expect(parseFieldReading('{"state":{"x":1}}', "state", "OPEN")).toBeUndefined();
    expect(parseFieldReading('{"other":1}', "state", "OPEN")).toBeUndefined();
    expect(parseFieldReading('{"__proto__":"OPEN"}', "__proto__", "OPEN")).toEqual({ open: true });
  });

  it("reads gpiomon's lines as libgpiod 1.6 prints them", () => {
    expect(parseGpiomonLine("event:  RISING EDGE offset: 17 timestamp: [1547562354.829386418]")).toEqual({ rising: true, offset: 17, timestampNs: 1547562354829386418n });
    expect(parseGpiomonLine("event: FALLING EDGE offset: 4 timestamp: [     123.000000001]")).toMatchObject({ rising: false, offset: 4 });
    expect(parseGpiomonLine("event: SIDEWAYS EDGE offset: 4 timestamp: [1.000000001]")).toBeUndefined();
  });

  it("checks a webhook's signature, timestamp and body", () => {
    const seen = new Map<string, number>();
    const body = Buffer.from('{"state":"open"}');
    const now = 1_700_000_000_000;
    const ts = String(now / 1000);
    const signature = signWebhook("s3cret", ts, body);
    expect(verifyWebhook("s3cret", { timestamp: ts, signature }, body, now, seen)).toEqual({ ok: true, open: true });
    expect(verifyWebhook("s3cret", { timestamp: ts, signature }, body, now, seen)).toMatchObject({ ok: false, status: 401, why: "this request was already received (a replay)" });
    expect(verifyWebhook("other", { timestamp: ts, signature }, body, now, new Map())).toMatchObject({ ok: false, why: "bad signature" });
    expect(verifyWebhook("s3cret", { timestamp: ts, signature }, body, now + 61_000, new Map())).toMatchObject({ ok: false, status: 401 });
    // In milliseconds, the same state sent again a moment later is a new request, not a replay.
    const [ms1, ms2] = [String(now), String(now + 400)];
    expect(verifyWebhook("s3cret", { timestamp: ms1, signature: signWebhook("s3cret", ms1, body) }, body, now + 500, seen)).toEqual({ ok: true, open: true });
    expect(verifyWebhook("s3cret", { timestamp: ms2, signature: signWebhook("s3cret", ms2, body) }, body, now + 500, seen)).toEqual({ ok: true, open: true });
    expect(verifyWebhook("s3cret", { timestamp: ms2, signature: signWebhook("s3cret", ms2, body) }, body, now + 600, seen)).toMatchObject({ ok: false, why: "this request was already received (a replay)" });
  });
});
