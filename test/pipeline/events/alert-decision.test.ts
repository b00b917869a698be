import { describe, expect, it } from "vitest";
import { defaultSettings, type CameraSettings } from "../../../src/domain/camera.js";
import type { DetectedObject } from "../../../src/domain/events.js";
import { canAlert, decideAlerts, INITIAL_ALERT_STATE, type AlertInput, type AlertState } from "../../../src/pipeline/events/alert-decision.js";
import { alertCandidates, inZones, largeEnough, matchesClasses } from "../../../src/pipeline/events/alert-rules.js";
import { confirm, DEFAULT_CONFIRMATION, INITIAL_CONFIRMATION, sameObject, type ConfirmationRule } from "../../../src/pipeline/events/confirmation.js";

const FRAME = { width: 640, height: 360 };
/** Below DEFAULT_CONFIRMATION.sureScore by default: confirmed by 3 of 4, as most detections are. */
const person = (x: number, score = 0.6, y = 100): DetectedObject => ({ label: "person", score, box: [x, y, x + 40, y + 120] });

const TWO_OF_THREE: ConfirmationRule = { hits: 2, window: 3, maxAgeMs: 2000 };

function decide(frames: DetectedObject[][], settings: Partial<CameraSettings> = {}, startAt = 0, stepMs = 200, extra: Partial<AlertInput> = {}, rule: ConfirmationRule = DEFAULT_CONFIRMATION) {
  let state: AlertState = INITIAL_ALERT_STATE;
  return frames.map((objects, i) => {
    const at = startAt + i * stepMs;
    const decision = decideAlerts(state, { objects, at, frame: FRAME, settings: { ...defaultSettings(), ...settings }, armed: true, mutedUntil: null, ...extra }, rule);
    state = decision.state;
    return { at, decision };
  });
}

function run(...args: Parameters<typeof decide>) {
  return decide(...args).flatMap(({ at, decision }) => decision.alerts.map((a) => ({ at, label: a.label })));
}

describe("alert rules", () => {
  it("treats car, truck and bus as one family, so a van labelled truck alerts for `classes car`", () => {
    expect(matchesClasses("truck", ["car"])).toBe(true);
    expect(matchesClasses("bus", ["person", "car"])).toBe(true);
    expect(matchesClasses("car", ["person"])).toBe(false);
    expect(matchesClasses("dog", ["dog"])).toBe(true);
  });

  it("measures minimum size in pixels at 640x360 whatever the frame size, or in % of the frame", () => {
    // A box 50 px tall in a 320x180 frame is 100 px tall at the 640x360 reference.
    expect(largeEnough([0, 0, 10, 50], { value: 100, unit: "px" }, { width: 320, height: 180 })).toBe(true);
    expect(largeEnough([0, 0, 10, 49], { value: 100, unit: "px" }, { width: 320, height: 180 })).toBe(false);
    expect(largeEnough([0, 0, 64, 10], { value: 10, unit: "%" }, FRAME)).toBe(true);
    expect(largeEnough([0, 0, 60, 35], { value: 10, unit: "%" }, FRAME)).toBe(false);
    expect(largeEnough([0, 0, 1, 1], { value: 0, unit: "px" }, FRAME)).toBe(true);
  });

  it("counts an object in a zone by the bottom-centre of its box (where it stands)", () => {
    const lowerHalf = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]] as const;
    // Head in the upper half, feet in the lower half: inside.
    expect(inZones([100, 50, 140, 200], [lowerHalf], FRAME)).toBe(true);
    // Entirely in the upper half: outside, even though the box is big.
    expect(inZones([0, 0, 640, 170], [lowerHalf], FRAME)).toBe(false);
    expect(inZones([0, 0, 10, 10], [], FRAME)).toBe(true);
  });

  it("filters by class and score but lets motion-only boxes through both", () => {
    const rules = { ...defaultSettings(), classes: ["person"], score: 0.6 };
    const out = alertCandidates([person(0, 0.9), person(100, 0.5), { label: "dog", score: 0.9, box: [0, 0, 50, 50] }, { label: "motion", score: 1, box: [0, 0, 50, 50] }], rules, FRAME);
    expect(out.map((o) => `${o.label} ${o.score}`)).toEqual(["person 0.9", "motion 1"]);
  });
});

