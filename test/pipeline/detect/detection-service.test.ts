import fs from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import type { DetectorStatus } from "../../../src/domain/pipeline.js";
import { findModel, readManifest, type ModelEntry } from "../../../src/models.js";
import { createDetectionService, defaultDetectorThreads, type DetectionOutcome, type DetectionRequest } from "../../../src/pipeline/detect/detection-service.js";
import type { ObjectDetector } from "../../../src/pipeline/detect/object-detector.js";
import { createOnnxDetector, loadDetector } from "../../../src/pipeline/detect/onnx-detector.js";
import type { DetectionPriority } from "../../../src/pipeline/detect/schedule.js";
import { createWorkerDetector, detectorThreadsAlive } from "../../../src/pipeline/detect/worker-detector.js";
import { wholeFrame, type Frame } from "../../../src/pipeline/frame.js";
import { grabFrames, MODELS_DIR } from "../../support/footage.js";
import { tempDir } from "../../support/tmp.js";

let frame: Frame;
let frames: Frame[];
let entry: ModelEntry;
beforeAll(async () => {
  [frame] = (await grabFrames("opencv-vtest_480x360_10fps.mp4", 480, 360, { at: 46, count: 1 })) as [Frame];
  // People walking in and out, one frame every 5 s.
  frames = await grabFrames("opencv-vtest_480x360_10fps.mp4", 480, 360, { at: 10, fps: 0.2, count: 8 });
  entry = findModel(await readManifest());
});

const request = (cameraId: string, priority: DetectionPriority = "routine", f: Frame = frame): DetectionRequest => ({ cameraId, frame: f, regions: [wholeFrame(f)], minScore: 0.5, priority });
const load = () => loadDetector({ entry, modelsDir: MODELS_DIR });

/** A real detector whose runs are counted: how many are under way at once, and in what order they started (by frame seq). */
function observed(inner: ObjectDetector, counters: { inFlight: number; most: number }, started: number[] = []): ObjectDetector & { runs: number } {
  const detector = {
    model: inner.model,
    inputSize: inner.inputSize,
    runs: 0,
    async detect(f: Frame, options?: Parameters<ObjectDetector["detect"]>[1]) {
      started.push(f.seq);
      counters.inFlight++;
      counters.most = Math.max(counters.most, counters.inFlight);
      try {
        return await inner.detect(f, options);
      } finally {
        counters.inFlight--;
        detector.runs++;
      }
    },
    close: () => inner.close(),
  };
  return detector;
}

/** Cameras that each ask again the moment they are answered, until `until()` holds; every answer, per camera. */
async function busyCameras(service: { detect(r: DetectionRequest): Promise<DetectionOutcome> }, cameraIds: string[], until: () => boolean, timeoutMs = 30_000): Promise<DetectionOutcome[]> {
  const deadline = performance.now() + timeoutMs;
  const answers = await Promise.all(
    cameraIds.map(async (cameraId) => {
      const outcomes: DetectionOutcome[] = [];
      while (!until() && performance.now() < deadline) outcomes.push(await service.detect(request(cameraId)));
      return outcomes;
    }),
  );
  return answers.flat();
}

