/**
 * The coarse change test that decides whether a frame in between, outside a
 * confirmation, is worth a glance (the same rule as vigil-decode.c's, which the
 * lean-decoder and frame-source tests check on real streams).
 */
import { describe, expect, it } from "vitest";
import { createPictureChange } from "../../../src/pipeline/source/picture-change.js";
import { scene, synthFrame } from "../../support/frames.js";

const W = 640;
const H = 360;
const base = scene(W, H);

describe("a picture's change", () => {
  it("is none in sensor noise or a small flicker, and someone coming in at the edge is one", () => {
    const gate = createPictureChange(W, H);
    const first = synthFrame(base, W, H, 0, 1, { noise: 12 });
    // Nothing let through yet: nothing to compare with.
    expect(gate.changed(first.data)).toBe(false);
    gate.through(first.data);
    for (let seq = 2; seq < 12; seq++) expect(gate.changed(synthFrame(base, W, H, seq * 100, seq, { noise: 12 }).data), `noise ${seq}`).toBe(false);
    // A leaf (10x10 pixels) is one block at most; a person 40x100 at the right edge is many.
    expect(gate.changed(synthFrame(base, W, H, 1200, 12, { rects: [[300, 170, 10, 10, 250]] }).data)).toBe(false);
    expect(gate.changed(synthFrame(base, W, H, 1300, 13, { rects: [[600, 200, 40, 100, 20]] }).data)).toBe(true);
  });

  it("is measured against the last picture let through, so a slow change is caught once it adds up", () => {
    const gate = createPictureChange(W, H);
    gate.through(synthFrame(base, W, H, 0, 1, { offset: 0 }).data);
    // Exposure creeping up by 8 levels a frame: not yet a change at 16, a change at 24 (every block moved).
    expect(gate.changed(synthFrame(base, W, H, 100, 2, { offset: 8 }).data)).toBe(false);
    expect(gate.changed(synthFrame(base, W, H, 200, 3, { offset: 16 }).data)).toBe(false);
    expect(gate.changed(synthFrame(base, W, H, 300, 4, { offset: 24 }).data)).toBe(true);
    // Let through, it is the new reference.
    gate.through(synthFrame(base, W, H, 300, 4, { offset: 24 }).data);
    expect(gate.changed(synthFrame(base, W, H, 400, 5, { offset: 24 }).data)).toBe(false);
  });

  it("never calls a picture too small to sample changed", () => {
    const gate = createPictureChange(2, 2);
    gate.through(new Uint8Array(6));
    expect(gate.changed(new Uint8Array(6).fill(255))).toBe(false);
  });
});
