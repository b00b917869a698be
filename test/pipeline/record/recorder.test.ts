import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { defaultSettings, type Camera } from "../../../src/domain/camera.js";
import type { ClipReadyEvent, PipelineEvent } from "../../../src/domain/events.js";
import type { RecorderHandle } from "../../../src/domain/recorder.js";
import { createLogger } from "../../../src/log.js";
import { createRecorder } from "../../../src/pipeline/record/index.js";
import { EventHistory } from "../../../src/store/event-history.js";
import { createStore, type Store } from "../../../src/store/index.js";
import { makeAlert } from "../../support/alerts.js";
import { footage, startRtspServer, type RtspTestServer } from "../../support/rtsp-server.js";
import { filesContainingBytes, jpegStart, tempDir } from "../../support/tmp.js";
import { childProcesses, decodeGray, jpegFrame, matchFrame, probeVideo } from "../../support/video.js";
import { sleepUntil, until } from "../../support/wait.js";

const WALLFLOWER = footage("wallflower_wavingtrees_10fps.mp4");
const PASSWORD = "Rec-Passw0rd-77x";
/** The marker of the recorder's ffmpeg children (the RTSP test server's feeders do not have it). */
const RECORDER_FFMPEG = "dump_extra";

function camera(server: RtspTestServer, mount: string, fields: Partial<Camera> = {}): Camera {
  return { id: `id-${mount}`, name: `cam_${mount}`, url: server.url(mount, null), username: "admin", password: PASSWORD, armed: true, mutedUntil: null, settings: defaultSettings(), ...fields };
}

function logCollector(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } }) };
}

function clipReady(recorder: RecorderHandle, alertId: string): Promise<ClipReadyEvent> {
  return new Promise((resolve) => {
    const off = recorder.subscribe((event) => {
      if (event.alertId !== alertId) return;
      off();
      resolve(event);
    });
  });
}