describe("the shared detection service", () => {
  it("serves cameras in turn and answers a camera's older waiting frame `superseded` when a newer one arrives; free only while nothing runs or waits", async () => {
    const service = await createDetectionService({ model: entry.name, load });
    try {
      expect(service.free()).toBe(true);
      const a = service.detect(request("front"));
      // Its one detector is running front's frame: a glance would wait, so it is not asked for.
      expect(service.free()).toBe(false);
      const b1 = service.detect(request("garden"));
      const b2 = service.detect(request("garden"));
      const [ra, rb1, rb2] = await Promise.all([a, b1, b2]);
      expect(service.free()).toBe(true);
      expect(ra.status).toBe("done");
      expect(rb1.status).toBe("superseded");
      expect(rb2.status).toBe("done");
      if (rb2.status === "done") expect(rb2.objects.filter((o) => o.label === "person")).toHaveLength(3);
      expect(service.stats()).toMatchObject({ runs: 2, superseded: 1, failures: 0 });
    } finally {
      await service.close();
    }
  });

  it("answers `unavailable` with the reason while the model is missing, and recovers once it is installed", async () => {
    const dir = await tempDir();
    const statuses: DetectorStatus[] = [];
    const service = await createDetectionService({ model: entry.name, load: () => loadDetector({ entry, modelsDir: dir }), size: 2, onStatus: (s) => statuses.push(s), retryAfterMs: 0 });
    try {
      expect(service.status()).toEqual({ ok: false, model: "yolox-nano-416", reason: `The detector model yolox-nano-416 is missing from ${dir}; run \`npm run models\` to install it.` });
      expect(await service.detect(request("front"))).toEqual({ status: "unavailable", reason: service.status().reason });
      expect(await service.detect(request("garden"))).toEqual({ status: "unavailable", reason: service.status().reason });
      // `npm run models` while Vigil runs: the next request after the retry delay reloads it.
      await fs.copyFile(path.join(MODELS_DIR, entry.file), path.join(dir, entry.file));
      await expect.poll(async () => (await service.detect(request("front"))).status, { timeout: 20_000 }).toBe("done");
      expect(statuses.map((s) => s.ok)).toEqual([false, true]);
    } finally {
      await service.close();
    }
  });

  it("turns a model that fails at run time into `unavailable` for every camera and one status change, instead of an exception", async () => {
    const statuses: DetectorStatus[] = [];
    let loads = 0;
    const service = await createDetectionService({
      model: "broken",
      // 320x320 fed to a 416x416 model: onnxruntime throws inside session.run, in every detector.
      load: async () => {
        loads++;
        return createOnnxDetector({ path: path.join(MODELS_DIR, entry.file), format: "yolox", name: "yolox-nano-416", inputSize: 320 });
      },
      size: 2,
      onStatus: (s) => statuses.push(s),
      retryAfterMs: 60_000,
    });
    try {
      const outcomes = await Promise.all([service.detect(request("front")), service.detect(request("garden"))]);
      expect(outcomes.map((o) => o.status)).toEqual(["unavailable", "unavailable"]);
      expect(service.status().ok).toBe(false);
      expect(service.status().reason).toMatch(/^the detector failed while running \(/);
      expect(outcomes).toEqual([
        { status: "unavailable", reason: service.status().reason },
        { status: "unavailable", reason: service.status().reason },
      ]);
      expect(statuses).toHaveLength(1);
      // A frame is blamed on the model only once it failed on a fresh detector too.
      expect(loads).toBeGreaterThanOrEqual(2);
      const { failures } = service.stats();
      expect(failures).toBeGreaterThanOrEqual(2);
      // Within the retry delay it does not even try: no pile-up of failing runs.
      expect((await service.detect(request("front"))).status).toBe("unavailable");
      expect(service.stats().failures).toBe(failures);
    } finally {
      await service.close();
    }
  });
});

describe("a pool of detectors", () => {
  it("answers the same detections as a single detector on the same frames, also from frames in shared memory, which it leaves as they were", async () => {
    // Whole frames and overlapping crops (whose objects are merged), one camera per frame, all asked at once.
    const requests = frames.map((f, i): DetectionRequest => ({ cameraId: `cam${i}`, frame: f, regions: i % 2 ? [wholeFrame(f)] : [{ x: 0, y: 0, width: 300, height: 300 }, { x: 180, y: 60, width: 300, height: 300 }], minScore: 0.3 }));
    // A live camera's frames are in shared memory, read by the detector's thread where they are.
    const inShared = (f: Frame): Frame => {
      const data = Buffer.from(new SharedArrayBuffer(f.data.length));
      f.data.copy(data);
      return { ...f, data };
    };
    const sharedRequests = requests.map((r) => ({ ...r, frame: inShared(r.frame) }));
    const single = await createDetectionService({ model: entry.name, load, size: 1 });
    const pool = await createDetectionService({ model: entry.name, load, size: 2 });
    try {
      const expected: DetectionOutcome[] = [];
      for (const r of requests) expected.push(await single.detect(r));
      const answered = await Promise.all(requests.map((r) => pool.detect(r)));
      const answeredShared = await Promise.all(sharedRequests.map((r) => pool.detect(r)));
      expect(expected.every((o) => o.status === "done")).toBe(true);
      expect(expected.some((o) => o.status === "done" && o.objects.some((obj) => obj.label === "person"))).toBe(true);
      expect(answered.map((o) => (o.status === "done" ? o.objects : o))).toEqual(expected.map((o) => (o.status === "done" ? o.objects : o)));
      expect(answeredShared.map((o) => (o.status === "done" ? o.objects : o))).toEqual(expected.map((o) => (o.status === "done" ? o.objects : o)));
      sharedRequests.forEach((r, i) => expect(r.frame.data.equals(requests[i]!.frame.data)).toBe(true));
      expect(pool.stats()).toMatchObject({ runs: requests.length * 2, superseded: 0, failures: 0 });
    } finally {
      await Promise.all([single.close(), pool.close()]);
    }
  });

  it("serves several cameras at once, up to its size, starting a second detector only when frames wait", async () => {
    const counters = { inFlight: 0, most: 0 };
    const service = await createDetectionService({ model: entry.name, load: async () => observed(await load(), counters), size: 2 });
    try {
      // One camera never needs a second detector: it has one frame at the detector at a time.
      for (const f of frames.slice(0, 3)) expect((await service.detect(request("front", "routine", f))).status).toBe("done");
      expect(service.stats().workers).toBe(1);
      expect(counters.most).toBe(1);
      const outcomes = await busyCameras(service, ["a", "b", "c", "d"], () => counters.most >= 2);
      expect(counters.most).toBe(2);
      expect(outcomes.length).toBeGreaterThan(0);
      expect(outcomes.every((o) => o.status === "done")).toBe(true);
      expect(service.stats().workers).toBe(2);
      // Four busy cameras, and never more runs at once than the pool's size.
      await busyCameras(service, ["a", "b", "c", "d"], () => service.stats().runs >= 40);
      expect(counters.most).toBe(2);
    } finally {
      await service.close();
    }
  });

  it("serves a frame that would confirm a visit before routine frames that came earlier, and a routine one's wait is bounded", async () => {
    for (const [maxRoutineWaitMs, order] of [
      [60_000, ["a", "d", "b", "c"]],
      // No wait allowed behind confirming frames: arrival order.
      [0, ["a", "b", "c", "d"]],
    ] as const) {
      const started: number[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const real = await load();
      // The first run blocks until released, so the others queue up behind it in a known state.
      const blocking: ObjectDetector = { model: real.model, inputSize: real.inputSize, detect: async (f, o) => (started.push(f.seq), await gate, real.detect(f, o)), close: () => real.close() };
      const service = await createDetectionService({ model: entry.name, load: () => Promise.resolve(blocking), size: 1, maxRoutineWaitMs });
      try {
        const ids = ["a", "b", "c", "d"];
        const tagged = (id: string): Frame => ({ ...frame, seq: ids.indexOf(id) });
        const first = service.detect(request("a", "routine", tagged("a")));
        await expect.poll(() => started.length).toBe(1);
        const queuedAt = performance.now();
        const rest = [service.detect(request("b", "routine", tagged("b"))), service.detect(request("c", "routine", tagged("c"))), service.detect(request("d", "confirm", tagged("d")))];
        await new Promise((resolve) => setTimeout(resolve, 150));
        const heldMs = performance.now() - queuedAt;
        release();
        const outcomes = await Promise.all([first, ...rest]);
        expect(outcomes.map((o) => o.status)).toEqual(["done", "done", "done", "done"]);
        expect(started.map((seq) => ids[seq]), `maxRoutineWaitMs ${maxRoutineWaitMs}`).toEqual(order);
        // Each answer says how long its camera waited in line and at which rank: the queued ones at least as long as the first run held the detector.
        const done = outcomes.map((o) => (o.status === "done" ? o : undefined));
        expect(done.map((o) => o?.priority)).toEqual(["routine", "routine", "routine", "confirm"]);
        expect(done[0]!.waitedMs).toBeLessThan(heldMs);
        for (const o of done.slice(1)) expect(o!.waitedMs).toBeGreaterThanOrEqual(heldMs - 1);
        // The one served last waited for the runs before it too.
        const last = ids[started.at(-1)!]!;
        expect(done[ids.indexOf(last)]!.waitedMs).toBeGreaterThan(done[ids.indexOf(order[1])]!.waitedMs);
      } finally {
        await service.close();
      }
    }
  });

  it("at a waiting frame's turn runs the camera's newer frame in its place, and the waiting one when the camera has none or cannot give it", async () => {
    const started: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const real = await load();
    const blocking: ObjectDetector = { model: real.model, inputSize: real.inputSize, detect: async (f, o) => (started.push(f.seq), await gate, real.detect(f, o)), close: () => real.close() };
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const service = await createDetectionService({ model: entry.name, load: () => Promise.resolve(blocking), size: 1, logger });
    try {
      // frames[0] is an empty pavement; frames[1] has people on it.
      const tagged = (f: Frame, seq: number): Frame => ({ ...f, seq });
      const renewals: string[] = [];
      const first = service.detect(request("front", "routine", tagged(frames[0]!, 1)));
      await expect.poll(() => started.length).toBe(1);
      const garden = service.detect({ ...request("garden", "routine", tagged(frames[0]!, 2)), renew: () => (renewals.push("garden"), request("garden", "routine", tagged(frames[1]!, 3))) });
      const gate2 = service.detect({ ...request("gate", "routine", tagged(frames[1]!, 4)), renew: () => (renewals.push("gate"), undefined) });
      const door = service.detect({
        ...request("door", "routine", tagged(frames[1]!, 5)),
        renew: () => {
          throw new Error("decoder gone");
        },
      });
      // Asked at the turn, not when the frame joined the line.
      expect(renewals).toEqual([]);
      release();
      const [, gardenOutcome, gateOutcome, doorOutcome] = await Promise.all([first, garden, gate2, door]);
      expect(started).toEqual([1, 3, 4, 5]);
      expect(renewals).toEqual(["garden", "gate"]);
      const people = (o: DetectionOutcome) => (o.status === "done" ? o.objects.filter((d) => d.label === "person").length : -1);
      expect(people(gardenOutcome)).toBeGreaterThan(0);
      expect(gateOutcome.status).toBe("done");
      expect(doorOutcome.status).toBe("done");
      expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(["a newer frame could not take a waiting one's turn; the waiting one runs"]);
    } finally {
      await service.close();
    }
  });

  it("lets a waiting camera take its newer frame before its turn, and that frame's priority: new motion moves it up the line", async () => {
    const started: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const real = await load();
    const blocking: ObjectDetector = { model: real.model, inputSize: real.inputSize, detect: async (f, o) => (started.push(f.seq), await gate, real.detect(f, o)), close: () => real.close() };
    const service = await createDetectionService({ model: entry.name, load: () => Promise.resolve(blocking), size: 1, maxRoutineWaitMs: 60_000 });
    try {
      const tagged = (seq: number): Frame => ({ ...frame, seq });
      const first = service.detect(request("front", "routine", tagged(1)));
      await expect.poll(() => started.length).toBe(1);
      // Three routine frames wait; then the garden's camera sees someone walk in where its tree never moved.
      const renewals: number[] = [];
      let newer: DetectionRequest | undefined;
      // As a camera's requests do, the newer one can be renewed in its turn.
      const renew = () => (renewals.push(newer?.frame.seq ?? 0), newer);
      const road = service.detect(request("road", "routine", tagged(2)));
      const garden = service.detect({ ...request("garden", "routine", tagged(3)), renew });
      const street = service.detect(request("street", "routine", tagged(4)));
      newer = { ...request("garden", "new", tagged(5)), renew };
      service.refresh("garden");
      // A camera with nothing waiting, or one whose frame is already running, is left alone.
      service.refresh("porch");
      service.refresh("front");
      expect(renewals).toEqual([5]);
      newer = undefined;
      release();
      const outcomes = await Promise.all([first, road, garden, street]);
      expect(outcomes.map((o) => o.status)).toEqual(["done", "done", "done", "done"]);
      // The garden's new frame ran first; asked again at its turn, it had nothing newer.
      expect(started).toEqual([1, 5, 2, 4]);
      expect(renewals).toEqual([5, 0]);
    } finally {
      await service.close();
    }
  });

  it("replaces a detector that throws, tries its frame again on another, and the others keep answering", async () => {
    const threadsBefore = detectorThreadsAlive();
    const statuses: DetectorStatus[] = [];
    const counters = { inFlight: 0, most: 0 };
    const loaded: (ObjectDetector & { runs: number })[] = [];
    const service = await createDetectionService({
      model: entry.name,
      // The second detector's worker thread throws on every run (a real onnxruntime error: 320x320 into a 416x416 model).
      load: async () => {
        const inner = loaded.length === 1 ? await createWorkerDetector({ path: path.join(MODELS_DIR, entry.file), format: "yolox", inputSize: 320 }) : await load();
        const detector = observed(inner, counters);
        loaded.push(detector);
        return detector;
      },
      size: 2,
      onStatus: (s) => statuses.push(s),
    });
    try {
      // Busy cameras until the detector that replaced the broken one has answered.
      const outcomes = await busyCameras(service, ["a", "b", "c", "d"], () => (loaded[2]?.runs ?? 0) > 0);
      expect(loaded).toHaveLength(3);
      expect(loaded[2]!.runs).toBeGreaterThan(0);
      expect(loaded[1]!.runs).toBe(1);
      // Every frame was answered, the failed one by another detector; the status never changed.
      expect(outcomes.every((o) => o.status === "done")).toBe(true);
      expect(statuses).toEqual([]);
      expect(service.status().ok).toBe(true);
      expect(service.stats()).toMatchObject({ failures: 1, workers: 2 });
      // Three threads were started: the broken one's has exited, two run.
      await expect.poll(() => detectorThreadsAlive()).toBe(threadsBefore + 2);
    } finally {
      await service.close();
    }
  });

  it("closes every detector: no worker thread is left, and what waited is told the pipeline is stopping", async () => {
    const threadsBefore = detectorThreadsAlive();
    const service = await createDetectionService({ model: entry.name, load, size: 2 });
    await busyCameras(service, ["a", "b", "c"], () => service.stats().workers === 2);
    expect(service.stats().workers).toBe(2);
    expect(detectorThreadsAlive()).toBe(threadsBefore + 2);
    // Three cameras ask at once: two are being served, one waits when the pool closes.
    const asked = ["a", "b", "c"].map((id) => service.detect(request(id)));
    await service.close();
    const outcomes = await Promise.all(asked);
    expect(outcomes.filter((o) => o.status === "done")).toHaveLength(2);
    expect(outcomes.filter((o) => o.status === "unavailable")).toEqual([{ status: "unavailable", reason: "the pipeline is stopping" }]);
    expect(service.stats().workers).toBe(0);
    expect(detectorThreadsAlive()).toBe(threadsBefore);
    expect(await service.detect(request("a"))).toEqual({ status: "unavailable", reason: "the pipeline is stopping" });
  });

  it("is sized one detector per core, at most 4", () => {
    expect([1, 2, 3, 4, 8, 64].map(defaultDetectorThreads)).toEqual([1, 2, 3, 4, 4, 4]);
  });
});
