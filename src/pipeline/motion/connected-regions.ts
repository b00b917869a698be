/**
 * Connected regions of a binary mask, as bounding boxes. The mask is dilated by
 * `gap` pixels first so the pieces of one walker (head, legs, a gap where the
 * shirt matches the wall) come out as one region.
 */

export interface MaskRegion {
  /** Inclusive pixel bounds in mask coordinates: x1, y1, x2, y2. */
  box: [number, number, number, number];
  /** Set pixels of the original (undilated) mask inside the region. */
  pixels: number;
}

export interface RegionOptions {
  /** Dilation radius in mask pixels. Default 2. */
  gap?: number;
  /** Regions with fewer set pixels are noise. Default 3. */
  minPixels?: number;
}

function dilate(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius <= 0) return mask;
  // Separable: rows then columns, each a running "any set within radius".
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) {
      if (!mask[o + x]) continue;
      const from = Math.max(0, x - radius);
      const to = Math.min(width - 1, x + radius);
      rows.fill(1, o + from, o + to + 1);
    }
  }
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!rows[y * width + x]) continue;
      const from = Math.max(0, y - radius);
      const to = Math.min(height - 1, y + radius);
      for (let yy = from; yy <= to; yy++) out[yy * width + x] = 1;
    }
  }
  return out;
}

/** Largest regions first. */
export function connectedRegions(mask: Uint8Array, width: number, height: number, options: RegionOptions = {}): MaskRegion[] {
  const grown = dilate(mask, width, height, options.gap ?? 2);
  const minPixels = options.minPixels ?? 3;
  const labels = new Int32Array(mask.length);
  const stack = new Int32Array(mask.length);
  const regions: MaskRegion[] = [];
  let next = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!grown[start] || labels[start]) continue;
    next++;
    let top = 0;
    stack[top++] = start;
    labels[start] = next;
    let x1 = width, y1 = height, x2 = -1, y2 = -1, pixels = 0;
    while (top > 0) {
      const p = stack[--top]!;
      const x = p % width;
      const y = (p - x) / width;
      if (mask[p]) {
        pixels++;
        if (x < x1) x1 = x;
        if (x > x2) x2 = x;
        if (y < y1) y1 = y;
        if (y > y2) y2 = y;
      }
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (grown[q] && !labels[q]) {
            labels[q] = next;
            stack[top++] = q;
          }
        }
      }
    }
    // The box is of the original pixels: dilation joins pieces but does not grow the box.
    if (pixels >= minPixels) regions.push({ box: [x1, y1, x2, y2], pixels });
  }
  return regions.sort((a, b) => b.pixels - a.pixels);
}
