/**
 * The Raspberry Pi camera, end to end: `picam:0` through the rpicam-vid
 * stand-in (test/support/rpicam-vid.js, showing made footage of a man walking
 * in), the real pipeline with the real detector, and the real recorder, fed by
 * one registry of camera feeds as src/main.ts wires them.
 */
import { AWAY_NOW } from "../../src/domain/modes.js";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { defaultSettings, type Camera } from "../../src/domain/camera.js";
import type { AlertEvent, ClipReadyEvent, PipelineEvent } from "../../src/domain/events.js";
import { createLogger } from "../../src/log.js";
import { createPipeline } from "../../src/pipeline/index.js";
import { createRecorder } from "../../src/pipeline/record/index.js";
import { createH264Feeds } from "../../src/pipeline/source/h264-feed.js";
import { rpicamProducer } from "../../src/pipeline/source/rpicam.js";
import { EventHistory } from "../../src/store/event-history.js";
import { createStore, type Store } from "../../src/store/index.js";
import { repeatedVisits, type MadeClip } from "../support/made-footage.js";
import { logLines } from "../support/process-info.js";
import { installRpicamStandIn, type RpicamStandIn } from "../support/rpicam-stand-in.js";
import { tempDir } from "../support/tmp.js";
import { decodeGray, matchFrame, probeVideo } from "../support/video.js";
import { until } from "../support/wait.js";

const URL = "picam:0?width=320&height=240&fps=10";

function garden(settings: Partial<Camera["settings"]> = {}): Camera {
  return { id: "garden-id", name: "garden", url: URL, armed: true, mutedUntil: null, settings: { ...defaultSettings(), width: 320, height: 240, preRoll: 5, postRoll: 3, ...settings } };
}

function logs() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } }) };
}

