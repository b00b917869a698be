/**
 * Where the detector looks, given the motion boxes. Frigate's rule: square regions
 * around the motion, never smaller than the model input (so small objects are
 * seen at full resolution, not shrunk), or the whole frame when the regions would
 * cover most of it anyway (one run is cheaper than two).
 */
import type { BoxXYXY } from "../../domain/events.js";
import type { Region } from "../frame.js";

export interface CropOptions {
  /** Model input side: the smallest crop. */
  inputSize: number;
  /** Extra context around a motion box, as a fraction of its longer side. Default 0.25. */
  margin?: number;
  /** More crops than this: look at the whole frame. Default 3. */
  maxCrops?: number;
  /** Crops covering more than this fraction of the frame: look at the whole frame. Default 0.8. */
  wholeFrameFraction?: number;
}

function contains(outer: Region, box: BoxXYXY): boolean {
  return box[0] >= outer.x && box[1] >= outer.y && box[2] <= outer.x + outer.width && box[3] <= outer.y + outer.height;
}

export function detectionRegions(boxes: readonly BoxXYXY[], frame: { width: number; height: number }, options: CropOptions): Region[] {
  if (boxes.length === 0) return [];
  const whole: Region = { x: 0, y: 0, width: frame.width, height: frame.height };
  const { inputSize } = options;
  if (frame.width <= inputSize && frame.height <= inputSize) return [whole];
  const margin = options.margin ?? 0.25;
  const regions: Region[] = [];
  for (const box of boxes) {
    if (regions.some((r) => contains(r, box))) continue;
    const side = Math.max(inputSize, Math.ceil(Math.max(box[2] - box[0], box[3] - box[1]) * (1 + margin)));
    const width = Math.min(side, frame.width);
    const height = Math.min(side, frame.height);
    const cx = (box[0] + box[2]) / 2;
    const cy = (box[1] + box[3]) / 2;
    const x = Math.round(Math.min(Math.max(cx - width / 2, 0), frame.width - width));
    const y = Math.round(Math.min(Math.max(cy - height / 2, 0), frame.height - height));
    regions.push({ x, y, width, height });
  }
  const covered = regions.reduce((sum, r) => sum + r.width * r.height, 0);
  if (regions.length > (options.maxCrops ?? 3) || covered > (options.wholeFrameFraction ?? 0.8) * frame.width * frame.height) return [whole];
  return regions;
}
