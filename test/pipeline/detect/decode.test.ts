import { describe, expect, it } from "vitest";
import { COCO_LABELS } from "../../../src/domain/labels.js";
import type { DetectedObject } from "../../../src/domain/events.js";
import { detectionRegions } from "../../../src/pipeline/detect/crops.js";
import { nms } from "../../../src/pipeline/detect/nms.js";
import { decodePicodet, PICODET_LAYOUT, PICODET_STRIDES } from "../../../src/pipeline/detect/picodet.js";
import { frameToTensor } from "../../../src/pipeline/detect/tensor.js";
import { decodeYolox, YOLOX_LAYOUT } from "../../../src/pipeline/detect/yolox.js";
import { yuv420Size } from "../../../src/pipeline/frame.js";

const ROW = 85;

describe("YOLOX decoding", () => {
  it("turns one anchor's raw terms into a box in frame pixels (MODEL.md's formulas)", () => {
    const output = new Float32Array(3549 * ROW);
    // Stride 16, cell (gx=3, gy=2): rows 52² + 2·26 + 3.
    const row = 52 * 52 + 2 * 26 + 3;
    output.set([0.5, 0.25, Math.log(2), 0, 0.9], row * ROW);
    output[row * ROW + 5 + COCO_LABELS.indexOf("dog")] = 0.8;
    output[row * ROW + 5] = 0.3; // person, lower
    // The tensor is a 2x downscale of a region starting at (100, 50).
    const found = decodeYolox(output, 416, { region: { x: 100, y: 50, width: 832, height: 832 }, scaleX: 2, scaleY: 2 }, 0.3);
    expect(found).toHaveLength(1);
    // cx = (0.5+3)·16 = 56, cy = (0.25+2)·16 = 36, w = 2·16 = 32, h = 16 → [40,28,72,44] ·2 + origin.
    expect(found[0]!.label).toBe("dog");
    expect(found[0]!.score).toBeCloseTo(0.72, 5);
    expect(found[0]!.box.map((v) => Math.round(v * 1000) / 1000)).toEqual([180, 106, 244, 138]);
  });

  it("keeps nothing below the score and clips boxes to the region", () => {
    const output = new Float32Array(3549 * ROW);
    output.set([0, 0, Math.log(4), Math.log(4), 0.5, 0.5], 0); // stride 8 cell (0,0): score 0.25
    output.set([0, 0, Math.log(4), Math.log(4), 0.9, 0.9], ROW); // cell (1,0): a 32x32 box centred at (8,0)
    const found = decodeYolox(output, 416, { region: { x: 0, y: 0, width: 416, height: 416 }, scaleX: 1, scaleY: 1 }, 0.3);
    expect(found.map((o) => o.box.map((v) => Math.round(v * 1000) / 1000))).toEqual([[0, 0, 24, 16]]);
  });
});

describe("PicoDet decoding", () => {
  it("takes the expected distance of each side's 8-bin softmax", () => {
    const scores = PICODET_STRIDES.map((s) => new Float32Array(Math.ceil(416 / s) ** 2 * 80));
    const boxes = PICODET_STRIDES.map((s) => new Float32Array(Math.ceil(416 / s) ** 2 * 32));
    // Stride 32 (k=2), cell 14 = (gx=1, gy=1) of the 13-wide grid; uniform logits → 3.5 bins per side.
    scores[2]![14 * 80 + 0] = 0.7;
    const found = decodePicodet(scores, boxes, 416, { region: { x: 0, y: 0, width: 416, height: 416 }, scaleX: 1, scaleY: 1 }, 0.5);
    // centre (1.5·32, 1.5·32) = (48, 48), each side 3.5·32 = 112.
    expect(found).toEqual([{ label: "person", score: expect.closeTo(0.7, 5) as number, box: [0, 0, 160, 160] }]);
    // A peaked distribution: all weight on bin 2 → 64 px.
    boxes[2]!.fill(-50, 14 * 32, 15 * 32);
    for (let side = 0; side < 4; side++) boxes[2]![14 * 32 + side * 8 + 2] = 50;
    expect(decodePicodet(scores, boxes, 416, { region: { x: 0, y: 0, width: 416, height: 416 }, scaleX: 1, scaleY: 1 }, 0.5)[0]!.box).toEqual([0, 0, 112, 112]);
  });
});

