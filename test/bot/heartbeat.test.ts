import { describe, expect, it } from "vitest";
import { defaultSettings, type Camera } from "../../src/domain/camera.js";
import type { ModeView, SystemStatus } from "../../src/domain/control.js";
import type { Mode } from "../../src/domain/modes.js";
import type { CameraStatus } from "../../src/domain/events.js";
import { HEARTBEAT_EVERY_MS, heartbeatDue, heartbeatText } from "../../src/bot/features/heartbeat.js";

const camera = (name: string): Camera => ({ id: name, name, url: `rtsp://10.0.0.2/${name}`, armed: true, mutedUntil: null, settings: defaultSettings() });
const mode = (m: Mode): ModeView => ({ mode: m, since: 0, by: { kind: "setup" }, exitDelayUntil: null, next: undefined, schedules: [], exitDelay: 0, quietHours: null, timeZone: "UTC" });
const live = (state: CameraStatus["state"]) => ({ state }) as CameraStatus;

describe("the daily heartbeat", () => {
  it("is due a day after the last one, and not before (the last one is kept in the store, so a restart changes nothing)", () => {
    const sent = Date.UTC(2026, 2, 14, 9, 0);
    expect(heartbeatDue(sent, sent + HEARTBEAT_EVERY_MS - 1)).toBe(false);
    expect(heartbeatDue(sent, sent + HEARTBEAT_EVERY_MS)).toBe(true);
    expect(heartbeatDue(0, sent)).toBe(true);
  });

  it("says what a person needs to know: the mode, which cameras send no pictures, whether the detector works", () => {
    const status: SystemStatus = { mode: mode("off"), startedAt: 0, detector: { ok: false, model: "yolox-nano-416", reason: "missing" }, cameras: [{ camera: camera("yard"), live: live("online") }, { camera: camera("door"), live: live("offline") }, { camera: camera("gate"), live: undefined }] };
    expect(heartbeatText(status)).toBe("Daily heartbeat: Vigil is running, disarmed; 1 of 3 cameras online (not door, gate); the detector is not working, so alerts come from motion alone. /heartbeat off stops these.");
    expect(heartbeatText({ ...status, mode: mode("night"), detector: { ok: true, model: "m" }, cameras: [] })).toBe("Daily heartbeat: Vigil is running, armed night; no cameras yet; the detector works. /heartbeat off stops these.");
  });
});
