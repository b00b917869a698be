/**
 * Alerts follow visitors, not a timer: footage made from ../shared/footage at
 * run time (test/support/made-footage.ts) run through the real pipeline, with
 * the real detector, in replay mode (video time, every frame), and one live
 * camera for arming.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSettings, type Camera, type CameraSettings } from "../../src/domain/camera.js";
import type { AlertEvent, PipelineEvent, VisitEvent } from "../../src/domain/events.js";
import { createPipeline } from "../../src/pipeline/index.js";
import { longVisit, parkedCar, repeatedVisits, twoVisitors, type MadeClip } from "../support/made-footage.js";
import { startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { AWAY_NOW, type ModeInForce } from "../../src/domain/modes.js";

const START = 1_700_000_000_000;

function camera(url: string, settings: Partial<CameraSettings>, extra: Partial<Camera> = {}): Camera {
  return { id: "cam", name: "cam", url, armed: true, mutedUntil: null, settings: { ...defaultSettings(), ...settings }, ...extra };
}

interface Replayed {
  alerts: { t: number; event: AlertEvent }[];
  visits: { start: number; end: number; event: VisitEvent }[];
  updates: VisitEvent[];
  detectorRuns: number;
  frames: number;
}

/** Runs a made clip through a replay pipeline at its own size, in a mode (default away); times in seconds into the clip. */
async function replay(clip: MadeClip, settings: Partial<CameraSettings> = {}, inForce: ModeInForce = AWAY_NOW): Promise<Replayed> {
  const pipeline = await createPipeline({ mode: "replay", now: () => START });
  const events: PipelineEvent[] = [];
  pipeline.subscribe((e) => events.push(e));
  let stats;
  try {
    pipeline.reconcile([camera(clip.file, { width: clip.width, height: clip.height, ...settings })], inForce);
    await pipeline.ended("cam");
    stats = pipeline.stats()[0]!;
  } finally {
    await pipeline.stop();
  }
  const t = (ms: number) => (ms - START) / 1000;
  return {
    alerts: events.filter((e): e is AlertEvent => e.type === "alert").map((event) => ({ t: t(event.at), event })),
    visits: events.filter((e): e is VisitEvent => e.type === "visit" && e.phase === "end").map((event) => ({ start: t(event.startedAt), end: t(event.lastSeenAt), event })),
    updates: events.filter((e): e is VisitEvent => e.type === "visit" && e.phase === "update"),
    detectorRuns: stats.detectorRuns,
    frames: stats.frames,
  };
}

