/**
 * Motion by background subtraction on a small blurred luma image (Frigate's
 * approach). The luma plane is sampled down to about 160 pixels wide, blurred,
 * and compared with a running-average background after a gain/offset fit, so a
 * camera's gradual auto-exposure drift does not read as motion. A change over
 * most of the frame (light switch, IR day/night switch, a big exposure jump)
 * recalibrates instead: the background restarts from the new picture and the
 * frame is reported as `calibrating`, which makes the caller look at the whole
 * frame with the detector, because the scene is briefly unknown.
 *
 * The background follows unchanged pixels with a 5 s time constant and changed
 * ones with 30 s: a slow walker stays foreground for tens of seconds, while a
 * parked car becomes background within a minute.
 */
import type { BoxXYXY } from "../../domain/events.js";
import type { Polygon } from "../../domain/camera.js";
import type { Frame } from "../frame.js";
import { rasterizePolygons } from "../geometry.js";
import { connectedRegions } from "./connected-regions.js";

/** `sensitivity` counts changed pixels at this size, whatever the detection size. */
export const REFERENCE_PIXELS = 640 * 360;

export interface MotionOptions {
  /** Detection frame size. */
  width: number;
  height: number;
  /** Changed pixels (at 640x360) needed to call it motion; lower is more sensitive. */
  sensitivity: number;
  /** Motion inside these normalised polygons is ignored. Default none. */
  masks?: readonly Polygon[];
  /** A pixel changed when it differs from the background by more than this many luma levels. Default 25. */
  threshold?: number;
  /** Fraction of the frame that, changed at once, means the light changed, not the scene. Default 0.6. */
  globalChange?: number;
  /** Seconds the scene counts as unknown after a (re)calibration. Default 1. */
  calibrationSeconds?: number;
  /** Background time constants in seconds, for unchanged and changed pixels. Defaults 5 and 30. */
  backgroundSeconds?: number;
  foregroundSeconds?: number;
}

export interface MotionResult {
  /** Enough changed pixels, outside the masks, to call it motion. */
  motion: boolean;
  /** Changed pixels, scaled to 640x360 (comparable with `sensitivity`). */
  changed: number;
  /** Regions of change in frame pixels, largest first. */
  boxes: BoxXYXY[];
  /** The background has just been (re)built; this frame says nothing about motion. */
  calibrating: boolean;
  /** This frame triggered a recalibration (a global change), rather than the first frame. */
  recalibrated: boolean;
}

export interface MotionDetector {
  detect(frame: Frame): MotionResult;
  /** New sensitivity or masks, keeping the background. */
  configure(options: Pick<MotionOptions, "sensitivity" | "masks">): void;
}

/** Motion-image scale factor: about 160 pixels wide. */
export function motionScale(width: number): number {
  return Math.max(1, Math.floor(width / 160));
}

export function createMotionDetector(options: MotionOptions): MotionDetector {
  const k = motionScale(options.width);
  const mw = Math.floor(options.width / k);
  const mh = Math.floor(options.height / k);
  const n = mw * mh;
  const threshold = options.threshold ?? 25;
  const globalChange = options.globalChange ?? 0.6;
  const calibrationMs = (options.calibrationSeconds ?? 1) * 1000;
  const tauBg = options.backgroundSeconds ?? 5;
  const tauFg = options.foregroundSeconds ?? 30;
  let sensitivity = options.sensitivity;
  let mask = rasterizePolygons(options.masks ?? [], mw, mh);
  let activePixels = n - mask.reduce((a, b) => a + b, 0);

  const row = new Float32Array(mw);
  const rows = new Float32Array(n);
  const current = new Float32Array(n);
  const background = new Float32Array(n);
  const changedMask = new Uint8Array(n);
  const grid: Grid = { k, mw, mh, half: k >> 1, pair: k >= 2 ? 1 : 0 };
  let hasBackground = false;
  let calibratedAt = 0;
  let lastAt = 0;

  function calibrate(at: number, recalibrated: boolean): MotionResult {
    background.set(current);
    hasBackground = true;
    calibratedAt = at;
    return { motion: false, changed: 0, boxes: [], calibrating: true, recalibrated };
  }

  return {
    configure(next) {
      sensitivity = next.sensitivity;
      if (next.masks) {
        mask = rasterizePolygons(next.masks, mw, mh);
        activePixels = n - mask.reduce((a, b) => a + b, 0);
      }
    },
    detect(frame) {
      sampleRows(frame.data, frame.width, grid, row, rows);
      const [sb, sc, sbb, sbc] = blurColumnsAndSum(rows, grid, current, background, mask);
      const dt = lastAt ? Math.min(2, Math.max(0, (frame.at - lastAt) / 1000)) : 0;
      lastAt = frame.at;
      if (!hasBackground) return calibrate(frame.at, false);

      // Least-squares gain and offset from background to current: exposure changes cancel out.
      const count = Math.max(1, activePixels);
      const variance = sbb / count - (sb / count) ** 2;
      let gain = variance > 1 ? (sbc / count - (sb / count) * (sc / count)) / variance : 1;
      gain = Math.min(2, Math.max(0.5, gain));
      const offset = sc / count - gain * (sb / count);
      const { changed, raw } = compareAndLearn(background, current, mask, changedMask, { gain, offset, threshold, alphaBg: 1 - Math.exp(-dt / tauBg), alphaFg: 1 - Math.exp(-dt / tauFg) });
      if (raw > globalChange * count) return calibrate(frame.at, true);

      const scaled = Math.round((changed * REFERENCE_PIXELS) / n);
      const motion = scaled >= sensitivity;
      const calibrating = frame.at - calibratedAt < calibrationMs;
      const boxes = motion
        ? connectedRegions(changedMask, mw, mh).map(({ box }): BoxXYXY => [box[0] * k, box[1] * k, Math.min(frame.width, (box[2] + 1) * k), Math.min(frame.height, (box[3] + 1) * k)])
        : [];
      return { motion, changed: scaled, boxes, calibrating, recalibrated: false };
    },
  };
}

