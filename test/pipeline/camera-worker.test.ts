/**
 * What a camera asks of the shared detector, on real footage with the real
 * detector (replay: video time, every frame at the camera's rate).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSettings } from "../../src/domain/camera.js";
import { AWAY_NOW } from "../../src/domain/modes.js";
import type { AlertEvent, PipelineEvent, VisitEvent } from "../../src/domain/events.js";
import { silentLogger } from "../../src/log.js";
import { findModel, readManifest } from "../../src/models.js";
import { createCameraWorker } from "../../src/pipeline/camera-worker.js";
import { createDetectionService, type DetectionRequest, type DetectionService } from "../../src/pipeline/detect/detection-service.js";
import { loadDetector } from "../../src/pipeline/detect/onnx-detector.js";
import { DEFAULT_CONFIRMATION } from "../../src/pipeline/events/confirmation.js";
import { createH264Feeds } from "../../src/pipeline/source/h264-feed.js";
import { wholeFrame } from "../../src/pipeline/frame.js";
import { footage, grabFrames, MODELS_DIR } from "../support/footage.js";

const START = 1_700_000_000_000;
let service: DetectionService;
beforeAll(async () => {
  const entry = findModel(await readManifest());
  service = await createDetectionService({ model: entry.name, load: () => loadDetector({ entry, modelsDir: MODELS_DIR }) });
});
// A file camera never uses a feed; the worker still needs the registry every camera is given.
const feeds = createH264Feeds({ producer: () => { throw new Error("no feed in this test"); } });
afterAll(async () => {
  await service.close();
  await feeds.stop();
});

describe("a camera's requests to the shared detector", () => {
  it("marks the frames that confirm a visitor and that clear the visit `confirm`, and every other frame `routine`", async () => {
    const asked: { t: number; priority: DetectionRequest["priority"]; person: boolean }[] = [];
    const events: PipelineEvent[] = [];
    const worker = createCameraWorker({
      camera: { id: "yard", name: "yard", url: footage("wallflower_wavingtrees_10fps.mp4"), armed: true, mutedUntil: null, settings: { ...defaultSettings(), width: 160, height: 120 } },
      inForce: AWAY_NOW,
      detection: {
        ...service,
        async detect(request) {
          const outcome = await service.detect(request);
          asked.push({ t: request.frame.at - START, priority: request.priority, person: outcome.status === "done" && outcome.objects.some((o) => o.label === "person" && o.score >= 0.5) });
          return outcome;
        },
      },
      emit: (e) => events.push(e),
      logger: silentLogger,
      now: () => START,
      ffmpegPath: "ffmpeg",
      mode: "replay",
      realtime: false,
      confirmation: DEFAULT_CONFIRMATION,
      feeds,
    });
    await worker.done;

    // The swaying tree, then a man walks in at 24.2 s and out at 26 s: one visit.
    const alerts = events.filter((e): e is AlertEvent => e.type === "alert");
    const ends = events.filter((e): e is VisitEvent => e.type === "visit" && e.phase === "end");
    expect(alerts).toHaveLength(1);
    expect(ends).toHaveLength(1);
    const firstSighting = asked.findIndex((a) => a.person);
    expect(asked[firstSighting]!.t).toBeGreaterThanOrEqual(24_200);
    // Nobody was seen before that frame: nothing to confirm, however much the tree moved.
    expect(asked.slice(0, firstSighting + 1).every((a) => a.priority === "routine")).toBe(true);
    // The next frame may confirm him, and does; the one that finds him gone ends the visit. Only those two go first.
    expect(asked[firstSighting + 1]!.priority).toBe("confirm");
    expect(asked.filter((a) => a.priority === "confirm").map((a) => a.t)).toEqual([alerts[0]!.at - START, ends[0]!.at - START]);
  });
});

describe("a live camera behind a busy detector", () => {
  it("has the detector look at its newest frame when its turn comes, not the one it had when it joined the line", async () => {
    // One detector, kept busy by another camera's frames that all go first; this camera's frames wait up
    // to 600 ms for their turn, while the camera sends one every 200 ms (5 fps, played in real time).
    const entry = findModel(await readManifest());
    const busy = await createDetectionService({ model: entry.name, load: () => loadDetector({ entry, modelsDir: MODELS_DIR }), size: 1, maxRoutineWaitMs: 600 });
    const [hogFrame] = await grabFrames("opencv-vtest_480x360_10fps.mp4", 160, 120, { at: 46, count: 1 });
    let stop = false;
    const hog = (async () => {
      while (!stop) await busy.detect({ cameraId: "hog", frame: hogFrame!, regions: [wholeFrame(hogFrame!)], minScore: 0.5, priority: "confirm" });
    })();
    const turns: { joined: number; ran: number }[] = [];
    const events: PipelineEvent[] = [];
    const worker = createCameraWorker({
      camera: { id: "street", name: "street", url: footage("opencv-vtest_480x360_10fps.mp4"), armed: true, mutedUntil: null, settings: { ...defaultSettings(), width: 160, height: 120 } },
      inForce: AWAY_NOW,
      detection: {
        ...busy,
        detect(request) {
          // The frame that joined the line, and the one that ran at its turn.
          const turn = { joined: request.frame.seq, ran: request.frame.seq };
          turns.push(turn);
          return busy.detect({
            ...request,
            renew: () => {
              const renewed = request.renew?.();
              if (renewed) turn.ran = renewed.frame.seq;
              return renewed;
            },
          });
        },
      },
      emit: (e) => events.push(e),
      logger: silentLogger,
      now: Date.now,
      ffmpegPath: "ffmpeg",
      mode: "live",
      realtime: false,
      confirmation: DEFAULT_CONFIRMATION,
      feeds,
    });
    try {
      await expect.poll(() => turns.length, { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(8);
    } finally {
      await worker.stop();
      stop = true;
      await hog;
      await busy.close();
    }
    // Nearly every turn ran a frame that came while it waited; frames are still decided in the order they came.
    const renewed = turns.filter((t) => t.ran > t.joined);
    expect(renewed.length, JSON.stringify(turns)).toBeGreaterThanOrEqual(turns.length / 2);
    const ran = turns.map((t) => t.ran);
    expect(ran).toEqual([...ran].sort((a, b) => a - b));
    expect(new Set(ran).size).toBe(ran.length);
    // Someone walking on that street is seen, from a frame the detector ran at its turn.
    expect(events.some((e) => e.type === "alert" && e.label === "person")).toBe(true);
  }, 60_000);
});
