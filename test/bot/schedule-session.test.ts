/**
 * A schedule through the real bot and pipeline, its clock moved by the test:
 * an indoor camera (modes: away) and a porch camera watch the same footage, a
 * man walking through every ten seconds (made from wallflower_wavingtrees at
 * run time, played in real time by the real pipeline with the real detector).
 * Home: the porch alerts, the indoor camera says nothing and does not even run
 * the detector. The schedule's away window begins: the chat is told silently,
 * and the indoor camera alerts the next visitor; nothing it saw while home is
 * ever sent. The window ends: home again, and the indoor camera is silent.
 */
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instantOf } from "../../src/domain/local-time.js";
import { repeatedVisits, type MadeClip } from "../support/made-footage.js";
import { until } from "../support/wait.js";
import { claim, startHarness, type Harness } from "./harness.js";

const NEW_YORK = "America/New_York";
/** Monday 2 February 2026 at hh:mm in New York. */
const monday = (hhmm: string) => instantOf({ year: 2026, month: 2, day: 2 }, Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3)), NEW_YORK);

let h: Harness;
let clip: MadeClip;
let alice: User;
let group: Chat;
/** The control's clock: real time, from an offset the test moves on. */
let offset = 0;
const clockAt = (t: number) => (offset = t - Date.now());
const alerts: { camera: string; at: number; mode: string }[] = [];

beforeAll(async () => {
  clip = await repeatedVisits(Array<number>(10).fill(8));
  clockAt(monday("08:25"));
  h = await startHarness({ timeZone: NEW_YORK, controlNow: () => Date.now() + offset });
  h.pipeline.subscribe((e) => {
    if (e.type === "alert") alerts.push({ camera: e.cameraName, at: e.at, mode: (e).mode });
  });
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice });
  await claim(h, alice, group);
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

const say = (text: string) => h.ask(alice, group, text);
const of = (camera: string, after = 0) => alerts.filter((a) => a.camera === camera && a.at >= after);
const photos = (after: number) => h.tg.outputs(group, after).filter((r) => r.method === "sendPhoto").map((r) => h.tg.message(group.id, (r.result as Message).message_id)!.caption ?? "");

describe("a schedule, through the bot and the pipeline", () => {
  it("keeps an indoor camera silent in home and alerting in away, switched by the schedule's clock", { timeout: 420_000 }, async () => {
    expect((await say("/mode home")).text).toBe("Armed home. There are no cameras yet: add one with /addcamera.");
    const settings = { width: clip.width, height: clip.height };
    await h.store.addCamera({ name: "living", url: clip.file, settings });
    await h.store.addCamera({ name: "porch", url: clip.file, settings });
    expect((await say("/set living modes away")).text).toBe("modes is now away on living.");
    expect((await say("/schedule away mon-fri 08:30-17:00")).text).toMatch(/^Schedule added: away 08:30-17:00 mon-fri \(America\/New_York\)\. Next: armed away at (Mon )?08:30, by the schedule away 08:30-17:00 mon-fri\.$/);
    const start = h.tg.mark();

    // Home: the porch alerts each visitor; the indoor camera watches the same footage and says nothing.
    await until(() => of("porch").length >= 2, 120_000, "the porch alerted two visitors");
    const living = () => h.pipeline.stats().find((s) => s.cameraId === h.store.camera("living")!.id)!;
    expect(of("living")).toEqual([]);
    expect(living().frames).toBeGreaterThan(50);
    expect(living().detectorRuns).toBe(0);
    expect(of("porch").every((a) => a.mode === "home")).toBe(true);

    // 08:30 on the schedule's clock: away. Said in the chat, without a sound.
    clockAt(monday("08:30") + 1000);
    let mark = h.tg.mark();
    await h.control.tick();
    const awayAt = Date.now();
    const away = await h.tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && String(r.params.text).startsWith("Armed away"), { after: mark, timeoutMs: 90_000 });
    expect(away.params.text).toBe("Armed away: the schedule away 08:30-17:00 mon-fri began. living, porch will alert here.");
    expect(away.params.disable_notification).toBe(true);

    // The indoor camera alerts the next visitor, in away; what it saw while home is never sent.
    await until(() => of("living").length >= 1, 120_000, "the indoor camera alerted a visitor");
    expect(of("living").every((a) => a.at >= awayAt && a.mode === "away")).toBe(true);
    await until(() => photos(mark).some((c) => c.includes(" on living ")), 120_000, "the indoor camera's alert reached the chat");
    expect(photos(start).filter((c) => c.includes(" on living "))).toEqual(photos(mark).filter((c) => c.includes(" on living ")));
    expect(photos(mark).find((c) => c.includes(" on living "))).toMatch(/^Person on living · \d+% · (\w{3} )?\d\d:\d\d:\d\d · away$/);

    // 17:00: the window ends, home again; the porch still alerts, the indoor camera is silent.
    clockAt(monday("17:00") + 1000);
    mark = h.tg.mark();
    await h.control.tick();
    const homeAt = Date.now();
    const home = await h.tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && String(r.params.text).startsWith("Armed home"), { after: mark, timeoutMs: 90_000 });
    expect(home.params.text).toBe("Armed home: the schedule away 08:30-17:00 mon-fri ended. porch will alert here. Silent in home: living (alerts in away).");
    expect(home.params.disable_notification).toBe(true);
    await until(() => of("porch", homeAt).length >= 2, 120_000, "the porch alerted two more visitors");
    expect(of("living", homeAt)).toEqual([]);
    expect(of("porch", homeAt).every((a) => a.mode === "home")).toBe(true);
    expect(h.store.modeState()).toMatchObject({ mode: "home", by: { kind: "schedule", edge: "end" } });
  });
});
