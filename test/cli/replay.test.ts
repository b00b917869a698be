import fs from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { parseSetting } from "../../src/domain/camera.js";
import { vigil } from "../support/cli.js";
import { footage } from "../support/footage.js";
import { tempDir } from "../support/tmp.js";

interface AlertLine {
  type: "alert";
  t: number;
  label: string;
  score: number;
  box: [number, number, number, number];
}
interface VisitLine {
  type: "visit";
  start: number;
  end: number;
  label: string;
  peak: number;
  counts: Record<string, number>;
  alert: number;
  /** Still there when the clip ended. */
  open?: true;
}
interface SummaryLine {
  type: "summary";
  frames: number;
  motionFrames: number;
  detectorRuns: number;
  alerts: number;
  visits: number;
  msPerFrame: number;
}

/** `vigil replay --json`: every stdout line is JSON; an alert when a visit starts, the visit when it ends, the summary last. */
async function replayJson(clip: string, ...options: string[]): Promise<{ alerts: AlertLine[]; visits: VisitLine[]; summary: SummaryLine }> {
  const result = await vigil(["replay", clip.startsWith("/") ? clip : footage(clip), "--json", ...options], {});
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as AlertLine | VisitLine | SummaryLine);
  const summary = lines.pop() as SummaryLine;
  expect(Object.keys(summary)).toEqual(["type", "frames", "motionFrames", "detectorRuns", "alerts", "visits", "msPerFrame"]);
  const alerts = lines.filter((l): l is AlertLine => l.type === "alert");
  const visits = lines.filter((l): l is VisitLine => l.type === "visit");
  for (const line of alerts) expect(Object.keys(line)).toEqual(["type", "t", "label", "score", "box"]);
  for (const line of visits) expect(Object.keys(line).slice(0, 7)).toEqual(["type", "start", "end", "label", "peak", "counts", "alert"]);
  expect(alerts.length + visits.length).toBe(lines.length);
  expect(summary.alerts).toBe(alerts.length);
  expect(summary.visits).toBe(visits.length);
  // One alert per visit, at the visit's alert time.
  expect(visits.map((v) => v.alert).sort((a, b) => a - b)).toEqual(alerts.map((a) => a.t));
  return { alerts, visits, summary };
}

describe("vigil replay on the footage", () => {
  it("wallflower: silent through 24 s of swaying tree, then exactly one person alert within 1 s of the person entering, and his visit", async () => {
    const { alerts, visits, summary } = await replayJson("wallflower_wavingtrees_10fps.mp4", "--classes", "person");
    expect(alerts).toHaveLength(1);
    // He is in view from 24.2 s and gone through the left edge by 26.0 s.
    expect(visits).toEqual([{ type: "visit", start: expect.closeTo(24.3, 0) as number, end: expect.closeTo(25.8, 0) as number, label: "person", peak: 1, counts: { person: 1 }, alert: alerts[0]!.t }]);
    expect(alerts[0]!.label).toBe("person");
    expect(alerts[0]!.t).toBeGreaterThan(24.2);
    expect(alerts[0]!.t).toBeLessThanOrEqual(25.2);
    expect(alerts[0]!.score).toBeGreaterThanOrEqual(0.5);
    // 28.7 s at 5 fps; the tree moves all the time, so nearly every frame has motion and goes to the detector.
    expect(summary.frames).toBe(144);
    expect(summary.motionFrames).toBeGreaterThan(100);
    expect(summary.detectorRuns).toBeGreaterThan(100);
  });

  it("road with trees and shadows: no person alert, and at least one car alert", async () => {
    expect((await replayJson("bgslibrary_video03_road-traffic-trees.avi", "--classes", "person")).alerts).toEqual([]);
    const cars = await replayJson("bgslibrary_video03_road-traffic-trees.avi", "--classes", "car");
    expect(cars.alerts.length).toBeGreaterThanOrEqual(1);
    expect(cars.alerts.every((a) => ["car", "truck", "bus"].includes(a.label))).toBe(true);
  });

  it("pedestrians: the first alert within 1 s of the start, and people who walk together are one visit that counts them", async () => {
    const { alerts, visits } = await replayJson("opencv-vtest_480x360_10fps.mp4", "--classes", "person");
    expect(alerts[0]!.t).toBeLessThanOrEqual(1.0);
    // 79.5 s with 3 to 10 people in view, coming and going: several visits, each alerted once.
    expect(visits.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...visits.map((v) => v.peak))).toBeGreaterThanOrEqual(2);
    // Those still in view when the clip ends are reported as such.
    expect(visits.some((v) => v.open === true && v.end >= 79)).toBe(true);
  });

  it("saves annotated snapshots and prints readable lines without --json", async () => {
    const dir = path.join(await tempDir(), "shots");
    const result = await vigil(["replay", footage("wallflower_wavingtrees_10fps.mp4"), "--snapshots", dir, "--size", "320x240"], {});
    expect(result.code, result.stderr).toBe(0);
    const files = await fs.readdir(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^0024\.\ds-person\.jpg$/);
    expect(await sharp(path.join(dir, files[0]!)).metadata()).toMatchObject({ format: "jpeg", width: 320, height: 240 });
    expect(result.stdout).toMatch(/^\s+24\.\d s {2}person 0\.\d\d {2}box \d+,\d+ \d+,\d+ {2}→ .*person\.jpg$/m);
    expect(result.stdout).toMatch(/^\s+24\.\d s {2}visit of 1 person until 2[56]\.\d s$/m);
    expect(result.stdout).toContain("wallflower_wavingtrees_10fps.mp4: 1 alert (1 visit) in 28.8 s of video (144 frames at 5 fps, 320x240");
  });
});

