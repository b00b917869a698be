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
import { createCameraWorker, howFound } from "../../src/pipeline/camera-worker.js";
import { createDetectionService, type DetectionRequest, type DetectionService } from "../../src/pipeline/detect/detection-service.js";
import { loadDetector } from "../../src/pipeline/detect/onnx-detector.js";
import { DEFAULT_CONFIRMATION } from "../../src/pipeline/events/confirmation.js";
import { createH264Feeds } from "../../src/pipeline/source/h264-feed.js";
import { wholeFrame } from "../../src/pipeline/frame.js";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { ObjectDetector } from "../../src/pipeline/detect/object-detector.js";
import { footage, grabFrames, MODELS_DIR } from "../support/footage.js";
import { tempDir } from "../support/tmp.js";

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

/** A camera of `url` at 160x120 (and `fps`), armed and away, whose events land in `events`: replayed on video time, or live. */
function worker(id: string, url: string, detection: DetectionService, events: PipelineEvent[], mode: "replay" | "live", fps = defaultSettings().fps) {
  return createCameraWorker({
    camera: { id, name: id, url, armed: true, mutedUntil: null, settings: { ...defaultSettings(), width: 160, height: 120, fps } },
    inForce: AWAY_NOW,
    detection,
    emit: (e) => events.push(e),
    logger: silentLogger,
    now: mode === "replay" ? () => START : Date.now,
    ffmpegPath: "ffmpeg",
    mode,
    realtime: false,
    confirmation: DEFAULT_CONFIRMATION,
    feeds,
  });
}

describe("a camera's requests to the shared detector", () => {
  it("marks the frames where a man walks in past a swaying tree `new`, those that confirm him and clear the visit `confirm`, and the tree's `routine`", async () => {
    const asked: { t: number; priority: DetectionRequest["priority"]; person: boolean }[] = [];
    const events: PipelineEvent[] = [];
    const yard = worker(
      "yard",
      footage("wallflower_wavingtrees_10fps.mp4"),
      {
        ...service,
        async detect(request) {
          const outcome = await service.detect(request);
          asked.push({ t: request.frame.at - START, priority: request.priority, person: outcome.status === "done" && outcome.objects.some((o) => o.label === "person" && o.score >= 0.5) });
          return outcome;
        },
      },
      events,
      "replay",
    );
    await yard.done;

    // The swaying tree, then a man walks in at 24.2 s and out at 26 s: one visit.
    const alerts = events.filter((e): e is AlertEvent => e.type === "alert");
    const ends = events.filter((e): e is VisitEvent => e.type === "visit" && e.phase === "end");
    expect(alerts).toHaveLength(1);
    expect(ends).toHaveLength(1);
    const firstSighting = asked.findIndex((a) => a.person);
    expect(asked[firstSighting]!.t).toBeGreaterThanOrEqual(24_200);
    // Nobody was seen before that frame: nothing to confirm, however much the tree moved. Once the detector
    // has looked where the tree sways (its first seconds), the tree is routine; the man walking in is new motion.
    const before = asked.slice(0, firstSighting + 1);
    expect(before.filter((a) => a.priority === "confirm")).toEqual([]);
    expect(before.filter((a) => a.t >= 5000 && a.t < 24_200).every((a) => a.priority === "routine")).toBe(true);
    expect(asked[firstSighting]!.priority).toBe("new");
    // The next frame may confirm him, and does; the one that finds him gone ends the visit. Only those two go first.
    expect(asked[firstSighting + 1]!.priority).toBe("confirm");
    expect(asked.filter((a) => a.priority === "confirm").map((a) => a.t)).toEqual([alerts[0]!.at - START, ends[0]!.at - START]);
  });
});

