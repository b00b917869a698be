import { describe, expect, it } from "vitest";
import type { DetectedObject } from "../../../src/domain/events.js";
import type { Region } from "../../../src/pipeline/frame.js";
import { endVisits, INITIAL_VISIT_STATE, updateVisits, type VisitDecision, type VisitInput, type VisitState } from "../../../src/pipeline/events/visits.js";
import { DEFAULT_TRACKER_OPTIONS, INITIAL_TRACKER_STATE, updateTracks, type TrackerState } from "../../../src/pipeline/track/tracker.js";

const FRAME = { width: 640, height: 360 };
const WHOLE: Region[] = [{ x: 0, y: 0, width: 640, height: 360 }];
const person = (x: number, score = 0.9, y = 100): DetectedObject => ({ label: "person", score, box: [x, y, x + 40, y + 120] });
const car = (x: number): DetectedObject => ({ label: "car", score: 0.85, box: [x, 200, x + 120, 260] });

interface Step {
  at: number;
  decision: VisitDecision;
}

/** Tracker and visits over frames 200 ms apart (5 fps); `null`: the detector did not run. Visit ids are v1, v2, … */
function run(frames: (DetectedObject[] | null)[], options: { survey?: (i: number) => boolean; rules?: Partial<VisitInput["rules"]>; start?: number; tracks?: TrackerState; visits?: VisitState } = {}): Step[] {
  let tracks = options.tracks ?? INITIAL_TRACKER_STATE;
  let visits = options.visits ?? INITIAL_VISIT_STATE;
  let n = visits.visits.length;
  return frames.map((objects, i) => {
    const at = (options.start ?? 0) + i * 200;
    const tracked = updateTracks(tracks, { at, frame: FRAME, objects: objects ?? [], looked: objects ? WHOLE : [], survey: options.survey?.(i) ?? false, minScore: 0.5 }, DEFAULT_TRACKER_OPTIONS);
    tracks = tracked.state;
    const decision = updateVisits(visits, { at, frame: FRAME, tracks: tracks.tracks, gone: tracked.gone, rules: { minSize: { value: 0, unit: "px" }, zones: [], ...options.rules }, newId: () => `v${++n}` });
    visits = decision.state;
    return { at, decision };
  });
}

const starts = (steps: Step[]) => steps.flatMap((s) => s.decision.started.map((x) => ({ at: s.at, id: x.visit.id })));
const ends = (steps: Step[]) => steps.flatMap((s) => s.decision.ended.map((v) => ({ at: s.at, id: v.id, lastSeenAt: v.lastSeenAt, peak: v.peak })));
const walk = (from: number, step: number, n: number, score = 0.9) => Array.from({ length: n }, (_, i) => [person(from + i * step, score)]);
const nothing = (n: number) => Array.from({ length: n }, (): DetectedObject[] => []);

