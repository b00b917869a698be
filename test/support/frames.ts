import { yuv420Size, type Frame } from "../../src/pipeline/frame.js";
import { seededRandom } from "./random.js";

/** A textured background (fixed per seed), the kind of scene motion detection sees. */
export function scene(width: number, height: number, seed = 1): Uint8Array {
  const random = seededRandom(seed);
  const luma = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const gradient = 60 + 80 * (x / width) + 30 * Math.sin(y / 17);
      luma[y * width + x] = Math.max(0, Math.min(255, Math.round(gradient + 25 * random())));
    }
  }
  return luma;
}

export interface Paint {
  /** Rectangles painted at a luma value: [x, y, w, h, luma]. */
  rects?: [number, number, number, number, number][];
  /** Multiply and add to every pixel (exposure, light switch). */
  gain?: number;
  offset?: number;
  /** Sensor noise amplitude (uniform ±). Default 3. */
  noise?: number;
}

/** A yuv420p frame: the scene, some rectangles, an exposure change and sensor noise. */
export function synthFrame(base: Uint8Array, width: number, height: number, at: number, seq: number, paint: Paint = {}, random = seededRandom(seq + 1000)): Frame {
  const data = Buffer.alloc(yuv420Size(width, height), 128);
  const noise = paint.noise ?? 3;
  const gain = paint.gain ?? 1;
  const offset = paint.offset ?? 0;
  const luma = Uint8Array.from(base);
  for (const [rx, ry, rw, rh, value] of paint.rects ?? []) {
    for (let y = Math.max(0, ry); y < Math.min(height, ry + rh); y++) luma.fill(value, y * width + Math.max(0, rx), y * width + Math.min(width, rx + rw));
  }
  for (let i = 0; i < width * height; i++) {
    data[i] = Math.max(0, Math.min(255, Math.round(luma[i]! * gain + offset + (random() * 2 - 1) * noise)));
  }
  return { width, height, data, at, seq };
}