describe("recorder on a real RTSP camera", () => {
  let server: RtspTestServer;
  let store: Store;
  let history: EventHistory;
  let person: Buffer;
  let reference: Buffer[];
  beforeAll(async () => {
    server = await startRtspServer({ mounts: [{ name: "cam1", clip: WALLFLOWER }, { name: "cam2", clip: WALLFLOWER }], auth: { user: "admin", password: PASSWORD } });
    store = await createStore({ dataDir: path.join(await tempDir(), "data"), unlock: { passphrase: "correct horse battery" }, kdfProfile: "interactive", token: "" });
    history = await EventHistory.open(store.vault);
    person = await jpegFrame(WALLFLOWER, 24.6);
    reference = await decodeGray(server.clip("cam1").file, 80, 60);
  }, 120_000);
  afterAll(() => server.close());

  it("turns a visit's alert into a clip from pre-roll before the person came in to post-roll after he left", async () => {
    const { lines, logger } = logCollector();
    const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() }, logger });
    try {
      const cam = camera(server, "cam1");
      recorder.reconcile([cam]);
      await until(() => recorder.status().cameras[0]?.state === "recording", 30_000, "the ring buffer to start");

      // The next time the person walks in, leaving time to buffer the pre-roll first.
      const entry = server.frameTimes("cam1", 24.2).find((t) => t > Date.now() + 7000)!;
      const confirmed = entry + 200;
      const left = entry + 1600; // gone by 25.8 s
      const send = (event: PipelineEvent) => recorder.handle(event);
      await sleepUntil(confirmed);
      const alert = makeAlert({ cameraId: cam.id, cameraName: cam.name, at: confirmed, startedAt: entry, snapshot: person });
      const ready = clipReady(recorder, alert.id);
      send(alert);
      // The pipeline says the visit has ended once he has been out of sight for a second.
      await sleepUntil(left + 1000);
      send({ type: "visit", phase: "end", reason: "left", id: alert.id, cameraId: cam.id, cameraName: cam.name, at: left + 1000, startedAt: entry, lastSeenAt: left, label: "person", counts: { person: 1 }, stationary: false, motionOnly: false });

      const event = await ready;
      const expected = 5 + 1.6 + 5;
      expect(event).toMatchObject({ type: "clip-ready", alertId: alert.id, cameraId: cam.id, cameraName: cam.name });
      expect(Math.abs(event.durationSeconds - expected)).toBeLessThan(1);

      const clip = await recorder.eventClip(alert.id);
      const info = await probeVideo(clip.mp4);
      expect(info).toMatchObject({ codec: "h264", width: 160, height: 120, indexFirst: true });
      expect(Math.abs(info.containerDuration - expected)).toBeLessThan(1);
      // Which moment of the footage the clip starts and ends on: the person walks in at 24.2 s.
      const frames = await decodeGray(clip.mp4, 80, 60);
      const firstT = matchFrame(frames[0]!, reference) / 10;
      const lastT = matchFrame(frames.at(-1)!, reference) / 10;
      expect(firstT).toBeLessThan(24.2);
      expect(firstT).toBeGreaterThan(24.2 - 5 - 1.5);
      expect(Math.abs(lastT - (25.8 + 5 - server.clip("cam1").duration))).toBeLessThan(1.5); // the loop wrapped

      expect(history.get(alert.id)).toMatchObject({ clip: { bytes: event.bytes }, startedAt: entry, endedAt: left, counts: { person: 1 } });
      // /events and /status see it.
      const picture = await recorder.events(3);
      expect(picture.events[0]).toMatchObject({ id: alert.id, cameraName: cam.name, label: "person", clip: { durationSeconds: event.durationSeconds } });
      expect(picture.jpeg.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]))).toBe(true);
      await expect(recorder.events(0)).rejects.toThrow("Ask for 1 to 16 events, for example /events 9.");
      await until(() => recorder.status().disk.usedBytes > event.bytes, 10_000, "disk use to be measured again after the write");
      const status = recorder.status();
      expect(status.disk.oldestEventAt).toBe(alert.at);
      expect(status.disk.paused).toBeUndefined();
      expect(status.cameras[0]).toMatchObject({ cameraName: cam.name, state: "recording" });
      // Bounded: about max(preRoll, maxClip - postRoll) plus slack, not everything since the start.
      expect(status.cameras[0]!.bufferSeconds).toBeLessThan(25 + 4 + 2);
      expect(await filesContainingBytes(store.vault.dataDir, jpegStart(person))).toEqual([]);
      expect(await filesContainingBytes(store.vault.dataDir, Buffer.from("ftyp"))).toEqual([]);
      expect(lines.join("\n")).not.toContain(PASSWORD);
    } finally {
      await recorder.stop();
    }
    expect(await childProcesses(RECORDER_FFMPEG)).toEqual([]);
  }, 150_000);

  it("makes an on-demand clip of the next seconds, and refuses bad lengths and unknown cameras in one sentence", async () => {
    const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() } });
    try {
      const cam = camera(server, "cam2");
      recorder.reconcile([cam]);
      await expect(recorder.clip(cam.id, 61)).rejects.toThrow("A clip is 1 to 60 whole seconds long.");
      await expect(recorder.clip("nope")).rejects.toThrow("That camera is not being recorded.");
      await until(() => recorder.status().cameras[0]?.state === "recording", 30_000, "the ring buffer to start");
      const requested = Date.now();
      const clip = await recorder.clip(cam.id, 4);
      const info = await probeVideo(clip.mp4);
      expect(info.codec).toBe("h264");
      // From the newest keyframe (one a second here) for 4 s.
      expect(info.duration).toBeGreaterThanOrEqual(3.9);
      expect(info.duration).toBeLessThan(5.5);
      const [first] = await decodeGray(clip.mp4, 80, 60, 1);
      const servedAt = (matchFrame(first!, reference) / 10) * 1000;
      const loops = server.loopStarts("cam2");
      const wall = Math.max(...loops.map((start) => start + servedAt).filter((t) => t <= Date.now()));
      expect(Math.abs(wall - requested)).toBeLessThan(2500);

      // A clip still being recorded when Vigil stops: stop waits for it, it says why there is none, and no ffmpeg is left.
      const late = recorder.clip(cam.id, 10);
      const outcome = late.then(() => "made", (error: Error) => error.message);
      await recorder.stop();
      expect(await outcome).toBe("Vigil is stopping; the clip was not made.");
      expect(await childProcesses(RECORDER_FFMPEG)).toEqual([]);
      expect(await childProcesses("-f mp4")).toEqual([]);
    } finally {
      await recorder.stop();
    }
  }, 90_000);
});

