import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSettings, type Camera, type CameraSettings } from "../../src/domain/camera.js";
import type { AlertEvent, PipelineEvent } from "../../src/domain/events.js";
import { createOnnxDetector, createPipeline, type Pipeline, type PipelineOptions } from "../../src/pipeline/index.js";
import { footage, MODELS_DIR, pipelineDecoders } from "../support/footage.js";
import { startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { tempDir } from "../support/tmp.js";
import { AWAY_NOW, OFF_NOW } from "../../src/domain/modes.js";

function camera(id: string, url: string, settings: Partial<CameraSettings> = {}, extra: Partial<Camera> = {}): Camera {
  return { id, name: id, url, armed: true, mutedUntil: null, settings: { ...defaultSettings(), ...settings }, ...extra };
}

/** Runs one clip through a replay pipeline and returns every event, with times in seconds into the clip. */
async function replay(file: string, settings: Partial<CameraSettings>, options: PipelineOptions = {}): Promise<{ events: PipelineEvent[]; t: (e: { at: number }) => number; pipeline: Pipeline }> {
  const start = 1_700_000_000_000;
  const pipeline = await createPipeline({ mode: "replay", now: () => start, ...options });
  const events: PipelineEvent[] = [];
  pipeline.subscribe((e) => events.push(e));
  try {
    pipeline.reconcile([camera("clip", footage(file), settings)], AWAY_NOW);
    await pipeline.ended("clip");
  } finally {
    await pipeline.stop();
  }
  return { events, t: (e) => (e.at - start) / 1000, pipeline };
}

const alertsOf = (events: PipelineEvent[]) => events.filter((e): e is AlertEvent => e.type === "alert");

describe("the pipeline on recorded footage (replay mode)", () => {
  it("emits motion start and end around the cars of the parking-lot clip, not for its exposure swings", async () => {
    const { events, t } = await replay("intel_car-detection.mp4", { classes: ["person"] });
    const motion = events.filter((e) => e.type === "motion");
    // Empty until the first car at ≈4.5 s; three cars, so at least three starts, each followed by an end.
    expect(t(motion[0]!)).toBeGreaterThanOrEqual(4.4);
    expect(t(motion[0]!)).toBeLessThan(5.2);
    expect(motion.filter((e) => e.state === "start").length).toBeGreaterThanOrEqual(3);
    motion.forEach((e, i) => expect(e.state).toBe(i % 2 === 0 ? "start" : "end"));
    expect(alertsOf(events)).toEqual([]);
  });

  it("falls back to motion-only alerts, marked as such, when the model is missing", async () => {
    const empty = await tempDir();
    const { events, pipeline } = await replay("wallflower_wavingtrees_10fps.mp4", {}, { modelsDir: empty });
    const status = events.find((e) => e.type === "detector-status");
    expect(status).toEqual({ type: "detector-status", ok: false, reason: `The detector model yolox-nano-416 is missing from ${empty}; run \`npm run models\` to install it.` });
    expect(pipeline.detectorStatus()).toMatchObject({ ok: false, model: "yolox-nano-416" });
    const alerts = alertsOf(events);
    // The swaying tree is motion: the user hears about it rather than nothing at all.
    expect(alerts.length).toBeGreaterThan(0);
    for (const alert of alerts) expect(alert).toMatchObject({ motionOnly: true, label: "motion" });
    expect((await sharp(alerts[0]!.snapshot).metadata()).format).toBe("jpeg");
  });

  it("falls back to motion-only alerts when the detector fails at run time, and says why", async () => {
    // A real onnxruntime error inside session.run: a 320x320 tensor for a 416x416 model.
    const broken = await createOnnxDetector({ path: path.join(MODELS_DIR, "yolox-nano-416.onnx"), format: "yolox", name: "yolox-nano-416", inputSize: 320 });
    const { events } = await replay("wallflower_wavingtrees_10fps.mp4", {}, { detector: broken });
    const status = events.filter((e) => e.type === "detector-status");
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ ok: false, reason: expect.stringMatching(/^the detector failed while running/) as string });
    const alerts = alertsOf(events);
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.every((a) => a.motionOnly && a.label === "motion")).toBe(true);
  });

  it("alerts with an annotated snapshot of the detection frame and every confirmed object", async () => {
    const { events, t } = await replay("wallflower_wavingtrees_10fps.mp4", { width: 160, height: 120 });
    const [alert, ...rest] = alertsOf(events);
    expect(rest).toEqual([]);
    expect(alert).toMatchObject({ label: "person", motionOnly: false, frameWidth: 160, frameHeight: 120, cameraName: "clip" });
    expect(t(alert!)).toBeGreaterThan(24.2);
    expect(alert!.objects.map((o) => o.label)).toContain("person");
    expect(alert!.startedAt).toBeLessThanOrEqual(alert!.at);
    expect(await sharp(alert!.snapshot).metadata()).toMatchObject({ format: "jpeg", width: 160, height: 120 });
  });
});

