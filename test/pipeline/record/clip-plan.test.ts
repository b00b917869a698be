import { describe, expect, it } from "vitest";
import { ClipPlanner, clipEnd, planClip } from "../../../src/pipeline/record/clip-plan.js";

const timing = { preRoll: 5, postRoll: 5, maxClip: 30 };
const s = (seconds: number) => 1_000_000 + seconds * 1000;

describe("clip plan", () => {
  it("runs from pre-roll before the visitor was first seen to post-roll after the visit ended", () => {
    const planner = new ClipPlanner();
    const { plan } = planner.alert({ id: "a1", cameraId: "cam", at: s(12), startedAt: s(10) }, timing);
    expect(plan.start).toBe(s(5));
    expect(planner.due(s(34))).toEqual([]); // the visit goes on: not over before the cap (5 + 30 s)
    planner.visitEnded("a1", s(14));
    expect(planner.due(s(18.9))).toEqual([]);
    const [due] = planner.due(s(19));
    expect(due?.end).toBe(s(19));
  });

  it("is capped at maxClip while the visit goes on", () => {
    const planner = new ClipPlanner();
    const { plan } = planner.alert({ id: "a1", cameraId: "cam", at: s(1), startedAt: s(0) }, timing);
    expect(clipEnd(plan)).toBe(s(25)); // -5 + 30
    expect(planner.due(s(25))[0]?.end).toBe(s(25));
    // A visit that ends long after the cap does not stretch the clip.
    planner.visitEnded("a1", s(180));
    expect(clipEnd(plan)).toBe(s(25));
  });

  it("counts the pre-roll back from the alert when the visit began too long before it to fit", () => {
    // A car parked since the camera started, alerting when it drives off a minute later.
    const plan = planClip({ id: "a1", cameraId: "cam", at: s(24.4), startedAt: s(0) }, timing);
    expect(plan.start).toBe(s(19.4));
    expect(plan.anchor).toBe(s(24.4));
    // Up to the limit it still starts before the visitor was first seen.
    const fits = planClip({ id: "a2", cameraId: "cam", at: s(20), startedAt: s(0) }, timing);
    expect(fits.start).toBe(s(-5));
  });

  it("keeps the alert in the clip even when pre- and post-roll together exceed maxClip", () => {
    const plan = planClip({ id: "a1", cameraId: "cam", at: s(40), startedAt: s(0) }, { preRoll: 30, postRoll: 10, maxClip: 20 });
    expect(plan.start).toBeLessThanOrEqual(s(40));
    expect(plan.hardEnd).toBeGreaterThanOrEqual(s(40));
    expect(plan.hardEnd - plan.start).toBe(20_000);
  });

  it("joins a visit that begins during an open clip and runs until both ended; a later one opens a new clip", () => {
    const planner = new ClipPlanner();
    planner.alert({ id: "a1", cameraId: "cam", at: s(10), startedAt: s(9) }, timing);
    const second = planner.alert({ id: "a2", cameraId: "cam", at: s(13), startedAt: s(12) }, timing);
    expect(second.joined).toBe(true);
    expect(second.plan.alertIds).toEqual(["a1", "a2"]);
    planner.visitEnded("a1", s(11));
    expect(planner.due(s(20))).toEqual([]); // a2 goes on
    planner.visitEnded("a2", s(13));
    expect(planner.due(s(17.9))).toEqual([]);
    expect(planner.due(s(18))[0]?.plan.alertIds).toEqual(["a1", "a2"]);
    const third = planner.alert({ id: "a3", cameraId: "cam", at: s(30), startedAt: s(29) }, timing);
    expect(third.joined).toBe(false);
    planner.visitEnded("a3", s(30));
    // The first clip is still waiting to be made; both are due, each with its own end.
    expect(planner.due(s(40)).map((d) => [d.plan.alertIds, d.end])).toEqual([
      [["a1", "a2"], s(18)],
      [["a3"], s(35)],
    ]);
    planner.finish(second.plan);
    expect(planner.keepFrom("cam")).toBe(s(24));
  });

  it("keeps cameras apart", () => {
    const planner = new ClipPlanner();
    planner.alert({ id: "x", cameraId: "b", at: s(1), startedAt: s(1) }, timing);
    planner.alert({ id: "y", cameraId: "a", at: s(1), startedAt: s(1) }, timing);
    planner.visitEnded("x", s(1));
    expect(planner.due(s(6)).map((d) => d.plan.alertIds)).toEqual([["x"]]);
  });
});
