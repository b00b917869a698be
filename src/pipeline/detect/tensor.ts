/**
 * A region of a YUV 4:2:0 frame → the detector's NCHW float input, in one pass:
 * colour conversion, resize and layout together, so detection pays for exactly
 * the pixels the model sees and nothing is converted on frames without motion.
 * Luma is sampled bilinearly (OpenCV's INTER_LINEAR convention, which the models
 * were checked with); chroma, already at half resolution, by nearest sample.
 */
import { YUV_TABLES, type Frame, type Region } from "../frame.js";

export interface TensorLayout {
  /** Square model input side, e.g. 416. */
  size: number;
  /** `letterbox`: keep the aspect ratio, image at the top-left, `pad` elsewhere (YOLOX). `stretch`: fill the square (PicoDet). */
  fit: "letterbox" | "stretch";
  /** Channel order of the tensor planes. */
  order: "bgr" | "rgb";
  /** Per tensor channel: value = pixel·mul + add (pixel 0–255). */
  mul: readonly [number, number, number];
  add: readonly [number, number, number];
  /** Padding pixel value for letterbox, before mul/add. */
  pad: number;
}

/** How tensor pixels map back to frame pixels: frame = region origin + tensor · scale. */
export interface TensorMapping {
  region: Region;
  scaleX: number;
  scaleY: number;
}

export function tensorMapping(region: Region, layout: TensorLayout): TensorMapping & { width: number; height: number } {
  if (layout.fit === "stretch") return { region, scaleX: region.width / layout.size, scaleY: region.height / layout.size, width: layout.size, height: layout.size };
  const r = Math.min(layout.size / region.width, layout.size / region.height);
  const width = Math.min(layout.size, Math.round(region.width * r));
  const height = Math.min(layout.size, Math.round(region.height * r));
  // Boxes map back by dividing by r (MODEL.md), not by the rounded size ratio.
  return { region, scaleX: 1 / r, scaleY: 1 / r, width, height };
}

/** Source coordinate of output pixel `d` (pixel centres aligned, as INTER_LINEAR), clamped to [start, last]. */
function sourceCoordinate(d: number, scale: number, start: number, last: number): number {
  const v = (d + 0.5) * scale - 0.5 + start;
  return v < start ? start : v > last ? last : v;
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Fills `out` (length 3·size²) from `region` of `frame`. */
export function frameToTensor(frame: Frame, region: Region, layout: TensorLayout, out: Float32Array): TensorMapping {
  const { size } = layout;
  const plane = size * size;
  const map = tensorMapping(region, layout);
  const { width: nw, height: nh } = map;
  const { data, width: fw, height: fh } = frame;
  const cw = fw >> 1;
  const ch = fh >> 1;
  const uOffset = fw * fh;
  const vOffset = uOffset + cw * ch;
  const [m0, m1, m2] = layout.mul;
  const [a0, a1, a2] = layout.add;
  const bgr = layout.order === "bgr";
  const { y: yT, rv, gu, gv, bu } = YUV_TABLES;

  // Source coordinates per output column, computed once per call.
  const sxScale = region.width / nw;
  const x0s = new Int32Array(nw);
  const x1s = new Int32Array(nw);
  const wxs = new Float32Array(nw);
  const cxs = new Int32Array(nw);
  const xMax = region.x + region.width - 1;
  for (let dx = 0; dx < nw; dx++) {
    const sx = sourceCoordinate(dx, sxScale, region.x, xMax);
    const x0 = Math.floor(sx);
    x0s[dx] = x0;
    x1s[dx] = Math.min(x0 + 1, xMax);
    wxs[dx] = sx - x0;
    cxs[dx] = Math.min(cw - 1, Math.round(sx) >> 1);
  }
  const syScale = region.height / nh;
  const yMax = region.y + region.height - 1;
  for (let dy = 0; dy < nh; dy++) {
    const sy = sourceCoordinate(dy, syScale, region.y, yMax);
    const y0 = Math.floor(sy);
    const wy = sy - y0;
    const row0 = y0 * fw;
    const row1 = Math.min(y0 + 1, yMax) * fw;
    const crow = Math.min(ch - 1, Math.round(sy) >> 1) * cw;
    let o = dy * size;
    for (let dx = 0; dx < nw; dx++, o++) {
      const x0 = x0s[dx]!;
      const x1 = x1s[dx]!;
      const wx = wxs[dx]!;
      const top = data[row0 + x0]! + (data[row0 + x1]! - data[row0 + x0]!) * wx;
      const bottom = data[row1 + x0]! + (data[row1 + x1]! - data[row1 + x0]!) * wx;
      const luma = yT[Math.round(top + (bottom - top) * wy)]!;
      const cIndex = crow + cxs[dx]!;
      const u = data[uOffset + cIndex]!;
      const v = data[vOffset + cIndex]!;
      const r = clampByte(luma + rv[v]!);
      const g = clampByte(luma + gu[u]! + gv[v]!);
      const b = clampByte(luma + bu[u]!);
      out[o] = (bgr ? b : r) * m0 + a0;
      out[plane + o] = g * m1 + a1;
      out[2 * plane + o] = (bgr ? r : b) * m2 + a2;
    }
  }
  if (nw < size || nh < size) {
    const pads = [layout.pad * m0 + a0, layout.pad * m1 + a1, layout.pad * m2 + a2];
    for (let c = 0; c < 3; c++) {
      const base = c * plane;
      const value = pads[c]!;
      if (nw < size) for (let dy = 0; dy < nh; dy++) out.fill(value, base + dy * size + nw, base + (dy + 1) * size);
      out.fill(value, base + nh * size, base + plane);
    }
  }
  return map;
}