/*
 * The per-pixel loops live outside the detector's closure, with their arrays as
 * arguments: written inline in detect(), V8 compiled them either well or 2.5x
 * slower from one run to the next (measured on the idle benchmark's frames: 160
 * or 400 µs a frame). Three passes over the small image, none over the frame.
 */

/** The motion image: one luma sample per k×k block of the frame, mw × mh of them. */
interface Grid {
  k: number;
  mw: number;
  mh: number;
  /** The sample's offset in its block, and 1 when it averages a 2×1 pair (k ≥ 2). */
  half: number;
  pair: number;
}

/**
 * Samples the luma plane, one value per k×k block (its centre; for k ≥ 2 a 2×1
 * pair), and blurs each row [1 2 1]/4, edges clamped, into `out`. Reading the
 * whole plane was the idle path's biggest cost (bench/pipeline.ts); the blur
 * averages sensor noise down well below the threshold, and anything a person's
 * size covers many blocks anyway.
 */
function sampleRows(data: Uint8Array, width: number, g: Grid, row: Float32Array, out: Float32Array): void {
  const { k, mw, mh, half, pair } = g;
  for (let my = 0; my < mh; my++) {
    let p = (my * k + half) * width + half - pair;
    for (let mx = 0; mx < mw; mx++, p += k) row[mx] = (data[p]! + data[p + pair]!) * 0.5;
    const o = my * mw;
    for (let x = 0; x < mw; x++) out[o + x] = (row[x > 0 ? x - 1 : x]! + 2 * row[x]! + row[x < mw - 1 ? x + 1 : x]!) * 0.25;
  }
}

/**
 * Blurs the columns [1 2 1]/4, edges clamped, into `current`, and returns the sums
 * of b, c, b², b·c over the unmasked pixels (b the background, c the new value)
 * for the exposure fit.
 */
function blurColumnsAndSum(rows: Float32Array, g: Grid, current: Float32Array, background: Float32Array, mask: Uint8Array): [number, number, number, number] {
  const { mw, mh } = g;
  let sb = 0, sc = 0, sbb = 0, sbc = 0;
  for (let y = 0; y < mh; y++) {
    const up = (y > 0 ? y - 1 : y) * mw;
    const down = (y < mh - 1 ? y + 1 : y) * mw;
    const o = y * mw;
    for (let x = 0; x < mw; x++) {
      const i = o + x;
      const c = (rows[up + x]! + 2 * rows[i]! + rows[down + x]!) * 0.25;
      current[i] = c;
      if (mask[i]) continue;
      const b = background[i]!;
      sb += b;
      sc += c;
      sbb += b * b;
      sbc += b * c;
    }
  }
  return [sb, sc, sbb, sbc];
}

/**
 * Marks the pixels that differ from the exposure-compensated background and moves
 * the background towards the current picture, in one pass. `raw` counts the
 * pixels changed before compensation: most of the frame changed at once is a
 * light switch, an IR switch or an exposure jump too big (or too clipped) to
 * compensate.
 */
function compareAndLearn(
  background: Float32Array,
  current: Float32Array,
  mask: Uint8Array,
  changedMask: Uint8Array,
  p: { gain: number; offset: number; threshold: number; alphaBg: number; alphaFg: number },
): { changed: number; raw: number } {
  const { gain, offset, threshold, alphaBg, alphaFg } = p;
  let changed = 0;
  let raw = 0;
  for (let i = 0; i < current.length; i++) {
    const c = current[i]!;
    const b = background[i]!;
    const outside = mask[i] === 0;
    const hit = outside && Math.abs(c - (gain * b + offset)) > threshold ? 1 : 0;
    changedMask[i] = hit;
    changed += hit;
    if (outside && Math.abs(c - b) > threshold) raw++;
    background[i] = b + (hit ? alphaFg : alphaBg) * (c - b);
  }
  return { changed, raw };
}
