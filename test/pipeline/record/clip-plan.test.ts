import { describe, expect, it } from "vitest";
import { ClipPlanner, clipEnd, planClip } from "../../../src/pipeline/record/clip-plan.js";

const timing = { preRoll: 5, postRoll: 5, maxClip: 30 };
const s = (seconds: number) => 1_000_000 + seconds * 1000;

describe("clip plan", () => {
  it("runs from pre-roll before the first motion to post-roll after the last motion", () => {
    const planner = new ClipPlanner();
    planner.motion("cam", "start", s(10));
    const { plan } = planner.alert({ id: "a1", cameraId: "cam", at: s(12), motionStartedAt: s(10) }, timing);
    expect(plan.start).toBe(s(5));
    expect(planner.due(s(34))).toEqual([]); // motion still going: not over before the cap (-5 + 30 s)
    planner.motion("cam", "end", s(14));
    expect(planner.due(s(18.9))).toEqual([]);
    const [due] = planner.due(s(19));
    expect(due?.end).toBe(s(19));
  });

  it("is capped at maxClip while motion goes on", () => {
    const planner = new ClipPlanner();
    planner.motion("cam", "start", s(0));
    const { plan } = planner.alert({ id: "a1", cameraId: "cam", at: s(1), motionStartedAt: s(0) }, timing);
    expect(clipEnd(plan, true)).toBe(s(25)); // -5 + 30
    expect(planner.due(s(25))[0]?.end).toBe(s(25));
  });

  it("counts the pre-roll back from the alert when motion began too long before it to fit", () => {
    // Wallflower: the tree sways from the start, the person walks in 24 s later.
    const plan = planClip({ id: "a1", cameraId: "cam", at: s(24.4), motionStartedAt: s(0) }, timing);
    expect(plan.start).toBe(s(19.4));
    expect(plan.anchor).toBe(s(24.4));
    // Up to the limit it still starts before the first motion.
    const fits = planClip({ id: "a2", cameraId: "cam", at: s(20), motionStartedAt: s(0) }, timing);
    expect(fits.start).toBe(s(-5));
  });

  it("keeps the alert in the clip even when pre- and post-roll together exceed maxClip", () => {
    const plan = planClip({ id: "a1", cameraId: "cam", at: s(40), motionStartedAt: s(0) }, { preRoll: 30, postRoll: 10, maxClip: 20 });
    expect(plan.start).toBeLessThanOrEqual(s(40));
    expect(plan.hardEnd).toBeGreaterThanOrEqual(s(40));
    expect(plan.hardEnd - plan.start).toBe(20_000);
  });

  it("joins a second alert to the open clip and extends it; a later one opens a new clip", () => {
    const planner = new ClipPlanner();
    planner.alert({ id: "a1", cameraId: "cam", at: s(10), motionStartedAt: s(9) }, timing);
    const second = planner.alert({ id: "a2", cameraId: "cam", at: s(13), motionStartedAt: s(9) }, timing);
    expect(second.joined).toBe(true);
    expect(second.plan.alertIds).toEqual(["a1", "a2"]);
    expect(planner.due(s(17.9))).toEqual([]);
    expect(planner.due(s(18))[0]?.plan.alertIds).toEqual(["a1", "a2"]);
    const third = planner.alert({ id: "a3", cameraId: "cam", at: s(30), motionStartedAt: s(29) }, timing);
    expect(third.joined).toBe(false);
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
    planner.motion("a", "start", s(0));
    planner.alert({ id: "x", cameraId: "b", at: s(1), motionStartedAt: s(1) }, timing);
    expect(planner.due(s(6))[0]?.plan.alertIds).toEqual(["x"]);
  });
});
