import { describe, expect, it } from "vitest";
import type { BoxXYXY } from "../../../src/domain/events.js";
import { createLookMemory, LOOK_MEMORY_MS } from "../../../src/pipeline/motion/look-memory.js";

// 640x360: cells of 40x40.
const tree: BoxXYXY = [120, 0, 480, 300];
const gate: BoxXYXY = [560, 200, 640, 360];

describe("where a camera's motion is new", () => {
  it("calls motion new until the detector has looked there, and not after", () => {
    const memory = createLookMemory(640, 360);
    expect(memory.isNew([tree], 0)).toBe(true);
    memory.looked([tree], 0);
    expect(memory.isNew([tree], 200)).toBe(false);
    // A branch reaches one cell further than before: one fresh cell is not new motion.
    expect(memory.isNew([tree, [470, 0, 500, 30]], 400)).toBe(false);
    // Someone walks in by the gate, while the tree still sways.
    expect(memory.isNew([tree, gate], 400)).toBe(true);
    memory.looked([tree, gate], 400);
    expect(memory.isNew([tree, gate], 600)).toBe(false);
  });

  it("forgets a look after its memory, so motion where nothing moved for a while is new again", () => {
    const memory = createLookMemory(640, 360);
    memory.looked([gate], 0);
    memory.looked([tree], LOOK_MEMORY_MS);
    expect(memory.isNew([gate], LOOK_MEMORY_MS)).toBe(false);
    expect(memory.isNew([gate], LOOK_MEMORY_MS + 1)).toBe(true);
    expect(memory.isNew([tree], LOOK_MEMORY_MS + 1)).toBe(false);
  });

  it("counts a cell under overlapping boxes once, and places cells in proportion at any frame size", () => {
    const memory = createLookMemory(160, 90);
    // One 10x10 cell, in three overlapping boxes: one fresh cell, not three.
    expect(memory.isNew([[0, 0, 10, 10], [2, 2, 8, 8], [0, 0, 10, 10]], 0)).toBe(false);
    expect(memory.isNew([[0, 0, 20, 10]], 0)).toBe(true);
    // Boxes past the picture's edge are clipped to it.
    memory.looked([[150, 80, 400, 400]], 0);
    expect(memory.isNew([[150, 80, 160, 90], [140, 80, 150, 90]], 1)).toBe(false);
  });
});