describe("recorder supervision", () => {
  let server: RtspTestServer;
  let store: Store;
  beforeAll(async () => {
    server = await startRtspServer({ mounts: [{ name: "cam1", clip: WALLFLOWER }], auth: { user: "admin", password: PASSWORD } });
    store = await createStore({ dataDir: path.join(await tempDir(), "data"), unlock: { passphrase: "correct horse battery" }, kdfProfile: "interactive", token: "" });
  }, 120_000);
  afterAll(() => server.close());

  // Over TCP the camera is read by Vigil's RTSP client and its pictures go into the ring in Node (no
  // ffmpeg of the recorder's); over UDP an ffmpeg of the recorder's reads the camera and copies it.
  for (const [transport, recorderFfmpegs] of [["tcp", 0], ["udp", 1]] as const) {
    it(`comes back after the camera's server dies and after a stall, over ${transport} with ${recorderFfmpegs} ffmpeg of its own, and leaves none behind`, async () => {
      const history = await EventHistory.open(store.vault);
      const { lines, logger } = logCollector();
      const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() }, logger, stallTimeoutMs: 3000, backoff: { initialMs: 500, maxMs: 1000 } });
      const cam = camera(server, "cam1", { settings: { ...defaultSettings(), transport } });
      try {
        recorder.reconcile([cam]);
        await until(() => recorder.status().cameras[0]?.state === "recording", 30_000, "recording");

        await server.kill();
        await until(() => recorder.status().cameras[0]?.state !== "recording", 30_000, "the recorder to notice the server died");
        await server.restart();
        await until(() => recorder.status().cameras[0]?.state === "recording", 30_000, "recording after the restart");
        expect((await recorder.clip(cam.id, 2)).durationSeconds).toBeGreaterThan(1.5);

        await server.stall("cam1");
        await until(() => recorder.status().cameras[0]?.lastError === "the camera stopped sending video", 30_000, "the watchdog");
        server.resume("cam1");
        await until(() => recorder.status().cameras[0]?.state === "recording", 30_000, "recording after the stall");
        expect((await recorder.clip(cam.id, 2)).durationSeconds).toBeGreaterThan(1.5);
        expect(recorder.status().cameras[0]!.restarts).toBeGreaterThanOrEqual(2);
        // However often it restarted, at most one ffmpeg at a time.
        expect((await childProcesses(RECORDER_FFMPEG)).length).toBe(recorderFfmpegs);
      } finally {
        await recorder.stop();
      }
      expect(await childProcesses(RECORDER_FFMPEG)).toEqual([]);
      expect(lines.join("\n")).not.toContain(PASSWORD);
    }, 150_000);
  }

  it("says the camera refused the password, without the password in the status or the log", async () => {
    const history = await EventHistory.open(store.vault);
    const { lines, logger } = logCollector();
    const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() }, logger, backoff: { initialMs: 500, maxMs: 500 } });
    const wrong = "Wr0ng-Secret-Pw";
    try {
      recorder.reconcile([camera(server, "cam1", { password: wrong })]);
      await until(() => recorder.status().cameras[0]?.lastError !== undefined, 30_000, "the failure");
      const status = recorder.status().cameras[0]!;
      expect(status.lastError).toBe("the camera refused the username or password");
      expect(status.state).not.toBe("recording");
      await expect(recorder.clip(status.cameraId, 5)).rejects.toThrow("cam_cam1 is not sending video right now (the camera refused the username or password); try again when it is back.");
    } finally {
      await recorder.stop();
    }
    expect(lines.join("\n")).not.toContain(wrong);
    expect(JSON.stringify(recorder.status())).not.toContain(wrong);
  }, 90_000);

  it("says so when ffmpeg is missing, instead of failing silently: at once where ffmpeg reads the camera, at the clip where Vigil does", async () => {
    const history = await EventHistory.open(store.vault);
    const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() }, ffmpegPath: "/nonexistent/ffmpeg", backoff: { initialMs: 500, maxMs: 500 } });
    try {
      const fed = camera(server, "cam1");
      const udp = camera(server, "cam1", { id: "id-udp", name: "cam_udp", settings: { ...defaultSettings(), transport: "udp" } });
      recorder.reconcile([fed, udp]);
      await until(() => recorder.status().cameras.find((c) => c.cameraId === udp.id)?.lastError !== undefined, 30_000, "the failure");
      const status = recorder.status().cameras.find((c) => c.cameraId === udp.id)!;
      expect(status.lastError).toBe("/nonexistent/ffmpeg is not installed");
      expect(status.state).not.toBe("recording");
      await until(() => recorder.status().cameras.find((c) => c.cameraId === fed.id)?.state === "recording", 30_000, "the fed camera recording");
      await expect(recorder.clip(fed.id, 1)).rejects.toThrow("ffmpeg failed joining the clip: /nonexistent/ffmpeg is not installed.");
    } finally {
      await recorder.stop();
    }
  }, 60_000);
});
