/** Non-maximum suppression. Class-agnostic by default: one vehicle is one object, not a car and a truck. */
import type { DetectedObject } from "../../domain/events.js";
import { iou } from "../geometry.js";

export interface NmsOptions {
  /** Boxes overlapping a kept box more than this are dropped. Default 0.45 (MODEL.md). */
  iouThreshold?: number;
  /** Only suppress boxes of the same label (reproduces MODEL.md's samples). Default false. */
  classAware?: boolean;
}

/** Highest score first; returns a new array. */
export function nms(objects: readonly DetectedObject[], options: NmsOptions = {}): DetectedObject[] {
  const threshold = options.iouThreshold ?? 0.45;
  const sorted = [...objects].sort((a, b) => b.score - a.score);
  const kept: DetectedObject[] = [];
  for (const candidate of sorted) {
    const suppressed = kept.some((k) => (!options.classAware || k.label === candidate.label) && iou(k.box, candidate.box) > threshold);
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}
