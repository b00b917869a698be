/**
 * YOLOX-Nano decoding, exactly as ../shared/models/yolox-nano-416/MODEL.md gives it:
 * BGR 0–255 input letterboxed at the top-left on 114; output [1, N, 85] of raw box
 * terms and sigmoid-ed objectness and class scores, anchor points for strides 8,
 * 16, 32 in row-major order.
 */
import type { DetectedObject } from "../../domain/events.js";
import { COCO_LABELS } from "../../domain/labels.js";
import type { TensorLayout, TensorMapping } from "./tensor.js";

export const YOLOX_LAYOUT: TensorLayout = { size: 416, fit: "letterbox", order: "bgr", mul: [1, 1, 1], add: [0, 0, 0], pad: 114 };

const STRIDES = [8, 16, 32] as const;

/** Every anchor whose score (objectness · best class) reaches `minScore`, in frame pixels, before NMS. */
export function decodeYolox(output: Float32Array, inputSize: number, mapping: TensorMapping, minScore: number): DetectedObject[] {
  const classes = COCO_LABELS.length;
  const rowLength = 5 + classes;
  const found: DetectedObject[] = [];
  const { region, scaleX, scaleY } = mapping;
  const right = region.x + region.width;
  const bottom = region.y + region.height;
  let row = 0;
  for (const stride of STRIDES) {
    const grid = Math.ceil(inputSize / stride);
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++, row++) {
        const base = row * rowLength;
        const objectness = output[base + 4]!;
        // score = objectness · class score ≤ objectness: most rows end here.
        if (objectness < minScore) continue;
        let best = 0;
        let bestScore = 0;
        for (let c = 0; c < classes; c++) {
          const s = output[base + 5 + c]!;
          if (s > bestScore) {
            bestScore = s;
            best = c;
          }
        }
        const score = objectness * bestScore;
        if (score < minScore) continue;
        const cx = (output[base]! + gx) * stride;
        const cy = (output[base + 1]! + gy) * stride;
        const w = Math.exp(output[base + 2]!) * stride;
        const h = Math.exp(output[base + 3]!) * stride;
        found.push({
          label: COCO_LABELS[best]!,
          score,
          box: [
            Math.max(region.x, region.x + (cx - w / 2) * scaleX),
            Math.max(region.y, region.y + (cy - h / 2) * scaleY),
            Math.min(right, region.x + (cx + w / 2) * scaleX),
            Math.min(bottom, region.y + (cy + h / 2) * scaleY),
          ],
        });
      }
    }
  }
  return found;
}
