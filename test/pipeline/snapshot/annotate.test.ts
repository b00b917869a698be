import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { annotateFrame, annotateJpeg, escapeXml, localTime } from "../../../src/pipeline/snapshot/annotate.js";
import { scene, synthFrame } from "../../support/frames.js";

async function pixel(jpeg: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

const frame = synthFrame(scene(640, 360), 640, 360, new Date(2025, 10, 21, 14, 3, 7).getTime(), 0, { noise: 0 });
const person = { label: "person", score: 0.91, box: [200, 100, 260, 300] as [number, number, number, number] };

describe("annotated snapshots", () => {
  it("draws a red box for a person, a caption and a title bar with the camera name and local time", async () => {
    const jpeg = await annotateFrame(frame, { cameraName: "front_door", at: frame.at, objects: [person] });
    const meta = await sharp(jpeg).metadata();
    expect(meta).toMatchObject({ format: "jpeg", width: 640, height: 360 });
    // On the box's left edge (JPEG's chroma subsampling softens a 2-px line, hence the margins).
    const [r, g, b] = await pixel(jpeg, 200, 200);
    expect(r).toBeGreaterThan(150);
    expect(r - g).toBeGreaterThan(80);
    expect(r - b).toBeGreaterThan(80);
    // Text was rendered (needs a font): bright glyph pixels in the dark title bar.
    const { data, info } = await sharp(jpeg).extract({ left: 0, top: 0, width: 400, height: 14 }).greyscale().raw().toBuffer({ resolveWithObject: true });
    const bright = [...data].filter((v) => v > 200).length;
    expect(bright).toBeGreaterThan(50);
    expect(bright).toBeLessThan(info.width * info.height * 0.5);
    expect(localTime(frame.at)).toBe("2025-11-21 14:03:07");
  });

  it("accepts any camera name: <, & and quotes are escaped, not parsed", async () => {
    expect(escapeXml(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&apos;");
    const jpeg = await annotateFrame(frame, { cameraName: `<script>&"x'`, at: frame.at, objects: [{ ...person, label: "teddy bear" }] });
    expect((await sharp(jpeg).metadata()).width).toBe(640);
  });

  it("scales boxes from the detection frame onto a high-resolution still", async () => {
    const still = await sharp({ create: { width: 1280, height: 720, channels: 3, background: { r: 90, g: 90, b: 90 } } }).jpeg().toBuffer();
    const jpeg = await annotateJpeg(still, { cameraName: "garden", at: frame.at, objects: [person], boxSpace: { width: 640, height: 360 } });
    expect(await sharp(jpeg).metadata()).toMatchObject({ width: 1280, height: 720 });
    // The box's left edge lands at x = 400 on the still, not 200.
    const [r, g] = await pixel(jpeg, 401, 400);
    expect(r - g).toBeGreaterThan(80);
    const [r0, g0] = await pixel(jpeg, 201, 400);
    expect(Math.abs(r0 - g0)).toBeLessThan(10);
  });
});
