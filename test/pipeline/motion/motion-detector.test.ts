import { describe, expect, it } from "vitest";
import { createMotionDetector, type MotionResult } from "../../../src/pipeline/motion/motion-detector.js";
import { scene, synthFrame, type Paint } from "../../support/frames.js";

const W = 640;
const H = 360;
const FPS = 5;

/** Runs `frames` frames of the scene through a fresh detector; `paint(i)` says what is in frame i. */
function play(frames: number, paint: (i: number) => Paint, options: { width?: number; height?: number; sensitivity?: number; masks?: [number, number][][] } = {}): MotionResult[] {
  const width = options.width ?? W;
  const height = options.height ?? H;
  const base = scene(width, height);
  const detector = createMotionDetector({ width, height, sensitivity: options.sensitivity ?? 2000, masks: options.masks ?? [] });
  return Array.from({ length: frames }, (_, i) => detector.detect(synthFrame(base, width, height, 1_000_000 + (i * 1000) / FPS, i, paint(i))));
}

describe("motion detector on synthetic frames", () => {
  it("sees no motion in a static scene with sensor noise", () => {
    const results = play(50, () => ({ noise: 6 }));
    expect(results[0]!.calibrating).toBe(true);
    expect(results.filter((r) => r.motion)).toEqual([]);
    expect(Math.max(...results.map((r) => r.changed))).toBeLessThan(200);
  });

  it("reports a moving block, with a box around it", () => {
    // A 60x120 person-sized block walking in at frame 3, right, at 8 px per frame.
    const results = play(30, (i) => (i < 3 ? {} : { rects: [[100 + i * 8, 150, 60, 120, 230]] }));
    const moving = results.slice(3);
    expect(moving.every((r) => r.motion)).toBe(true);
    const last = results[29]!;
    const [x1, y1, x2, y2] = last.boxes[0]!;
    const blockX = 100 + 29 * 8;
    // The largest region covers the block's current position (plus its fading trail on the left).
    expect(x1).toBeLessThanOrEqual(blockX + 4);
    expect(x2).toBeGreaterThanOrEqual(blockX + 60 - 4);
    expect(y1).toBeLessThanOrEqual(154);
    expect(y2).toBeGreaterThanOrEqual(266);
    expect(x2 - x1).toBeLessThan(200);
  });

  it("recalibrates on a global brightness jump (a light switched on) instead of reporting motion", () => {
    const results = play(30, (i) => (i < 10 ? {} : { offset: 70, gain: 1.3 }));
    expect(results[10]).toMatchObject({ motion: false, recalibrated: true, calibrating: true });
    expect(results.filter((r) => r.motion)).toEqual([]);
    // The scene counts as unknown for about a second, then not.
    expect(results[14]!.calibrating).toBe(true);
    expect(results[16]!.calibrating).toBe(false);
  });

  it("is not fooled by a camera's auto-exposure swing", () => {
    // Exposure falls to 65 % over one second and recovers over three, like intel_car-detection.mp4.
    const gain = (i: number) => (i < 10 ? 1 : i < 15 ? 1 - 0.07 * (i - 10) : Math.min(1, 0.65 + 0.0233 * (i - 15)));
    const results = play(40, (i) => ({ gain: gain(i) }));
    expect(results.filter((r) => r.motion)).toEqual([]);
  });

  it("does not absorb a slow walker into the background within ten seconds", () => {
    // Walks in at frame 5, then 1 px per frame: 5 px per second, slower than anyone walks.
    const results = play(55, (i) => (i < 5 ? {} : { rects: [[200 + i, 120, 60, 140, 30]] }));
    expect(results.slice(5).every((r) => r.motion)).toBe(true);
    // Someone who walks in and stands still is still motion 10 s later.
    const standing = play(55, (i) => (i < 5 ? {} : { rects: [[300, 120, 60, 140, 220]] }));
    expect(standing[54]!.motion).toBe(true);
  });

  it("ignores motion inside a mask polygon, and only there", () => {
    const inLeftHalf = (i: number): Paint => ({ rects: [[60 + i * 8, 150, 60, 120, 230]] });
    const leftMask = [[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]] as [number, number][][];
    expect(play(15, inLeftHalf, { masks: leftMask }).filter((r) => r.motion)).toEqual([]);
    const inRightHalf = (i: number): Paint => ({ rects: [[400 + i * 8, 150, 60, 120, 230]] });
    expect(play(15, inRightHalf, { masks: leftMask }).slice(3).every((r) => r.motion)).toBe(true);
  });

  it("counts changed pixels at the 640x360 reference, whatever the detection size", () => {
    const block = (scale: number) => (i: number): Paint => ({ rects: [[Math.round((100 + i * 8) * scale), Math.round(150 * scale), Math.round(60 * scale), Math.round(120 * scale), 230]] });
    const full = play(12, block(1))[11]!.changed;
    const half = play(12, block(0.5), { width: 320, height: 180 })[11]!.changed;
    // Unscaled, the half-size count would be a quarter; block edges and noise average differently, hence the margin.
    expect(Math.abs(full - half) / full).toBeLessThan(0.3);
  });

  it("follows the sensitivity setting: a small object is motion only at a lower (more sensitive) value", () => {
    // A 20x30 block: about 600 changed pixels at 640x360 (plus its trail).
    const small = (i: number): Paint => ({ rects: [[100 + i * 6, 150, 20, 30, 230]] });
    const changed = play(12, small)[11]!.changed;
    expect(changed).toBeGreaterThan(300);
    expect(changed).toBeLessThan(2000);
    expect(play(12, small, { sensitivity: 2000 })[11]!.motion).toBe(false);
    expect(play(12, small, { sensitivity: 200 })[11]!.motion).toBe(true);
  });
});
