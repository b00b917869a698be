import { describe, expect, it } from "vitest";
import { checkOffline, frameArrived, INITIAL_AVAILABILITY } from "../../../src/pipeline/events/availability.js";

describe("online/offline debounce", () => {
  it("reports offline once after the debounce, and online on the next frame with the downtime", () => {
    let state = INITIAL_AVAILABILITY;
    // Last frame at t=10 s, debounce 60 s.
    expect(checkOffline(state, 69_999, 10_000, 0, 60_000).offline).toBeUndefined();
    const down = checkOffline(state, 70_000, 10_000, 0, 60_000);
    expect(down.offline).toEqual({ lastFrameAt: 10_000 });
    state = down.state;
    expect(checkOffline(state, 90_000, 10_000, 0, 60_000).offline).toBeUndefined();
    const up = frameArrived(state, 95_000, 10_000, 0);
    expect(up.online).toEqual({ downtimeMs: 85_000 });
    expect(up.state.offline).toBe(false);
  });

  it("counts from the start for a camera that never sent a frame, and stays quiet about short glitches", () => {
    expect(checkOffline(INITIAL_AVAILABILITY, 65_000, 0, 5_000, 60_000).offline).toEqual({ lastFrameAt: 0 });
    expect(frameArrived(INITIAL_AVAILABILITY, 30_000, 1_000, 0).online).toBeUndefined();
  });
});
