import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EventHistory, type HistoryEntry } from "../../src/store/event-history.js";
import { createStore } from "../../src/store/index.js";
import { createRetention, DiskFullError, planRetention } from "../../src/store/retention.js";
import type { Retention as Limits } from "../../src/store/store.js";
import { makeAlert } from "../support/alerts.js";
import { footage } from "../support/rtsp-server.js";
import { runInSmallFilesystem } from "../support/small-fs.js";
import { tempDir } from "../support/tmp.js";
import { jpegFrame, mp4Cut } from "../support/video.js";

const DAY = 24 * 3600_000;
const NOW = Date.parse("2024-06-01T12:00:00Z");
const NONE: Limits = { maxBytes: 0, maxAgeDays: 0, minFreeBytes: 0, perCameraBytes: {} };

/** History entries as they are stored: snapshot and clip sizes in bytes. */
function entry(id: string, cameraId: string, at: number, snapshot: number, clip?: number, clipBlob = `ev-${id}-c`): HistoryEntry {
  return {
    id, cameraId, cameraName: cameraId, label: "person", score: 0.9, box: [0, 0, 1, 1], objects: [], frameWidth: 640, frameHeight: 360, motionOnly: false, at, startedAt: at, counts: {},
    snapshot: { blob: `ev-${id}-s`, bytes: snapshot },
    ...(clip === undefined ? {} : { clip: { blob: clipBlob, bytes: clip, durationSeconds: 10, width: 640, height: 360 } }),
  };
}

describe("retention plan", () => {
  const events = [
    entry("a", "front", NOW - 40 * DAY, 100, 1000),
    entry("b", "garden", NOW - 20 * DAY, 100, 1000),
    entry("c", "front", NOW - 10 * DAY, 100, 1000),
    entry("d", "garden", NOW - 2 * DAY, 100, 1000),
    entry("e", "front", NOW - DAY, 100, 1000),
  ];

  it("removes events older than maxAgeDays", () => {
    expect(planRetention({ events, limits: { ...NONE, maxAgeDays: 15 }, now: NOW, freeBytes: 1e9 }).remove).toEqual([
      { id: "a", reason: "age" },
      { id: "b", reason: "age" },
    ]);
  });

  it("brings each camera under its own limit, oldest first, leaving other cameras alone", () => {
    const plan = planRetention({ events, limits: { ...NONE, perCameraBytes: { front: 2300 } }, now: NOW, freeBytes: 1e9 });
    expect(plan.remove).toEqual([{ id: "a", reason: "camera-limit" }]);
    expect(plan.freedBytes).toBe(1100);
  });

  it("brings the total under maxBytes, oldest first, whatever the camera", () => {
    expect(planRetention({ events, limits: { ...NONE, maxBytes: 3300 }, now: NOW, freeBytes: 1e9 }).remove.map((r) => r.id)).toEqual(["a", "b"]);
  });

  it("keeps the free-space floor even when the byte limits allow more, and says when it cannot", () => {
    const plan = planRetention({ events, limits: { ...NONE, maxBytes: 1e12, minFreeBytes: 5000 }, now: NOW, freeBytes: 2000, needBytes: 1000 });
    expect(plan.remove.map((r) => r.id)).toEqual(["a", "b", "c", "d"]);
    expect(plan.fits).toBe(true);
    const hopeless = planRetention({ events, limits: { ...NONE, minFreeBytes: 1e6 }, now: NOW, freeBytes: 0, protect: new Set(["e"]) });
    expect(hopeless.fits).toBe(false);
    expect(hopeless.remove.map((r) => r.id)).toEqual(["a", "b", "c", "d"]);
  });

  it("counts a clip shared by two alerts once, and frees it with the second", () => {
    const shared = [entry("x", "front", NOW - 3 * DAY, 100, 5000, "ev-shared"), entry("y", "front", NOW - 2 * DAY, 100, 5000, "ev-shared"), entry("z", "front", NOW - DAY, 100)];
    const plan = planRetention({ events: shared, limits: { ...NONE, maxBytes: 300 }, now: NOW, freeBytes: 1e9 });
    expect(plan.remove.map((r) => r.id)).toEqual(["x", "y"]);
    expect(plan.freedBytes).toBe(5200);
  });
});

describe("retention on real files", () => {
  let snapshot: Buffer;
  let clip: Buffer;
  beforeAll(async () => {
    snapshot = await jpegFrame(footage("opencv-vtest_480x360_10fps.mp4"), 5);
    clip = await mp4Cut(footage("opencv-vtest_480x360_10fps.mp4"), 5, 3);
  });

  it("deletes the oldest events and their files down to the byte limit, and reports disk use and the oldest event kept", async () => {
    const store = await createStore({ dataDir: path.join(await tempDir(), "data"), unlock: { passphrase: "correct horse battery" }, kdfProfile: "interactive", token: "" });
    const history = await EventHistory.open(store.vault);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const alert = makeAlert({ cameraId: "c1", at: NOW - (8 - i) * 3600_000, snapshot });
      ids.push(alert.id);
      await history.record(alert);
      await history.attachClip([alert.id], clip, { durationSeconds: 3, width: 480, height: 360 });
    }
    const perEvent = history.entries()[0]!.snapshot.bytes + history.entries()[0]!.clip!.bytes;
    let limits: Limits = { ...NONE, maxBytes: Math.floor(perEvent * 3.5) };
    const retention = createRetention({ history, dataDir: store.vault.dataDir, limits: () => limits, intervalMs: 3600_000, now: () => NOW });
    await retention.enforce(); // it also runs on its own when created
    expect(history.entries().map((e) => e.id)).toEqual(ids.slice(5));
    expect((await history.blobs.list()).length).toBe(6); // three snapshots, three clips
    const status = retention.status();
    expect(status.oldestEventAt).toBe(NOW - 3 * 3600_000);
    expect(status.usedBytes).toBeGreaterThan(3 * perEvent);
    expect(status.freeBytes).toBeGreaterThan(0);

    // An impossible floor: nothing may be written, and the sentence says why and what to do.
    limits = { ...NONE, minFreeBytes: 1e15 };
    await expect(retention.ensureRoom(1000, [])).rejects.toThrow(DiskFullError);
    await expect(retention.ensureRoom(1000, [])).rejects.toThrow(/^The data disk is too full to keep this recording: .* free, and Vigil always leaves .* free; free some space and recording resumes\.$/);
    await retention.stop();
  });

  it("holds the free-disk floor on a real 8 MB filesystem when the byte limit is set far above the disk", async () => {
    const floor = 2 * 1024 * 1024;
    const { code, result, stderr } = await runInSmallFilesystem<{ samples: { free: number; kept: number[] }[]; errors: number; totalBytes: number }>(8 * 1024 * 1024, "test/store/fixtures/retention-floor.ts", [String(floor), "40"]);
    expect(code, stderr).toBe(0);
    expect(result.totalBytes).toBe(8 * 1024 * 1024);
    expect(result.errors, stderr).toBe(0);
    result.samples.forEach((sample, i) => {
      expect(sample.free, `free space after event ${i}`).toBeGreaterThanOrEqual(floor);
      // Oldest first: what is kept is always the newest run of events, ending with the one just recorded.
      expect(sample.kept.at(-1)).toBe(i);
      expect(sample.kept).toEqual(sample.kept.map((_, k) => sample.kept[0]! + k));
    });
    // The disk, not the byte limit, decided: events were deleted.
    expect(result.samples.at(-1)!.kept[0]).toBeGreaterThan(0);
  });
});