describe("the Raspberry Pi camera (picam:0) through rpicam-vid", () => {
  let clip: MadeClip;
  let camera: RpicamStandIn;
  let store: Store;
  beforeAll(async () => {
    // The man walks in 8.2 s after rpicam-vid starts, and again 12 s after he has gone.
    clip = await repeatedVisits([12], 8);
    camera = await installRpicamStandIn(clip.file);
    store = await createStore({ dataDir: path.join(await tempDir(), "data"), unlock: { passphrase: "correct horse battery" }, kdfProfile: "interactive", token: "" });
  }, 120_000);
  afterAll(async () => {
    expect(await camera.alive()).toEqual([]);
  });

  it("alerts on the person, makes his clip from the same one rpicam-vid, and comes back after a stall and a crash", async () => {
    const { lines, logger } = logs();
    const feeds = createH264Feeds({ producer: rpicamProducer({ binary: camera.binary, logger }), logger, stallTimeoutMs: 2000, backoff: { initialMs: 300, maxMs: 1000 } });
    const pipeline = await createPipeline({ feeds, logger });
    const history = await EventHistory.open(store.vault);
    const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() }, feeds, logger, backoff: { initialMs: 300, maxMs: 1000 } });
    const events: PipelineEvent[] = [];
    const clips: ClipReadyEvent[] = [];
    pipeline.subscribe((event) => {
      events.push(event);
      recorder.handle(event);
    });
    recorder.subscribe((event) => clips.push(event));
    // However often it is restarted, never two rpicam-vid at once.
    let most = 0;
    const watch = setInterval(() => void camera.alive().then((alive) => (most = Math.max(most, alive.length))), 200);
    try {
      const cam = garden();
      pipeline.reconcile([cam], AWAY_NOW);
      recorder.reconcile([cam]);

      await until(() => events.some((e) => e.type === "alert"), 60_000, "the person's alert");
      const alert = events.find((e): e is AlertEvent => e.type === "alert")!;
      expect(alert).toMatchObject({ cameraName: "garden", label: "person", motionOnly: false });
      const [run] = await camera.runs();
      // When in the footage he was first seen: as he walked in.
      const seenAt = (alert.startedAt - run!.start!) / 1000;
      expect(seenAt).toBeGreaterThanOrEqual(clip.entries[0]! - 0.5);
      expect(seenAt).toBeLessThan(clip.entries[0]! + 1.5);

      await until(() => clips.some((c) => c.alertId === alert.id), 60_000, "the alert's clip");
      // Detection and recording both read the one rpicam-vid that started first.
      expect((await camera.runs()).filter((r) => r.start)).toHaveLength(1);
      const video = await recorder.eventClip(alert.id);
      expect(await probeVideo(video.mp4)).toMatchObject({ codec: "h264", width: 320, height: 240 });
      // It starts up to the pre-roll before he came in: the ring's times are the camera's.
      const reference = (await decodeGray(clip.file, 80, 60)).slice(0, Math.round((clip.entries[0]! + 2) * 10));
      const [first] = await decodeGray(video.mp4, 80, 60, 1);
      const startsAt = matchFrame(first!, reference) / 10;
      expect(startsAt).toBeLessThanOrEqual(clip.entries[0]!);
      expect(startsAt).toBeGreaterThanOrEqual(clip.entries[0]! - 5 - 1.5);
      expect(video.durationSeconds).toBeGreaterThan(5);

      // The sensor stalls: rpicam-vid is stopped, another started; detection and recording go on.
      const framesBefore = pipeline.status()[0]!.framesIn;
      await camera.command("stall");
      await until(() => (feeds.status().get(URL)?.restarts ?? 0) >= 1 && feeds.status().get(URL)?.state === "running", 30_000, "a new rpicam-vid after the stall");
      await until(() => pipeline.status()[0]!.framesIn > framesBefore + 20, 30_000, "frames after the stall");
      await until(() => recorder.status().cameras[0]?.state === "recording", 30_000, "recording after the stall");
      expect((await recorder.clip(cam.id, 2)).durationSeconds).toBeGreaterThan(1.5);
      expect(logLines(lines.join("\n")).some((l) => l.msg === "feed: the camera stopped sending video")).toBe(true);

      // rpicam-vid fails: the same.
      const framesThen = pipeline.status()[0]!.framesIn;
      await camera.command("exit");
      await until(() => (feeds.status().get(URL)?.restarts ?? 0) >= 2 && feeds.status().get(URL)?.state === "running", 30_000, "a new rpicam-vid after the failure");
      await until(() => pipeline.status()[0]!.framesIn > framesThen + 20, 30_000, "frames after the failure");
      expect((await recorder.clip(cam.id, 2)).durationSeconds).toBeGreaterThan(1.5);
      expect(logLines(lines.join("\n")).some((l) => l.msg === "feed: rpicam-vid failed: failed to queue request")).toBe(true);
      expect(pipeline.status()[0]).toMatchObject({ state: "online" });
      expect(pipeline.status()[0]!.lastError).toBeUndefined();
    } finally {
      await pipeline.stop();
      await recorder.stop();
      await feeds.stop();
      clearInterval(watch);
    }
    expect(most).toBe(1);
    expect(await camera.alive()).toEqual([]);
    expect((await camera.runs()).filter((r) => r.start)).toHaveLength(3);
  }, 240_000);

  it("says in one sentence, in the camera's status, its offline message and the log, that rpicam-vid is missing", async () => {
    const { lines, logger } = logs();
    vi.stubEnv("PATH", "/usr/bin:/bin");
    const feeds = createH264Feeds({ producer: rpicamProducer({ logger }), logger, backoff: { initialMs: 200, maxMs: 400 } });
    const pipeline = await createPipeline({ feeds, logger });
    const history = await EventHistory.open(store.vault);
    const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() }, feeds, logger });
    const events: PipelineEvent[] = [];
    pipeline.subscribe((event) => events.push(event));
    const sentence = "rpicam-vid is not installed; sudo apt install rpicam-apps installs it";
    try {
      const cam = garden({ offlineAfter: 5 });
      pipeline.reconcile([cam], AWAY_NOW);
      recorder.reconcile([cam]);
      await until(() => pipeline.status()[0]?.lastError === sentence, 10_000, "the camera's status");
      expect(recorder.status().cameras[0]).toMatchObject({ lastError: sentence });
      await until(() => events.some((e) => e.type === "camera-offline"), 30_000, "the offline message");
      expect(events.find((e) => e.type === "camera-offline")).toMatchObject({ cameraName: "garden", reason: sentence });
      // Said once in the log (its repeats go to debug), however often it is looked for again.
      const said = logLines(lines.join("\n")).filter((l) => l.msg === `feed: ${sentence}`);
      expect(said.filter((l) => (l as { level?: number }).level === 40)).toHaveLength(1);
      expect(said.length).toBeGreaterThan(3);
    } finally {
      await pipeline.stop();
      await recorder.stop();
      await feeds.stop();
    }
  }, 60_000);
});