describe("NMS", () => {
  const car: DetectedObject = { label: "car", score: 0.69, box: [407, 27, 452, 62] };
  const truck: DetectedObject = { label: "truck", score: 0.71, box: [407, 26, 454, 62] };
  const person: DetectedObject = { label: "person", score: 0.8, box: [100, 100, 130, 180] };

  it("class-agnostic (default) keeps one box per object: the van is a truck, not also a car", () => {
    expect(nms([car, person, truck])).toEqual([person, truck]);
  });

  it("class-aware keeps both labels, as MODEL.md lists them", () => {
    expect(nms([car, person, truck], { classAware: true })).toEqual([person, truck, car]);
  });

  it("keeps boxes that overlap less than the threshold", () => {
    const beside: DetectedObject = { label: "person", score: 0.7, box: [125, 100, 155, 180] };
    expect(nms([person, beside])).toHaveLength(2);
    // IoU 400/4400 ≈ 0.09.
    expect(nms([person, beside], { iouThreshold: 0.05 })).toHaveLength(1);
  });
});

describe("frame to tensor", () => {
  function solidFrame(width: number, height: number, y: number, u: number, v: number) {
    const data = Buffer.alloc(yuv420Size(width, height));
    data.fill(y, 0, width * height);
    data.fill(u, width * height, width * height + (width * height) / 4);
    data.fill(v, width * height + (width * height) / 4);
    return { width, height, data, at: 0, seq: 0 };
  }

  it("letterboxes at the top-left on 114, in BGR order, 0-255 (YOLOX)", () => {
    // Pure red in BT.601 limited range: Y 81, U 90, V 240.
    const frame = solidFrame(8, 4, 81, 90, 240);
    const layout = { ...YOLOX_LAYOUT, size: 16 };
    const out = new Float32Array(3 * 256);
    const map = frameToTensor(frame, { x: 0, y: 0, width: 8, height: 4 }, layout, out);
    expect(map).toMatchObject({ scaleX: 0.5, scaleY: 0.5 });
    const at = (c: number, x: number, y: number) => out[c * 256 + y * 16 + x]!;
    // Image: 16x8 at the top; B ≈ 0, G ≈ 0, R ≈ 255.
    expect(at(0, 5, 3)).toBeLessThan(3);
    expect(at(1, 5, 3)).toBeLessThan(3);
    expect(at(2, 5, 3)).toBeGreaterThan(252);
    // Padding below it.
    for (const c of [0, 1, 2]) expect(at(c, 5, 12)).toBe(114);
  });

  it("stretches and normalises in RGB order (PicoDet)", () => {
    const white = solidFrame(8, 4, 235, 128, 128);
    const out = new Float32Array(3 * 256);
    frameToTensor(white, { x: 0, y: 0, width: 8, height: 4 }, { ...PICODET_LAYOUT, size: 16 }, out);
    // (1 − mean)/std per channel, everywhere (no padding).
    expect(out[0]).toBeCloseTo((1 - 0.485) / 0.229, 3);
    expect(out[256 + 255]).toBeCloseTo((1 - 0.456) / 0.224, 3);
    expect(out[512 + 17]).toBeCloseTo((1 - 0.406) / 0.225, 3);
  });
});

describe("detection regions", () => {
  const hd = { width: 1280, height: 720 };

  it("crops a square of at least the model input around a small motion box", () => {
    expect(detectionRegions([[600, 300, 640, 380]], hd, { inputSize: 416 })).toEqual([{ x: 412, y: 132, width: 416, height: 416 }]);
  });

  it("grows the square for a big box, keeps it inside the frame, and stops at the frame's height", () => {
    expect(detectionRegions([[0, 0, 500, 300]], hd, { inputSize: 416 })).toEqual([{ x: 0, y: 0, width: 625, height: 625 }]);
    // 640x360 is shorter than the model input: the crop spans the full height.
    expect(detectionRegions([[600, 10, 630, 60]], { width: 640, height: 360 }, { inputSize: 416 })).toEqual([{ x: 224, y: 0, width: 416, height: 360 }]);
  });

  it("uses one crop for boxes it already covers, and the whole frame when crops would cover most of it", () => {
    expect(detectionRegions([[600, 300, 640, 380], [620, 320, 650, 400]], hd, { inputSize: 416 })).toHaveLength(1);
    expect(detectionRegions([[10, 10, 40, 40], [1200, 600, 1250, 700], [10, 600, 40, 700], [1200, 10, 1250, 40]], hd, { inputSize: 416 })).toEqual([{ x: 0, y: 0, width: 1280, height: 720 }]);
    expect(detectionRegions([[10, 10, 40, 40]], { width: 320, height: 240 }, { inputSize: 416 })).toEqual([{ x: 0, y: 0, width: 320, height: 240 }]);
    expect(detectionRegions([], hd, { inputSize: 416 })).toEqual([]);
  });
});