describe("the pipeline on live cameras", () => {
  let rtsp: RtspTestServer;
  let still: http.Server;
  let stillUrl = "";
  beforeAll(async () => {
    rtsp = await startRtspServer({ mounts: [{ name: "walk", clip: footage("opencv-vtest_480x360_10fps.mp4"), clipOptions: { width: 640, height: 360, fps: 10 } }] });
    const jpeg = await sharp({ create: { width: 1280, height: 720, channels: 3, background: { r: 20, g: 120, b: 20 } } }).jpeg().toBuffer();
    still = http.createServer((req, res) => (req.url === "/snap.jpg" ? res.writeHead(200, { "content-type": "image/jpeg" }).end(jpeg) : res.writeHead(404).end()));
    await new Promise<void>((resolve) => still.listen(0, "127.0.0.1", resolve));
    stillUrl = `http://127.0.0.1:${(still.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    await rtsp.close();
    await new Promise<void>((resolve) => still.close(() => resolve()));
  });

  it("alerts only from armed, unmuted cameras, while disarmed and muted ones keep their frames and snapshots", async () => {
    const pipeline = await createPipeline();
    const events: PipelineEvent[] = [];
    pipeline.subscribe((e) => events.push(e));
    const url = rtsp.url("walk");
    try {
      pipeline.reconcile([camera("armed", url), camera("disarmed", url, {}, { armed: false }), camera("muted", url, {}, { mutedUntil: Date.now() + 3_600_000 })], AWAY_NOW);
      await expect.poll(() => alertsOf(events).length, { timeout: 40_000 }).toBeGreaterThan(0);
      // Give the others as long again: they see the same people.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(new Set(alertsOf(events).map((a) => a.cameraId))).toEqual(new Set(["armed"]));
      for (const status of pipeline.status()) expect(status).toMatchObject({ state: "online", restarts: 0 });
      for (const status of pipeline.status()) expect(status.framesIn).toBeGreaterThan(5);
      const snapshot = await pipeline.snapshot("disarmed");
      expect(await sharp(snapshot.jpeg).metadata()).toMatchObject({ width: 640, height: 360 });
      // Arming in place: no restart, and the camera now alerts.
      pipeline.reconcile([camera("armed", url), camera("disarmed", url), camera("muted", url, {}, { mutedUntil: Date.now() + 3_600_000 })], AWAY_NOW);
      await expect.poll(() => alertsOf(events).some((a) => a.cameraId === "disarmed"), { timeout: 40_000 }).toBe(true);
      expect(pipeline.status().find((s) => s.cameraId === "disarmed")!.restarts).toBe(0);
      expect(alertsOf(events).some((a) => a.cameraId === "muted")).toBe(false);
    } finally {
      await pipeline.stop();
    }
    expect(await pipelineDecoders()).toEqual([]);
  });

  it("reports a camera offline after its debounce and back online when it returns", async () => {
    const pipeline = await createPipeline({ source: { stallTimeoutMs: 2000, backoff: { initialMs: 200, maxMs: 1000 } } });
    const events: PipelineEvent[] = [];
    pipeline.subscribe((e) => events.push(e));
    try {
      pipeline.reconcile([camera("porch", rtsp.url("walk"), { offlineAfter: 3 })], AWAY_NOW);
      await expect.poll(() => pipeline.status()[0]?.state, { timeout: 30_000 }).toBe("online");
      await rtsp.kill();
      await expect.poll(() => events.find((e) => e.type === "camera-offline"), { timeout: 30_000 }).toBeDefined();
      const offline = events.find((e) => e.type === "camera-offline")!;
      expect(offline).toMatchObject({ cameraName: "porch", reason: expect.stringMatching(/stream ended|refused the connection/) as string });
      expect(pipeline.status()[0]!.state).toBe("offline");
      await rtsp.restart();
      await expect.poll(() => events.find((e) => e.type === "camera-online"), { timeout: 30_000 }).toBeDefined();
      const online = events.find((e) => e.type === "camera-online");
      expect(online && online.type === "camera-online" && online.downtimeMs).toBeGreaterThanOrEqual(3000);
      expect(events.filter((e) => e.type === "camera-offline")).toHaveLength(1);
    } finally {
      await pipeline.stop();
    }
  });

  it("snapshots from the camera's high-resolution still URL when it has one, else from the detection frame", async () => {
    const pipeline = await createPipeline();
    try {
      pipeline.reconcile([camera("hi", rtsp.url("walk"), {}, { snapshotUrl: `${stillUrl}/snap.jpg` }), camera("broken", rtsp.url("walk"), {}, { snapshotUrl: `${stillUrl}/missing.jpg` })], OFF_NOW);
      await expect.poll(() => pipeline.status().every((s) => s.framesIn > 0), { timeout: 30_000 }).toBe(true);
      expect(await sharp((await pipeline.snapshot("hi")).jpeg).metadata()).toMatchObject({ width: 1280, height: 720 });
      expect(await sharp((await pipeline.snapshot("broken")).jpeg).metadata()).toMatchObject({ width: 640, height: 360 });
      await expect(pipeline.snapshot("nope")).rejects.toThrow("There is no running camera with id nope.");
    } finally {
      await pipeline.stop();
    }
  });

  it("restarts a camera whose stream settings change, applies other settings in place, and stops removed ones", async () => {
    const pipeline = await createPipeline();
    try {
      const url = rtsp.url("walk");
      pipeline.reconcile([camera("a", url), camera("b", url)], OFF_NOW);
      await expect.poll(() => pipeline.status().every((s) => s.framesIn > 3), { timeout: 30_000 }).toBe(true);
      const before = pipeline.status().find((s) => s.cameraId === "a")!.framesIn;
      pipeline.reconcile([camera("a", url, { sensitivity: 5000 }), camera("b", url, { fps: 2 })], OFF_NOW);
      // a kept its worker (frames keep counting up); b got a new one (counting from zero).
      expect(pipeline.status().find((s) => s.cameraId === "a")!.framesIn).toBeGreaterThanOrEqual(before);
      expect(pipeline.status().find((s) => s.cameraId === "b")!.framesIn).toBe(0);
      // A camera that cannot start (a relative path is no stream URL) is logged and skipped, the others run on.
      pipeline.reconcile([camera("a", url, { sensitivity: 5000 }), camera("bad", "relative/clip.mp4")], OFF_NOW);
      expect(pipeline.status().map((s) => s.cameraId)).toEqual(["a"]);
      await expect.poll(async () => (await pipelineDecoders()).length, { timeout: 10_000 }).toBe(1);
    } finally {
      await pipeline.stop();
    }
    expect(await pipelineDecoders()).toEqual([]);
  });
});