describe("vigil replay errors read like the chat's", () => {
  it("rejects bad option values with the same sentence as /set", async () => {
    for (const [flag, key, value] of [["--sensitivity", "sensitivity", "lots"], ["--classes", "classes", "unicorn"], ["--min-size", "minsize", "huge"], ["--size", "size", "640x361"], ["--score", "score", "2"]] as const) {
      const result = await vigil(["replay", footage("wallflower_wavingtrees_10fps.mp4"), flag, value], {});
      expect(result.code, flag).toBe(1);
      const expected = (() => {
        try {
          parseSetting(key, value);
          return "";
        } catch (error) {
          return (error as Error).message;
        }
      })();
      expect(result.stderr.trim(), flag).toBe(expected);
    }
  });

  it("says when the file is missing or not a video", async () => {
    const dir = await tempDir();
    const missing = await vigil(["replay", path.join(dir, "nope.mp4")], {});
    expect(missing.stderr.trim()).toBe(`There is no video file at ${path.join(dir, "nope.mp4")}.`);
    await fs.writeFile(path.join(dir, "notes.mp4"), "shopping list");
    const bogus = await vigil(["replay", path.join(dir, "notes.mp4")], {});
    expect(bogus.code).toBe(1);
    expect(bogus.stderr.trim()).toBe("notes.mp4 is not a video ffmpeg can read.");
  });

  it("says what to do when the temp folder, where ffmpeg hands over the frames, cannot be used", async () => {
    const missing = path.join(await tempDir(), "gone");
    // Compiled: tsx (which runs the sources) would create the folder for its own cache.
    const result = await vigil(["replay", footage("wallflower_wavingtrees_10fps.mp4"), "--json"], { TMPDIR: missing }, undefined, { compiled: true });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`Vigil cannot create a private folder in ${missing} for reading its cameras (ENOENT); set TMPDIR to a writable folder.`);
  });

  it("warns that alerts come from motion alone when the model is missing, and still reports them", async () => {
    const dir = await tempDir();
    const result = await vigil(["replay", footage("wallflower_wavingtrees_10fps.mp4"), "--json"], { VIGIL_MODELS_DIR: dir });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`The detector is unavailable (The detector model yolox-nano-416 is missing from ${dir}; run \`npm run models\` to install it.); alerts are from motion alone.`);
    const alerts = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; label?: string }).filter((l) => l.type === "alert");
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.every((a) => a.label === "motion")).toBe(true);
  });
});
