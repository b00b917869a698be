/** Boxes and polygons shared by motion (masks), detection (crops, NMS) and alert rules (zones). */
import type { BoxXYXY } from "../domain/events.js";
import type { Polygon } from "../domain/camera.js";

export function boxArea(b: BoxXYXY): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

export function iou(a: BoxXYXY, b: BoxXYXY): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (boxArea(a) + boxArea(b) - inter);
}

export function clipBox(b: BoxXYXY, width: number, height: number): BoxXYXY {
  return [Math.min(Math.max(b[0], 0), width), Math.min(Math.max(b[1], 0), height), Math.min(Math.max(b[2], 0), width), Math.min(Math.max(b[3], 0), height)];
}

/** Even-odd ray casting; `x`, `y` and the polygon share one coordinate system. */
export function pointInPolygon(x: number, y: number, polygon: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Normalised polygons rasterised onto a width×height grid: 1 where a pixel's
 * centre is inside any polygon. Done once per settings change, so the per-frame
 * cost of a mask is one array lookup.
 */
export function rasterizePolygons(polygons: readonly Polygon[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const polygon of polygons) {
    for (let y = 0; y < height; y++) {
      const ny = (y + 0.5) / height;
      for (let x = 0; x < width; x++) {
        if (pointInPolygon((x + 0.5) / width, ny, polygon)) out[y * width + x] = 1;
      }
    }
  }
  return out;
}
