/**
 * A decoded frame as every stage sees it. ffmpeg emits planar YUV 4:2:0 at the
 * detection size: motion reads the luma plane in place (no conversion at all on
 * the idle path), and colour is computed only where it is needed, for the
 * detector's crop or a snapshot. Measured in bench/pipeline.ts: this keeps an
 * idle camera close to the cost of ffmpeg alone.
 */

export interface Frame {
  width: number;
  height: number;
  /** yuv420p: Y (width·height), then U and V ((width/2)·(height/2) each). Never mutated once published. */
  data: Buffer;
  /** Epoch ms: arrival time for live cameras, clip start + video time in replay. */
  at: number;
  /** Frame number since the source started (0-based), across ffmpeg restarts. */
  seq: number;
  /** Between the regular frames of the camera's rate: delivered only during a burst (FrameSource.burst). */
  extra?: boolean;
}

/** A rectangle in frame pixels: x, y of the top-left corner, width, height. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function yuv420Size(width: number, height: number): number {
  return width * height + 2 * (width >> 1) * (height >> 1);
}

export function wholeFrame(frame: { width: number; height: number }): Region {
  return { x: 0, y: 0, width: frame.width, height: frame.height };
}

/**
 * BT.601 limited-range YUV → RGB, as ffmpeg's swscale does for untagged streams
 * (and so as the frames the models were checked on were produced). Tables keep
 * the per-pixel work to additions.
 */
const Y_TABLE = new Float32Array(256);
const RV_TABLE = new Float32Array(256);
const GU_TABLE = new Float32Array(256);
const GV_TABLE = new Float32Array(256);
const BU_TABLE = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  Y_TABLE[i] = 1.164383 * (i - 16);
  RV_TABLE[i] = 1.596027 * (i - 128);
  GU_TABLE[i] = -0.391762 * (i - 128);
  GV_TABLE[i] = -0.812968 * (i - 128);
  BU_TABLE[i] = 2.017232 * (i - 128);
}
export const YUV_TABLES = { y: Y_TABLE, rv: RV_TABLE, gu: GU_TABLE, gv: GV_TABLE, bu: BU_TABLE };

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** The whole frame as packed RGB bytes (for sharp: snapshots and probes). */
export function frameToRgb(frame: Frame): Buffer {
  const { width, height, data } = frame;
  const out = Buffer.allocUnsafe(width * height * 3);
  const cw = width >> 1;
  const uOffset = width * height;
  const vOffset = uOffset + cw * (height >> 1);
  let o = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const crow = (y >> 1) * cw;
    for (let x = 0; x < width; x++) {
      const yy = Y_TABLE[data[row + x]!]!;
      const u = data[uOffset + crow + (x >> 1)]!;
      const v = data[vOffset + crow + (x >> 1)]!;
      out[o++] = clampByte(yy + RV_TABLE[v]!);
      out[o++] = clampByte(yy + GU_TABLE[u]! + GV_TABLE[v]!);
      out[o++] = clampByte(yy + BU_TABLE[u]!);
    }
  }
  return out;
}