describe("visits on made footage (replay)", () => {
  it("alerts every visitor within 1 s of coming in, after empty gaps of 3, 6, 20 and 60 s", async () => {
    const clip = await repeatedVisits([3, 6, 20, 60]);
    const { alerts, visits } = await replay(clip);
    expect(alerts.map((a) => a.event.label)).toEqual(["person", "person", "person", "person", "person"]);
    alerts.forEach((alert, i) => {
      expect(alert.t, `visit ${i + 1}`).toBeGreaterThanOrEqual(clip.entries[i]!);
      expect(alert.t, `visit ${i + 1}`).toBeLessThanOrEqual(clip.entries[i]! + 1);
    });
    // Each visit ends when he has gone, before the next one comes.
    expect(visits).toHaveLength(5);
    visits.forEach((visit, i) => {
      expect(visit.event.reason, `visit ${i + 1}`).toBe("left");
      expect(visit.end - visit.start, `visit ${i + 1}`).toBeLessThan(3);
      if (i + 1 < clip.entries.length) expect(visit.end).toBeLessThan(clip.entries[i + 1]!);
    });
  });

  it("alerts a second visitor who comes in while the first is still in view", async () => {
    const clip = await twoVisitors(0.8);
    const { alerts, visits } = await replay(clip);
    expect(alerts).toHaveLength(2);
    alerts.forEach((alert, i) => {
      expect(alert.t).toBeGreaterThanOrEqual(clip.entries[i]!);
      expect(alert.t).toBeLessThanOrEqual(clip.entries[i]! + 1);
    });
    // One on each side of the picture, each its own visit.
    expect(alerts[0]!.event.box[2]).toBeLessThanOrEqual(160);
    expect(alerts[1]!.event.box[0]).toBeGreaterThanOrEqual(160);
    expect(visits.map((v) => v.event.id).sort()).toEqual(alerts.map((a) => a.event.id).sort());
    // The first was still in view when the second was alerted.
    expect(visits.find((v) => v.event.id === alerts[0]!.event.id)!.end).toBeGreaterThan(alerts[1]!.t);
  });

  it("alerts once for someone in view for 3 minutes, says how long as it goes, and spares the detector while they stand still", async () => {
    const clip = await longVisit(180);
    const { alerts, visits, updates, detectorRuns, frames } = await replay(clip);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.t).toBeLessThanOrEqual(clip.entries[0]! + 1);
    expect(visits).toHaveLength(1);
    expect(visits[0]!.event.id).toBe(alerts[0]!.event.id);
    expect(visits[0]!.end - visits[0]!.start).toBeGreaterThan(180);
    expect(visits[0]!.event).toMatchObject({ reason: "left", counts: { person: 1 } });
    // News while it lasts: he stands still; 30 s, 1 min and 2 min have passed; he moves again (to leave).
    expect(updates.every((u) => u.id === alerts[0]!.event.id)).toBe(true);
    const lasted = (u: VisitEvent) => (u.at - u.startedAt) / 1000;
    expect(updates.map((u) => [Math.round(lasted(u) / 10) * 10, u.stationary])).toEqual([
      [10, true],
      [30, true],
      [60, true],
      [120, true],
      [180, false],
    ]);
    // Standing still, he is looked at every few seconds, not in every frame.
    expect(detectorRuns).toBeLessThan(frames / 2);
  });

  it("does not alert for a car parked in view from the start, for 10 minutes", async () => {
    const { alerts, detectorRuns, frames } = await replay(await parkedCar(600, false), { classes: ["car"] });
    expect(alerts).toEqual([]);
    expect(frames).toBe(3000);
    // Looked at again every 5 s: about 120 times in 10 minutes, not 3000.
    expect(detectorRuns).toBeLessThan(200);
  });

  it("alerts once for a car that drives in and stays for 10 minutes", async () => {
    const clip = await parkedCar(600, true);
    const { alerts, visits } = await replay(clip, { classes: ["car"] });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.event.label).toBe("car");
    expect(alerts[0]!.t).toBeGreaterThanOrEqual(clip.arrival);
    expect(alerts[0]!.t).toBeLessThanOrEqual(clip.arrival + 1);
    // Still there when the clip ends.
    expect(visits).toHaveLength(1);
    expect(visits[0]!.event).toMatchObject({ reason: "stopped", stationary: true });
    expect(visits[0]!.end).toBeGreaterThan(clip.duration - 10);
  });
});

