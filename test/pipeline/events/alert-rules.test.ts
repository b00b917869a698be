import { describe, expect, it } from "vitest";
import { canAlert, inExitDelay, inZones, largeEnough, matchesClasses } from "../../../src/pipeline/events/alert-rules.js";
import { DEFAULT_CONFIRMATION, isConfirmed, type ConfirmationRule, type Look } from "../../../src/pipeline/events/confirmation.js";

const FRAME = { width: 640, height: 360 };

/** Looks 200 ms apart (5 fps): a score where the object was found, null where the detector looked and did not find it. */
function confirmedAt(scores: (number | null)[], rule: ConfirmationRule = DEFAULT_CONFIRMATION, minScore = 0.5): number | undefined {
  const looks: Look[] = [];
  for (const [i, score] of scores.entries()) {
    looks.push({ at: i * 200, score });
    if (isConfirmed(looks, i * 200, rule, minScore)) return i * 200;
  }
  return undefined;
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

  it("says nothing while disarmed or muted, and may alert again the moment the mute ends", () => {
    const cam = (armed: boolean, mutedUntil: number | null) => ({ armed, mutedUntil, settings: { modes: ["home", "away", "night"] as ("home" | "away" | "night")[] } });
    const away = { mode: "away" as const };
    expect(canAlert(cam(true, 5000), away, 4999)).toBe(false);
    expect(canAlert(cam(true, 5000), away, 5000)).toBe(true);
    expect(canAlert(cam(true, null), away, 0)).toBe(true);
    expect(canAlert(cam(false, null), away, 0)).toBe(false);
    expect(canAlert(cam(true, null), { mode: "off" }, 0)).toBe(false);
  });

  it("alerts only in the camera's own modes: an indoor camera is silent in home and night, and alerts in away", () => {
    const indoor = { armed: true, mutedUntil: null, settings: { modes: ["away" as const] } };
    expect(["off", "home", "away", "night"].map((mode) => canAlert(indoor, { mode: mode as "off" }, 0))).toEqual([false, false, true, false]);
    // The exit delay: inside it until the moment it ends.
    expect(inExitDelay({ mode: "away", exitDelayUntil: 60_000 }, 59_999)).toBe(true);
    expect(inExitDelay({ mode: "away", exitDelayUntil: 60_000 }, 60_000)).toBe(false);
    expect(inExitDelay({ mode: "away", exitDelayUntil: null }, 0)).toBe(false);
  });
});

describe("confirmation", () => {
  it("by default confirms on the third sighting, 0.4 s after the first at 5 fps, and tolerates one miss in four", () => {
    expect(DEFAULT_CONFIRMATION).toMatchObject({ hits: 3, window: 4 });
    expect(confirmedAt([0.6, 0.6, 0.6, 0.6])).toBe(400);
    // Two sightings, like the kitten the detector took for a person for two frames, are not enough.
    expect(confirmedAt([0.6, 0.6, null, null, null])).toBeUndefined();
    expect(confirmedAt([0.6, null, 0.6, 0.6])).toBe(600);
  });

  it("confirms on the second look in a row when both score at least sureScore (0.7)", () => {
    expect(DEFAULT_CONFIRMATION.sureScore).toBe(0.7);
    // The wallflower visitor: 0.73, then 0.85.
    expect(confirmedAt([null, 0.73, 0.85])).toBe(400);
    // The kitten taken for a person, 0.60 then 0.57: not sure enough, and two sightings are not three.
    expect(confirmedAt([0.6, 0.57, null, null])).toBeUndefined();
    // One sure look and one unsure one: the third sighting decides, as usual.
    expect(confirmedAt([0.9, 0.65, 0.9])).toBe(400);
    // Not in a row: a look without it in between.
    expect(confirmedAt([0.9, null, 0.9])).toBeUndefined();
  });

  it("counts only sightings at the camera's score, within the window and the age limit", () => {
    expect(confirmedAt([0.45, 0.45, 0.45, 0.45])).toBeUndefined();
    expect(confirmedAt([0.45, 0.45, 0.45, 0.45], DEFAULT_CONFIRMATION, 0.4)).toBe(400);
    const twoOfThree: ConfirmationRule = { hits: 2, window: 3, maxAgeMs: 2000 };
    expect(confirmedAt([0.6, null, 0.6], twoOfThree)).toBe(400);
    expect(confirmedAt([0.6, null, null, 0.6], twoOfThree)).toBeUndefined();
    const looks: Look[] = [{ at: 0, score: 0.6 }, { at: 2500, score: 0.6 }];
    expect(isConfirmed(looks, 2500, twoOfThree, 0.5)).toBe(false);
  });
});
