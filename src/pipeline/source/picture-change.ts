/**
 * Whether a camera's picture changed from the last one let through, coarsely:
 * the rule of `glance()` in vigil-decode.c, which applies it before a frame
 * crosses its socket, here for the frames an ffmpeg decodes. The luma plane as
 * 32x18 blocks, each the mean of the 4x4 pixels at its centre (sensor noise
 * averages out well below the threshold); it changed when 3 of them moved by
 * more than 20 levels. A person at the edge of a 640x360 picture covers a dozen.
 * Outside a confirmation, a frame in between is glanced at only when it changed
 * (frame-source.ts): a still camera costs no more than its regular frames.
 */
const COLS = 32;
const ROWS = 18;
const LEVELS = 20;
const BLOCKS = 3;

export interface PictureChange {
  /** Whether `luma` (the frame's first width x height bytes) differs from the last picture let through. */
  changed(luma: Uint8Array): boolean;
  /** `luma` is let through: later pictures are compared with it. */
  through(luma: Uint8Array): void;
}

export function createPictureChange(width: number, height: number): PictureChange {
  const now = new Uint8Array(COLS * ROWS);
  const seen = new Uint8Array(COLS * ROWS);
  let hasSeen = false;
  const usable = width >= 4 && height >= 4;

  function sample(luma: Uint8Array, out: Uint8Array): void {
    for (let r = 0; r < ROWS; r++) {
      const y = Math.min(Math.floor(((2 * r + 1) * height) / (2 * ROWS)), height - 2) - 2;
      for (let c = 0; c < COLS; c++) {
        const x = Math.min(Math.floor(((2 * c + 1) * width) / (2 * COLS)), width - 2) - 2;
        let sum = 0;
        for (let dy = 0; dy < 4; dy++) {
          const row = (y + dy) * width + x;
          sum += luma[row]! + luma[row + 1]! + luma[row + 2]! + luma[row + 3]!;
        }
        out[r * COLS + c] = (sum + 8) >> 4;
      }
    }
  }

  return {
    changed(luma) {
      if (!usable || !hasSeen) return false;
      sample(luma, now);
      let moved = 0;
      for (let i = 0; i < now.length; i++) if (Math.abs(now[i]! - seen[i]!) > LEVELS) moved++;
      return moved >= BLOCKS;
    },
    through(luma) {
      if (!usable) return;
      sample(luma, seen);
      hasSeen = true;
    },
  };
}