describe("modes and the exit delay (replay)", () => {
  it("an indoor camera (modes away) is silent in home and night, and does not even run the detector; in away it alerts every visitor", async () => {
    const clip = await repeatedVisits([6]);
    for (const mode of ["home", "night"] as const) {
      const { alerts, visits, detectorRuns, frames } = await replay(clip, { modes: ["away"] }, { mode, exitDelayUntil: null });
      expect(alerts, mode).toEqual([]);
      expect(visits, mode).toEqual([]);
      expect(detectorRuns, mode).toBe(0);
      expect(frames, mode).toBeGreaterThan(50);
    }
    const away = await replay(clip, { modes: ["away"] }, { mode: "away", exitDelayUntil: null });
    expect(away.alerts).toHaveLength(2);
  });

  it("does not alert someone who comes into view in the exit delay, even when still walking there as it ends; the next visitor alerts", async () => {
    const clip = await repeatedVisits([6]);
    const [first, second] = clip.entries as [number, number];
    // The delay ends 1 s after he comes in, while he is still crossing the picture (he is in view for about 1.8 s).
    const endsWhileThere = await replay(clip, {}, { mode: "away", exitDelayUntil: START + (first + 1) * 1000 });
    expect(endsWhileThere.alerts.map((a) => Math.round(a.t))).toEqual([Math.round(second)]);
    expect(endsWhileThere.alerts[0]!.t).toBeGreaterThanOrEqual(second);
    // Nothing is said of the visit that was never alerted: no news, no end.
    expect(endsWhileThere.visits.map((v) => v.event.id)).toEqual([endsWhileThere.alerts[0]!.event.id]);
    expect(endsWhileThere.updates.every((u) => u.id === endsWhileThere.alerts[0]!.event.id)).toBe(true);
    // A delay that ended before he came: both visits alert, the first within a second of his coming in.
    const endedBefore = await replay(clip, {}, { mode: "away", exitDelayUntil: START + (first - 1) * 1000 });
    expect(endedBefore.alerts).toHaveLength(2);
    expect(endedBefore.alerts[0]!.t).toBeLessThanOrEqual(first + 1);
    expect(endedBefore.alerts[0]!.event.mode).toBe("away");
  });
});

describe("arming with something already there (live)", () => {
  let rtsp: RtspTestServer;
  let clip: MadeClip & { arrival: number };
  beforeAll(async () => {
    // The car drives in, stays 25 s; then the clip starts over: it is gone, and drives in again.
    clip = await parkedCar(25, true);
    rtsp = await startRtspServer({ mounts: [{ name: "drive", clip: clip.file }] });
  }, 120_000);
  afterAll(async () => {
    await rtsp?.close();
  });

  it("does not alert for a car parked there when the camera is armed, and alerts when one arrives", { timeout: 180_000 }, async () => {
    const pipeline = await createPipeline();
    const events: PipelineEvent[] = [];
    pipeline.subscribe((e) => events.push(e));
    const url = rtsp.url("drive");
    const alerts = () => events.filter((e): e is AlertEvent => e.type === "alert");
    try {
      pipeline.reconcile([camera(url, { classes: ["car"], width: 320, height: 120 }, { armed: false })], AWAY_NOW);
      await expect.poll(() => pipeline.status()[0]?.state, { timeout: 30_000 }).toBe("online");
      // Arm while the car stands there: from 5 s after it arrived to 12 s before the clip starts over.
      const loopStarts = () => rtsp.frameTimes("drive", 0);
      const parkedSince = (start: number) => start + (clip.arrival + 5) * 1000;
      const next = loopStarts().find((s) => parkedSince(s) > Date.now() && s + (clip.duration - 12) * 1000 > Date.now() + 2000) ?? loopStarts().find((s) => parkedSince(s) > Date.now())!;
      await new Promise((r) => setTimeout(r, Math.max(0, parkedSince(next) - Date.now())));
      const armedAt = Date.now();
      pipeline.reconcile([camera(url, { classes: ["car"], width: 320, height: 120 })], AWAY_NOW);
      const loopEnd = next + clip.duration * 1000;
      await new Promise((r) => setTimeout(r, loopEnd - 1000 - Date.now()));
      expect(alerts().filter((a) => a.at >= armedAt)).toEqual([]);
      // The clip starts over: the road is empty, and the car drives in again.
      const arrives = loopEnd + clip.arrival * 1000;
      await expect.poll(() => alerts().length, { timeout: 60_000 }).toBe(1);
      expect(alerts()[0]!.at).toBeGreaterThanOrEqual(arrives);
      expect(alerts()[0]!.at).toBeLessThanOrEqual(arrives + 3000);
    } finally {
      await pipeline.stop();
    }
  });
});
