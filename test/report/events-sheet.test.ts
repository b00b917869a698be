import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { COLORS, hourlyActivity, layoutSheet, renderEventsSheet, type Rect, type SheetEvent } from "../../src/report/events-sheet.js";
import { footage } from "../support/rtsp-server.js";
import { jpegFrame } from "../support/video.js";

const HOUR = 3600_000;
const NOW = Date.parse("2024-06-01T18:20:00Z");

/** Mean RGB of a rectangle of a decoded picture. */
async function meanColour(jpeg: Buffer, r: Rect): Promise<[number, number, number]> {
  const { data, info } = await sharp(jpeg).extract({ left: Math.round(r.x + 4), top: Math.round(r.y + 4), width: Math.round(r.w - 8), height: Math.round(r.h - 8) }).raw().toBuffer({ resolveWithObject: true });
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sum[c]! += data[i + c]!;
  const n = data.length / info.channels;
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

/** Mean absolute grey difference between a region of the sheet and a picture scaled into it the same way. */
async function difference(sheet: Buffer, r: Rect, picture: Buffer): Promise<number> {
  const size = { width: 64, height: 36 };
  const a = await sharp(sheet).extract({ left: r.x, top: r.y, width: r.w, height: r.h }).resize(size.width, size.height, { fit: "fill" }).greyscale().raw().toBuffer();
  const fitted = await sharp(picture).resize(r.w, r.h, { fit: "contain", background: COLORS.card }).png().toBuffer(); // sharp applies one resize per pipeline
  const b = await sharp(fitted).resize(size.width, size.height, { fit: "fill" }).greyscale().raw().toBuffer();
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

function hex(colour: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16)) as [number, number, number];
}

function near(actual: [number, number, number], expected: [number, number, number], tolerance = 12): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
}

describe("hourly activity", () => {
  it("counts alerts per camera in the 24 hours ending with the current one", () => {
    const cameras = [{ id: "a", name: "front" }, { id: "b", name: "garden" }];
    const events = [
      { cameraId: "a", cameraName: "front", at: NOW - 5 * 60_000 }, // this hour
      { cameraId: "a", cameraName: "front", at: NOW - 10 * 60_000 },
      { cameraId: "a", cameraName: "front", at: NOW - 3 * HOUR },
      { cameraId: "a", cameraName: "front", at: NOW - 30 * HOUR }, // too old
      { cameraId: "c", cameraName: "removed_cam", at: NOW - HOUR },
    ];
    const { from, rows } = hourlyActivity(events, cameras, NOW);
    expect(from).toBe(Date.parse("2024-05-31T19:00:00Z"));
    expect(rows.map((r) => r.cameraName)).toEqual(["front", "garden", "removed_cam"]);
    expect(rows[0]!.counts[23]).toBe(2);
    expect(rows[0]!.counts[20]).toBe(1);
    expect(rows[0]!.counts.reduce((a, b) => a + b)).toBe(3);
    expect(rows[1]!.counts.every((c) => c === 0)).toBe(true);
    expect(rows[2]!.counts[22]).toBe(1);
  });
});

describe("the /events picture", () => {
  let pictures: Buffer[];
  beforeAll(async () => {
    pictures = [await jpegFrame(footage("opencv-vtest_480x360_10fps.mp4"), 10), await jpegFrame(footage("intel_car-detection.mp4"), 6), await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25)];
  });

  it("shows each snapshot where it belongs, a placeholder for an unreadable one, and hot hours in colour", async () => {
    const events: SheetEvent[] = [
      { cameraId: "a", cameraName: "front_door", label: "person", counts: { person: 2 }, score: 0.91, at: NOW - 60_000, motionOnly: false, jpeg: pictures[0] },
      { cameraId: "b", cameraName: "driveway", label: "car", counts: {}, score: 0.7, at: NOW - 2 * HOUR, motionOnly: false, jpeg: pictures[1] },
      { cameraId: "a", cameraName: "front_door", label: "person", counts: {}, score: 0.8, at: NOW - 3 * HOUR, motionOnly: false, jpeg: undefined },
      { cameraId: "c", cameraName: "garden <&> \"tree\"", label: "motion", counts: {}, score: 0, at: NOW - 5 * HOUR, motionOnly: true, jpeg: pictures[2] },
    ];
    const history = [...events, ...Array.from({ length: 4 }, () => ({ cameraId: "a", cameraName: "front_door", at: NOW - 3 * HOUR }))];
    const { from, rows } = hourlyActivity(history, [{ id: "a", name: "front_door" }, { id: "b", name: "driveway" }, { id: "c", name: "garden" }], NOW);
    const jpeg = await renderEventsSheet({ events, activity: rows, activityFrom: from, now: NOW, timeZone: "Europe/London" });

    const meta = await sharp(jpeg).metadata();
    const layout = layoutSheet(events.length, rows.length);
    expect(meta).toMatchObject({ format: "jpeg", width: layout.width, height: layout.height });
    // Each snapshot is in its own card, in order (newest first); swapping any two would show.
    for (const [i, picture] of [[0, pictures[0]], [1, pictures[1]], [3, pictures[2]]] as const) {
      expect(await difference(jpeg, layout.pictures[i]!, picture!), `card ${i}`).toBeLessThan(12);
      expect(await difference(jpeg, layout.pictures[i]!, pictures[(pictures.indexOf(picture!) + 1) % 3]!), `card ${i} is not another picture`).toBeGreaterThan(20);
    }
    // The unreadable one is an empty card with a line of text, not a picture.
    const placeholder = await meanColour(jpeg, layout.pictures[2]!);
    expect(near(placeholder, hex(COLORS.card), 15)).toBe(true);

    // Activity: the busiest hour is the hot colour, a single alert the accent colour, nothing is the empty colour.
    const frontRow = rows.findIndex((r) => r.cameraName === "front_door");
    // The top of a cell, above the count written in it.
    const cellColour = (row: number, hour: number) => meanColour(jpeg, { ...layout.cell(row, hour), h: 12 });
    expect(near(await cellColour(frontRow, 20), hex(COLORS.hot), 20)).toBe(true); // 5 alerts 3 hours ago
    expect(near(await cellColour(frontRow, 23), hex(COLORS.accent), 20)).toBe(true); // 1 alert this hour
    expect(near(await cellColour(frontRow, 10), hex(COLORS.empty), 10)).toBe(true);
  });

  it("renders an empty history as a picture that says so, without failing", async () => {
    const { from, rows } = hourlyActivity([], [{ id: "a", name: "front_door" }], NOW);
    const jpeg = await renderEventsSheet({ events: [], activity: rows, activityFrom: from, now: NOW });
    expect((await sharp(jpeg).metadata()).format).toBe("jpeg");
  });
});