describe("a live camera's frames in between, outside a burst", () => {
  it("have the detector look at the one the man walking in past the swaying tree is first seen in, and at none for the tree", async () => {
    // The wallflower garden slowed down to 2 fps from `from` (frame 227 is 1.5 s before the man comes in): a
    // camera analysed at 1 fps, whose frames in between (the odd ones) come 500 ms after each regular one,
    // time enough for any look on this busy machine, so which frames the detector sees does not depend on timing.
    const cut = async (from: number) => {
      const file = path.join(await tempDir(), `garden-${from}.mp4`);
      await promisify(execFile)("ffmpeg", ["-v", "error", "-i", footage("wallflower_wavingtrees_10fps.mp4"), "-vf", `select=gte(n\\,${from}),setpts=N/2/TB`, "-r", "2", "-frames:v", "30", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", file]);
      return file;
    };
    const looks = async (file: string, mode: "replay" | "live") => {
      const asked: { seq: number; extra: boolean; priority: DetectionRequest["priority"]; person: boolean }[] = [];
      const events: PipelineEvent[] = [];
      const detection: DetectionService = {
        ...service,
        async detect(request) {
          const outcome = await service.detect(request);
          const person = outcome.status === "done" && outcome.objects.some((o) => o.label === "person" && o.score >= 0.5);
          asked.push({ seq: request.frame.seq, extra: request.frame.extra === true, priority: request.priority, person });
          return outcome;
        },
      };
      // Replay looks at every frame (its rate is the clip's); live at 1 fps and, in between, at what it glances at.
      const garden = worker("garden", file, detection, events, mode, mode === "replay" ? 2 : 1);
      if (mode === "replay") await garden.done;
      else {
        try {
          await expect.poll(() => events.some((e) => e.type === "alert"), { timeout: 40_000, interval: 100 }).toBe(true);
        } finally {
          await garden.stop();
        }
      }
      return { asked, alert: events.find((e): e is AlertEvent => e.type === "alert") };
    };
    // The frame he is first found in when every frame is looked at; then a cut where that frame is one in between.
    const everyFrame = await looks(await cut(227), "replay");
    const first = everyFrame.asked.find((a) => a.person)!.seq;
    const from = first % 2 === 1 ? 227 : 228;
    const live = await looks(await cut(from), "live");
    const found = live.asked.findIndex((a) => a.person);
    const trail = JSON.stringify(live.asked);
    expect(live.asked[found], trail).toMatchObject({ seq: 227 + first - from, extra: true, priority: "new" });
    expect((227 + first - from) % 2, trail).toBe(1);
    // Before him, a frame in between was looked at only for new motion: never for the tree the detector already knew.
    expect(live.asked.slice(0, found).filter((a) => a.extra && a.priority !== "new"), trail).toEqual([]);
    expect(live.asked.slice(0, found).filter((a) => !a.extra).length, trail).toBeGreaterThan(live.asked.slice(0, found).filter((a) => a.extra).length);
    // The next frame confirmed him.
    expect(live.asked[found + 1], trail).toMatchObject({ seq: 227 + first - from + 1, priority: "confirm", person: true });
    expect(live.alert?.label).toBe("person");
  }, 90_000);
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
    const street = worker(
      "street",
      footage("opencv-vtest_480x360_10fps.mp4"),
      {
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
      events,
      "live",
    );
    try {
      await expect.poll(() => turns.length, { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(8);
    } finally {
      await street.stop();
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

  it("has the detector look at a man walking in past its swaying tree ahead of other cameras' frames that waited before his", async () => {
    // The tree sways for 7.2 s while the detector learns where, then the man walks in (frame 242 of the footage).
    const clip = path.join(await tempDir(), "garden.mp4");
    await promisify(execFile)("ffmpeg", ["-v", "error", "-ss", "17", "-i", footage("wallflower_wavingtrees_10fps.mp4"), "-an", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", clip]);
    const entrySeq = 72;
    // One detector, and 80 other cameras asking again the moment they are answered: a routine frame of this
    // camera waits behind all of theirs, more than a second, while it sends a frame every 200 ms.
    const entry = findModel(await readManifest());
    const [otherFrame] = await grabFrames("opencv-vtest_480x360_10fps.mp4", 160, 120, { at: 46, count: 1 });
    const looked: { seq: number; person: boolean }[] = [];
    const watched = async (): Promise<ObjectDetector> => {
      const real = await loadDetector({ entry, modelsDir: MODELS_DIR });
      return {
        ...real,
        async detect(f, o) {
          const found = await real.detect(f, o);
          // Frame numbers of the garden camera: 10 a second from the start of its clip.
          if (f !== otherFrame) looked.push({ seq: f.seq, person: found.some((d) => d.label === "person" && d.score >= 0.5) });
          return found;
        },
      };
    };
    const busy = await createDetectionService({ model: entry.name, load: watched, size: 1, maxRoutineWaitMs: 60_000 });
    let stop = false;
    const others = Array.from({ length: 80 }, async (_, i) => {
      while (!stop) await busy.detect({ cameraId: `other${i}`, frame: otherFrame!, regions: [wholeFrame(otherFrame!)], minScore: 0.5, priority: "routine" });
    });
    const events: PipelineEvent[] = [];
    const garden = worker("garden", clip, busy, events, "live");
    try {
      await expect.poll(() => events.some((e) => e.type === "alert"), { timeout: 30_000, interval: 100 }).toBe(true);
    } finally {
      await garden.stop();
      stop = true;
      await Promise.all(others);
      await busy.close();
    }
    const seqs = looked.map((l) => l.seq);
    // While only the tree moved, the camera's frames waited their turn: the detector saw few of them.
    expect(seqs.filter((seq) => seq < entrySeq).length, seqs.join(" ")).toBeLessThan(entrySeq / 4);
    // The frame the man first moved in was looked at when it came, and he was seen in the next one.
    expect(seqs.some((seq) => seq >= entrySeq && seq <= entrySeq + 2), seqs.join(" ")).toBe(true);
    expect(looked.find((l) => l.person)!.seq, seqs.join(" ")).toBeLessThanOrEqual(entrySeq + 5);
    expect(events.find((e): e is AlertEvent => e.type === "alert")!.label).toBe("person");
  }, 60_000);
});

describe("the looks an alert's log line shows", () => {
  it("are those from a second before the visitor was first seen to the alert's frame, as time before the alert, rank, wait and objects found", () => {
    const trail = [
      { at: 8_000, priority: "routine" as const, waitedMs: 300, found: 0 },
      { at: 9_200, priority: "new" as const, waitedMs: 140.4, found: 0 },
      { at: 9_400, priority: "routine" as const, waitedMs: 950.6, found: 1 },
      { at: 9_600, priority: "confirm" as const, waitedMs: 20, found: 1 },
      { at: 9_700, priority: "confirm" as const, waitedMs: 10, found: 1 },
      { at: 9_900, priority: "confirm" as const, waitedMs: 10, found: 1 },
    ];
    // First seen at 9.4 s, alerted on the frame of 9.7 s: the look before he was seen is there, the one after the alert is not.
    expect(howFound(trail, 9_400, 9_700)).toEqual([
      [-500, "new", 140, 0],
      [-300, "routine", 951, 1],
      [-100, "confirm", 20, 1],
      [0, "confirm", 10, 1],
    ]);
  });
});