describe("visits", () => {
  it("alerts once per visit, the moment it is confirmed, however soon the next one comes", () => {
    // Someone walks out through the left edge; 3 s later someone else walks in from the right.
    const steps = run([...walk(200, -50, 5), ...nothing(15), ...walk(600, -20, 6)]);
    expect(starts(steps)).toEqual([
      { at: 200, id: "v1" },
      { at: 20 * 200 + 200, id: "v2" },
    ]);
    // The first visit ended when its visitor had been gone through the edge for 1 s.
    expect(ends(steps)[0]).toMatchObject({ id: "v1", lastSeenAt: 800 });
  });

  it("alerts only once for someone who stays, and ends the visit when they have gone", () => {
    const staying = Array.from({ length: 900 }, (_, i) => [person(300 + (i % 3))]); // 3 minutes
    const steps = run([...staying, ...walk(260, -60, 5), ...nothing(30)]);
    expect(starts(steps)).toHaveLength(1);
    expect(ends(steps)).toHaveLength(1);
    expect(ends(steps)[0]!.lastSeenAt).toBe((900 + 4) * 200);
  });

  it("is a new visit with its own alert for a second person away from the first; one visit for two who come together", () => {
    const apart = run(Array.from({ length: 8 }, (_, i) => (i < 3 ? [person(100 + i * 5)] : [person(100 + i * 5), person(500 - i * 5)])));
    expect(starts(apart).map((s) => s.id)).toEqual(["v1", "v2"]);
    const together = run(Array.from({ length: 8 }, (_, i) => [person(100 + i * 5), person(150 + i * 5)]));
    expect(starts(together).map((s) => s.id)).toEqual(["v1"]);
    // Both score 0.9: confirmed together on the second frame, one alert showing both.
    expect(together[1]!.decision.started[0]!.objects).toHaveLength(2);
    expect(together.at(-1)!.decision.state.visits[0]!.peak).toEqual({ person: 2 });
  });

  it("counts more objects as news of the same visit, not a new alert", () => {
    const steps = run(Array.from({ length: 10 }, (_, i) => (i < 4 ? [person(100 + i * 5)] : [person(100 + i * 5), person(170 + i * 5)])));
    expect(starts(steps)).toHaveLength(1);
    const news = steps.filter((s) => s.decision.updated.length > 0);
    expect(news).toHaveLength(1);
    expect(news[0]!.decision.updated[0]!.peak).toEqual({ person: 2 });
  });

  it("says how long a visit has lasted at 30 s, 1, 2 and 5 min, and when it comes to a standstill", () => {
    const steps = run(Array.from({ length: 5 * 60 * 5 + 1 }, (_, i) => [person(300 + (i < 50 ? i * 4 : 196))]));
    const news = steps.filter((s) => s.decision.updated.length > 0).map((s) => [s.at, s.decision.updated[0]!.stationary]);
    expect(news).toEqual([
      [49 * 200 + 10_000, true],
      [30_000, true],
      [60_000, true],
      [120_000, true],
      [300_000, true],
    ]);
  });

  it("does not alert for what was already standing there when the camera started or was armed, until it moves", () => {
    const steps = run(Array.from({ length: 40 }, () => [car(300)]), { survey: (i) => i < 5 });
    expect(starts(steps)).toEqual([]);
    // It drives away: a visit like any other.
    const moved = run([[car(300)], [car(300)], [car(300)], [car(380)], [car(460)], [car(540)]], { survey: (i) => i < 3 });
    expect(starts(moved)).toEqual([{ at: 800, id: "v1" }]);
  });

  it("lets a parked car's visit go on without joining anyone to it: who gets out of it is an arrival", () => {
    const frames = Array.from({ length: 60 }, () => [car(300)]);
    const parked = run(frames);
    expect(starts(parked)).toHaveLength(1);
    expect(parked.at(-1)!.decision.state.visits[0]!.stationary).toBe(true);
    // Someone appears beside it (classes car,person): their own alert, the car's visit goes on.
    const out = run([...frames, ...Array.from({ length: 5 }, (_, i) => [car(300), person(420 + i * 3)])]);
    expect(starts(out).map((s) => s.id)).toEqual(["v1", "v2"]);
    expect(out.at(-1)!.decision.state.visits.map((v) => v.id)).toEqual(["v1", "v2"]);
  });

  it("leaves out objects too small or standing outside the zones, and alerts when one walks into a zone", () => {
    const small = run(walk(100, 5, 5), { rules: { minSize: { value: 150, unit: "px" } } });
    expect(starts(small)).toEqual([]);
    const rightHalf = [[[0.5, 0], [1, 0], [1, 1], [0.5, 1]] as const];
    const steps = run(walk(200, 30, 10), { rules: { zones: rightHalf } });
    // The box's bottom-centre crosses x = 320 when its left edge passes 300: the fifth frame.
    expect(starts(steps)).toEqual([{ at: 4 * 200, id: "v1" }]);
  });

  it("ends every visit at once when the camera is disarmed", () => {
    const steps = run(walk(100, 5, 5));
    const { state, ended } = endVisits(steps.at(-1)!.decision.state);
    expect(ended.map((v) => v.id)).toEqual(["v1"]);
    expect(state.visits).toEqual([]);
  });
});
