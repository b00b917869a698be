import { describe, expect, it } from "vitest";
import { connectedRegions } from "../../../src/pipeline/motion/connected-regions.js";
import { INITIAL_MOTION_STATE, nextMotionState, type MotionEventState } from "../../../src/pipeline/motion/motion-events.js";

/** Feeds motion flags at 5 fps and returns the start/end changes with their times. */
function changes(flags: boolean[]): string[] {
  let state: MotionEventState = INITIAL_MOTION_STATE;
  const out: string[] = [];
  flags.forEach((motion, i) => {
    const next = nextMotionState(state, motion, i * 200);
    state = next.state;
    if (next.change) out.push(`${next.change}@${i * 200}`);
  });
  return out;
}

describe("motion start/end hysteresis", () => {
  it("starts on the second motion frame in a row and ends after 3 s without motion", () => {
    const flags = [false, true, true, true, ...Array<boolean>(20).fill(false)];
    expect(changes(flags)).toEqual(["start@400", "end@3600"]);
  });

  it("ignores a single noisy frame and keeps one event through short pauses", () => {
    expect(changes([true, false, true, false, true, false])).toEqual([]);
    const pauses = [true, true, ...Array<boolean>(10).fill(false), true, ...Array<boolean>(16).fill(false)];
    expect(changes(pauses)).toEqual(["start@200", "end@5400"]);
  });

  it("remembers when the event's first motion frame was", () => {
    let state = INITIAL_MOTION_STATE;
    state = nextMotionState(state, true, 1000).state;
    state = nextMotionState(state, true, 1200).state;
    expect(state).toMatchObject({ active: true, startedAt: 1000 });
  });
});

describe("connected regions", () => {
  function mask(width: number, height: number, rects: [number, number, number, number][]): Uint8Array {
    const m = new Uint8Array(width * height);
    for (const [x, y, w, h] of rects) for (let yy = y; yy < y + h; yy++) m.fill(1, yy * width + x, yy * width + x + w);
    return m;
  }

  it("finds separate blobs, largest first, with boxes of their own pixels", () => {
    const regions = connectedRegions(mask(40, 20, [[2, 2, 3, 3], [20, 5, 6, 10]]), 40, 20);
    expect(regions).toEqual([
      { box: [20, 5, 25, 14], pixels: 60 },
      { box: [2, 2, 4, 4], pixels: 9 },
    ]);
  });

  it("joins pieces closer than the gap (one walker) and drops specks", () => {
    // Head and legs two pixels apart, and a lone pixel far away.
    const regions = connectedRegions(mask(40, 20, [[10, 2, 3, 3], [10, 7, 3, 6], [35, 18, 1, 1]]), 40, 20);
    expect(regions).toEqual([{ box: [10, 2, 12, 12], pixels: 27 }]);
  });
});
