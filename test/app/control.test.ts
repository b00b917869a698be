/**
 * The mode through the control interface, as the bot and (later) MQTT use it:
 * schedules moved on by an injected clock, presence, the exit delay, who made
 * each change, and what is kept in the encrypted store. Real store, pipeline
 * and recorder (no cameras: nothing here needs a picture).
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControl, type OwnedControl } from "../../src/app/control.js";
import { instantOf } from "../../src/domain/local-time.js";
import type { ModeChange } from "../../src/domain/modes.js";
import { parseWindow } from "../../src/domain/schedule.js";
import { InputError } from "../../src/errors.js";
import { createPipeline, type Pipeline } from "../../src/pipeline/index.js";
import { createRecorder } from "../../src/pipeline/record/index.js";
import type { RecorderHandle } from "../../src/domain/recorder.js";
import { EventHistory } from "../../src/store/event-history.js";
import { createStore, openStore, type Store } from "../../src/store/index.js";
import { loopbackDiscovery } from "../support/onvif-device.js";
import { tempDir } from "../support/tmp.js";

const PASS = "control test passphrase";
const LONDON = "Europe/London";
/** 2026-02-03 (a Tuesday) at hh:mm in London (GMT in February). */
const feb3 = (hhmm: string, day = 3) => instantOf({ year: 2026, month: 2, day }, Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3)), LONDON);

let pipeline: Pipeline;
const recorders: RecorderHandle[] = [];
beforeAll(async () => {
  pipeline = await createPipeline();
}, 60_000);
afterAll(async () => {
  await pipeline?.stop();
  await Promise.all(recorders.map((r) => r.stop()));
});

interface World {
  dir: string;
  store: Store;
  control: OwnedControl;
  changes: ModeChange[];
  clock: { t: number };
}

async function world(start: number): Promise<World> {
  const dir = path.join(await tempDir(), "data");
  const store = await createStore({ dataDir: dir, unlock: { passphrase: PASS }, kdfProfile: "interactive", token: "1:x" });
  const recorder = createRecorder({ history: await EventHistory.open(store.vault), retention: { dataDir: dir, limits: () => store.retention() } });
  recorders.push(recorder);
  const clock = { t: start };
  const control = createControl({ store, pipeline, recorder, discovery: await loopbackDiscovery(), now: () => clock.t, timeZone: LONDON });
  const changes: ModeChange[] = [];
  control.onModeChange((c) => changes.push(c));
  return { dir, store, control, changes, clock };
}