describe("confirmation", () => {
  it("by default alerts on the third sighting in a row, 0.4 s after the first at 5 fps", () => {
    expect(DEFAULT_CONFIRMATION).toMatchObject({ hits: 3, window: 4 });
    expect(run([[person(100)], [person(104)], [person(108)], [person(112)]])).toEqual([{ at: 400, label: "person" }]);
    // Two sightings, like the kitten the detector took for a person for two frames, are not enough.
    expect(run([[person(100)], [person(104)], [], [], []])).toEqual([]);
    // One missed frame in four is tolerated.
    expect(run([[person(100)], [], [person(104)], [person(108)]])).toEqual([{ at: 600, label: "person" }]);
  });

  it("confirms on the second frame in a row when both score at least sureScore (0.7)", () => {
    expect(DEFAULT_CONFIRMATION.sureScore).toBe(0.7);
    // The wallflower visitor: 0.73, then 0.85.
    expect(run([[], [person(100, 0.73)], [person(110, 0.85)]])).toEqual([{ at: 400, label: "person" }]);
    // The kitten taken for a person, 0.60 then 0.57: not sure enough, and two sightings are not three.
    expect(run([[person(100, 0.6)], [person(104, 0.57)], [], []])).toEqual([]);
    // One sure frame and one unsure one: the third sighting decides, as usual.
    expect(run([[person(100, 0.9)], [person(104, 0.65)], [person(108, 0.9)]])).toEqual([{ at: 400, label: "person" }]);
    // Not in a row: a frame without it in between.
    expect(run([[person(100, 0.9)], [], [person(104, 0.9)]])).toEqual([]);
    // Not the same place.
    expect(run([[person(100, 0.9)], [person(500, 0.9)]])).toEqual([]);
  });

  it("says when something may alert but is not confirmed yet (the worker then analyses every frame)", () => {
    const pending = decide([[], [person(100)], [person(104)], [person(108)], [person(112)], [{ label: "car", score: 0.9, box: [0, 0, 80, 40] }]]).map(({ decision }) => decision.pending);
    // Nothing; seen once; twice; confirmed (3 of 4); still confirmed; a car, which this camera does not alert on.
    expect(pending).toEqual([false, true, true, false, false, false]);
  });

  it("needs the other sightings near the same place", () => {
    let state = INITIAL_CONFIRMATION;
    const first = confirm(state, { at: 0, objects: [person(100)] }, TWO_OF_THREE);
    expect(first.confirmed).toEqual([]);
    state = first.state;
    expect(confirm(state, { at: 200, objects: [person(110)] }, TWO_OF_THREE).confirmed).toHaveLength(1);
    // The same label in another corner of the frame does not confirm it.
    expect(confirm(state, { at: 200, objects: [person(500)] }, TWO_OF_THREE).confirmed).toEqual([]);
  });

  it("forgets sightings outside the window or older than its age limit", () => {
    expect(run([[person(100)], [], [person(104)]], {}, 0, 200, {}, TWO_OF_THREE)).toHaveLength(1);
    expect(run([[person(100)], [], [], [person(104)]], {}, 0, 200, {}, TWO_OF_THREE)).toHaveLength(0);
    expect(run([[person(100)], [person(104)]], {}, 0, 2500, {}, TWO_OF_THREE)).toHaveLength(0);
  });

  it("matches across the vehicle family and never matches different kinds", () => {
    expect(sameObject({ label: "car", score: 0.7, box: [0, 0, 50, 30] }, { label: "truck", score: 0.7, box: [5, 0, 55, 30] })).toBe(true);
    expect(sameObject({ label: "dog", score: 0.7, box: [0, 0, 50, 30] }, { label: "cat", score: 0.7, box: [0, 0, 50, 30] })).toBe(false);
  });
});

describe("decideAlerts", () => {
  it("alerts once per camera and class within the timeout, then again after it", () => {
    // A person in every frame at 5 fps for 40 s, timeout 15 s.
    const frames = Array.from({ length: 200 }, (_, i) => [person(100 + (i % 5))]);
    const alerts = run(frames, { timeout: 15 });
    expect(alerts.map((a) => a.at)).toEqual([400, 15_400, 30_400]);
  });

  it("keeps separate timeouts per class", () => {
    const dog: DetectedObject = { label: "dog", score: 0.6, box: [300, 200, 360, 260] };
    const alerts = run(Array.from({ length: 10 }, () => [person(100), dog]), { classes: ["person", "dog"] });
    expect(alerts).toEqual([{ at: 400, label: "person" }, { at: 400, label: "dog" }]);
  });

  it("says nothing while disarmed or muted, and alerts as soon as the mute ends", () => {
    const frames = Array.from({ length: 10 }, () => [person(100)]);
    expect(run(frames, {}, 0, 200, { armed: false })).toEqual([]);
    expect(run(frames, {}, 0, 200, { mutedUntil: 1000 })).toEqual([{ at: 1400, label: "person" }]);
    expect(canAlert(true, 5000, 4999)).toBe(false);
    expect(canAlert(true, 5000, 5000)).toBe(true);
    expect(canAlert(false, null, 0)).toBe(false);
  });

  it("ignores objects outside the zones and below the minimum size", () => {
    const frames = Array.from({ length: 5 }, () => [person(100)]);
    expect(run(frames, { zones: [[[0.5, 0], [1, 0], [1, 1], [0.5, 1]]] })).toEqual([]);
    expect(run(frames, { minSize: { value: 150, unit: "px" } })).toEqual([]);
    expect(run(frames, { minSize: { value: 100, unit: "px" } })).toHaveLength(1);
  });
});
