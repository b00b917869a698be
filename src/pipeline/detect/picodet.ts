/**
 * PP-PicoDet-S (legacy 416) decoding, as ../shared/models/picodet-s-416-legacy/MODEL.md
 * gives it: RGB input stretched to the square and normalised with ImageNet mean/std;
 * per stride (8, 16, 32, 64) a [1, N, 80] sigmoid-ed score tensor and a [1, N, 32]
 * tensor of distance distributions (4 sides × 8 bins, softmax then expectation).
 */
import type { DetectedObject } from "../../domain/events.js";
import { COCO_LABELS } from "../../domain/labels.js";
import type { TensorLayout, TensorMapping } from "./tensor.js";

const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

export const PICODET_LAYOUT: TensorLayout = {
  size: 416,
  fit: "stretch",
  order: "rgb",
  mul: [1 / (255 * STD[0]), 1 / (255 * STD[1]), 1 / (255 * STD[2])],
  add: [-MEAN[0] / STD[0], -MEAN[1] / STD[1], -MEAN[2] / STD[2]],
  pad: 0,
};

export const PICODET_STRIDES = [8, 16, 32, 64] as const;
const BINS = 8;

/** Expected distance (in bins) of one side: softmax over its 8 logits, then Σ i·p. */
function sideDistance(dist: Float32Array, offset: number): number {
  let max = -Infinity;
  for (let i = 0; i < BINS; i++) max = Math.max(max, dist[offset + i]!);
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < BINS; i++) {
    const e = Math.exp(dist[offset + i]! - max);
    sum += e;
    weighted += i * e;
  }
  return weighted / sum;
}

/** `scores[k]` and `boxes[k]` belong to stride PICODET_STRIDES[k]. Boxes come back in frame pixels, before NMS. */
export function decodePicodet(scores: readonly Float32Array[], boxes: readonly Float32Array[], inputSize: number, mapping: TensorMapping, minScore: number): DetectedObject[] {
  const classes = COCO_LABELS.length;
  const found: DetectedObject[] = [];
  const { region, scaleX, scaleY } = mapping;
  PICODET_STRIDES.forEach((stride, k) => {
    const score = scores[k]!;
    const dist = boxes[k]!;
    const grid = Math.ceil(inputSize / stride);
    const cells = score.length / classes;
    for (let i = 0; i < cells; i++) {
      let best = 0;
      let bestScore = 0;
      for (let c = 0; c < classes; c++) {
        const s = score[i * classes + c]!;
        if (s > bestScore) {
          bestScore = s;
          best = c;
        }
      }
      if (bestScore < minScore) continue;
      const cx = ((i % grid) + 0.5) * stride;
      const cy = (Math.floor(i / grid) + 0.5) * stride;
      const base = i * 4 * BINS;
      const left = sideDistance(dist, base) * stride;
      const top = sideDistance(dist, base + BINS) * stride;
      const right = sideDistance(dist, base + 2 * BINS) * stride;
      const bottom = sideDistance(dist, base + 3 * BINS) * stride;
      found.push({
        label: COCO_LABELS[best]!,
        score: bestScore,
        box: [
          Math.max(region.x, region.x + (cx - left) * scaleX),
          Math.max(region.y, region.y + (cy - top) * scaleY),
          Math.min(region.x + region.width, region.x + (cx + right) * scaleX),
          Math.min(region.y + region.height, region.y + (cy + bottom) * scaleY),
        ],
      });
    }
  });
  return found;
}