describe("the mode through the control", () => {
  it("follows a schedule by the clock, says who changed what, keeps a person's choice until the next boundary, and is kept in the store", async () => {
    const w = await world(feb3("22:00"));
    const alice = { kind: "chat", userId: 7, name: "Alice" } as const;
    await w.control.setMode("home", alice);
    const night = await w.control.addSchedule("night", parseWindow("23:00-07:00"));
    expect(w.control.mode()).toMatchObject({ mode: "home", by: alice, next: { to: "night", at: feb3("23:00") } });

    w.clock.t = feb3("22:59");
    expect(await w.control.tick()).toEqual([]);
    w.clock.t = feb3("23:00") + 500;
    // In force as soon as the clock passes the boundary, before any tick writes it.
    expect(w.control.mode().mode).toBe("night");
    expect(w.control.isArmed()).toBe(true);
    expect(await w.control.tick()).toEqual([{ from: "home", to: "night", at: feb3("23:00"), by: { kind: "schedule", scheduleId: night.id, edge: "start" } }]);
    expect(await w.control.tick()).toEqual([]);

    // Off by hand in the night: the end of the window at 07:00 leaves it off.
    w.clock.t = feb3("02:00", 4);
    await w.control.setMode("off", alice);
    w.clock.t = feb3("07:00", 4) + 1;
    expect(await w.control.tick()).toEqual([]);
    expect(w.control.mode()).toMatchObject({ mode: "off", by: alice, next: { to: "night", at: feb3("23:00", 4) } });

    // Every change, in order, with who made it: the chat's, then the schedule's, then the chat's.
    expect(w.changes.map((c) => [c.from, c.to, c.by.kind])).toEqual([
      ["off", "home", "chat"],
      ["home", "night", "schedule"],
      ["night", "off", "chat"],
    ]);
    // Kept in the encrypted store: a restart finds the mode, who set it, and the schedule.
    await w.store.flush();
    const again = await openStore(w.dir, { passphrase: PASS });
    expect(again.modeState()).toEqual({ mode: "off", at: feb3("02:00", 4), by: alice });
    expect(again.schedules().map((s) => s.id)).toEqual([night.id]);
    w.control.close();
  });

  it("applies what the schedules did while Vigil was stopped, once, when it starts again", async () => {
    const w = await world(feb3("12:00"));
    await w.control.setMode("home", { kind: "chat" });
    await w.control.addSchedule("away", parseWindow("mon-fri 08:30-17:00"));
    w.control.close();
    // Two days later, mid-morning: the window that started at 08:30 today is in force.
    const later = createControl({ store: w.store, pipeline, recorder: recorders.at(-1)!, discovery: await loopbackDiscovery(), now: () => feb3("10:00", 5), timeZone: LONDON });
    const heard: ModeChange[] = [];
    later.onModeChange((c) => heard.push(c));
    const changes = await later.tick();
    // Between the two days the mode went away and back home twice; what is said is every change since, in order.
    expect(heard.map((c) => [c.from, c.to, new Date(c.at).toISOString()])).toEqual([
      ["home", "away", "2026-02-04T08:30:00.000Z"],
      ["away", "home", "2026-02-04T17:00:00.000Z"],
      ["home", "away", "2026-02-05T08:30:00.000Z"],
    ]);
    expect(changes).toEqual(heard);
    expect(later.mode().mode).toBe("away");
    expect(await later.tick()).toEqual([]);
    later.close();
  });

  it("follows presence: the last phone leaving arms away, someone coming home goes back to home; neither starts the exit delay", async () => {
    const w = await world(feb3("08:00"));
    await w.control.setExitDelay(60);
    await w.control.setMode("home", { kind: "chat", userId: 1, name: "Alice" });
    expect(w.control.mode().exitDelayUntil).toBe(feb3("08:00") + 60_000);

    w.clock.t = feb3("09:00");
    expect(await w.control.setPresence("not_home")).toEqual({ from: "home", to: "away", at: feb3("09:00"), by: { kind: "presence", presence: "not_home" } });
    expect(w.control.mode()).toMatchObject({ mode: "away", exitDelayUntil: null });
    expect(await w.control.setPresence("not_home")).toBeUndefined();
    w.clock.t = feb3("18:00");
    expect(await w.control.setPresence("home")).toMatchObject({ from: "away", to: "home", by: { kind: "presence", presence: "home" } });
    // Someone home does not disarm a house that is off, nor change night.
    await w.control.setMode("off", { kind: "chat" });
    expect(await w.control.setPresence("home")).toBeUndefined();
    await w.control.setMode("night", { kind: "chat" });
    expect(await w.control.setPresence("home")).toBeUndefined();
    // Everyone gone arms away even from off.
    await w.control.setMode("off", { kind: "chat" });
    expect((await w.control.setPresence("not_home"))?.to).toBe("away");
    expect(w.changes.filter((c) => c.by.kind === "presence").map((c) => c.to)).toEqual(["away", "home", "away"]);
    w.control.close();
  });

  it("starts the exit delay when a person arms, and ends it after the delay; refuses a delay out of bounds", async () => {
    const w = await world(feb3("08:00"));
    await w.control.setExitDelay(45);
    const state = await w.control.arm(undefined, { kind: "chat", userId: 1 });
    expect(state.mode).toMatchObject({ mode: "away", exitDelayUntil: feb3("08:00") + 45_000, exitDelay: 45 });
    w.clock.t = feb3("08:00") + 45_000;
    expect(w.control.mode().exitDelayUntil).toBeNull();
    for (const bad of [-1, 601, 1.5]) await expect(w.control.setExitDelay(bad), String(bad)).rejects.toThrow(InputError);
    expect(w.store.exitDelay()).toBe(45);
    w.control.close();
  });

  it("refuses a schedule that overlaps another, in one sentence, and says whether an alert falls in the quiet hours", async () => {
    const w = await world(feb3("12:00"));
    await w.control.addSchedule("night", parseWindow("23:00-07:00"));
    await expect(w.control.addSchedule("away", parseWindow("06:00-09:00"))).rejects.toThrow("That overlaps night 23:00-07:00 every day; schedules must not overlap (one may end when another starts).");
    await w.control.addSchedule("away", parseWindow("07:00-09:00"));
    expect(w.control.mode().schedules.map((s) => s.mode)).toEqual(["night", "away"]);
    await w.control.setQuietHours(parseWindow("22:00-07:00"));
    expect(w.control.isQuiet(feb3("23:30"))).toBe(true);
    expect(w.control.isQuiet(feb3("12:00"))).toBe(false);
    w.control.close();
  });
});
