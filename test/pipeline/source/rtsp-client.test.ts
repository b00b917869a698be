/**
 * Vigil's own RTSP client as the producer of a camera's H.264 feed, against
 * cameras of our own that misbehave as real ones do (test/support/fake-rtsp-camera.ts):
 * logins, keep-alives, audio, RTCP, redirects, a stream that changes size, a
 * camera that stops sending, and broken protocol of every kind. Each ends in a
 * sentence and a reconnect, never a crash, and the pictures decode. Then on the
 * real gst-rtsp-server: detection and recording of a camera on one session, and
 * an H.265 camera left to ffmpeg's RTSP input.
 */
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/log.js";
import { createCameraBuffer } from "../../../src/pipeline/record/camera-buffer.js";
import type { Frame } from "../../../src/pipeline/frame.js";
import { ACCESS_UNIT_DELIMITER } from "../../../src/pipeline/source/annexb.js";
import { feedProducers } from "../../../src/pipeline/source/feed-producers.js";
import { createFrameSource } from "../../../src/pipeline/source/frame-source.js";
import { createH264Feeds, type FeedSubscription, type H264Feeds } from "../../../src/pipeline/source/h264-feed.js";
import { FakeRtspCamera, makeH264Clip, type FakeCameraOptions, type H264Clip } from "../../support/fake-rtsp-camera.js";
import { childProcesses } from "../../support/process-info.js";
import { footage, startRtspServer, type RtspTestServer } from "../../support/rtsp-server.js";
import { pipeThrough } from "../../support/video.js";
import { until } from "../../support/wait.js";

const PASSWORD = "Cam-Secret-91q";

function logs() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } }) };
}

/** A feed consumer that keeps every byte it is given. */
function collect(subscription: FeedSubscription) {
  const chunks: Buffer[] = [];
  subscription.attach(new Writable({ write: (chunk: Buffer, _e, callback) => (chunks.push(chunk), callback()) }));
  return { chunks, bytes: () => Buffer.concat(chunks), pictures: () => chunks.length };
}

/** What ffmpeg decodes of a consumer's bytes, as grey frames at the clip's size. */
async function decode(bytes: Buffer, width: number, height: number): Promise<Buffer[]> {
  const whole = bytes.subarray(bytes.length - 6).equals(ACCESS_UNIT_DELIMITER) ? bytes.subarray(0, bytes.length - 6) : bytes;
  const raw = await pipeThrough("ffmpeg", ["-v", "error", "-f", "h264", "-i", "pipe:0", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"], whole);
  const size = width * height;
  return Array.from({ length: Math.floor(raw.length / size) }, (_, i) => raw.subarray(i * size, (i + 1) * size));
}

const mean = (frame: Buffer) => frame.reduce((sum, v) => sum + v, 0) / frame.length;

describe("Vigil's RTSP client against cameras that misbehave", () => {
  let dark: H264Clip;
  let bright: H264Clip;
  const cleanup: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    dark = await makeH264Clip(160, 120, 40);
    bright = await makeH264Clip(320, 240, 200);
  }, 60_000);
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function camera(options: Partial<FakeCameraOptions> = {}): Promise<FakeRtspCamera> {
    const started = await FakeRtspCamera.start({ clips: [dark], ...options });
    cleanup.push(() => started.close());
    return started;
  }

  function feeds(logger = createLogger({ level: "silent" }), rtsp: NonNullable<Parameters<typeof feedProducers>[0]>["rtsp"] = {}): H264Feeds {
    const registry = createH264Feeds({ producer: feedProducers({ logger, rtsp: { requestTimeoutMs: 2000, connectTimeoutMs: 2000, ...rtsp } }), logger, startTimeoutMs: 5000, stallTimeoutMs: 1500, backoff: { initialMs: 200, maxMs: 1000, quickMs: 300 } });
    cleanup.push(() => registry.stop());
    return registry;
  }

  it("logs in with Digest (with qop=auth and without) and Basic, and says a wrong password in one sentence, the password nowhere", async () => {
    const { lines, logger } = logs();
    for (const scheme of ["digest-qop", "digest", "basic"] as const) {
      const cam = await camera({ auth: { user: "admin", password: PASSWORD, scheme } });
      const subscription = feeds(logger).subscribe(cam.url(), { name: "test" });
      const sink = collect(subscription);
      await until(() => sink.pictures() >= 12, 20_000, `pictures through a ${scheme} login`);
      await subscription.close();
      const frames = await decode(sink.bytes(), 160, 120);
      expect(frames.length, scheme).toBeGreaterThanOrEqual(10);
      expect(Math.abs(mean(frames[0]!) - 40), scheme).toBeLessThan(15);
      expect(cam.connections, scheme).toBe(1);
      // Stopped: the camera is told, and the session ends at once.
      await until(() => cam.methods("TEARDOWN").length === 1 && cam.open === 0, 5000, "TEARDOWN");
      const digest = cam.methods("DESCRIBE").at(-1)!.headers.authorization!;
      expect(digest.startsWith(scheme === "basic" ? "Basic " : "Digest ")).toBe(true);
    }
    const cam = await camera({ auth: { user: "admin", password: PASSWORD, scheme: "digest-qop" } });
    const wrong = feeds(logger).subscribe(cam.url("cam", { user: "admin", password: "not-the-Pw-33" }), { name: "test" });
    collect(wrong);
    await until(() => wrong.status().lastError === "the camera refused the username or password", 20_000, "the refusal");
    expect(wrong.status().units).toBe(0);
    await wrong.close();
    const log = lines.join("\n");
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain("not-the-Pw-33");
    expect(log).toContain("admin:***@127.0.0.1");
  });

  it("keeps a session alive that the camera drops without keep-alives: GET_PARAMETER, or OPTIONS when the camera lists none", async () => {
    for (const getParameter of [true, false]) {
      const cam = await camera({ sessionTimeoutS: 2, dropWithoutKeepAlive: true, getParameter });
      const subscription = feeds().subscribe(cam.url(), { name: "test" });
      const sink = collect(subscription);
      // Three session timeouts' worth of pictures on one connection.
      await until(() => sink.pictures() >= 60, 30_000, "six seconds of pictures");
      await subscription.close();
      expect(cam.connections).toBe(1);
      const afterSetup = cam.requests.slice(cam.requests.findIndex((r) => r.method === "PLAY") + 1);
      const keepAlives = afterSetup.filter((r) => r.method === (getParameter ? "GET_PARAMETER" : "OPTIONS"));
      expect(keepAlives.length).toBeGreaterThanOrEqual(3);
      expect(keepAlives.every((r) => r.headers.session !== undefined)).toBe(true);
    }
  });

  it("reads only the video of a camera that lists audio first, sends RTCP between the pictures and its SPS and PPS only in the SDP, and answers with receiver reports", async () => {
    const cam = await camera({ audioFirst: true, senderReports: true, parameterSetsOnlyInSdp: true });
    const subscription = feeds(undefined, { receiverReportMs: 500 }).subscribe(cam.url(), { name: "test" });
    const sink = collect(subscription);
    await until(() => sink.pictures() >= 25 && cam.receiverReports >= 2, 20_000, "pictures and receiver reports");
    await subscription.close();
    const frames = await decode(sink.bytes(), 160, 120);
    expect(frames.length).toBeGreaterThanOrEqual(20);
    expect(cam.methods("SETUP").map((r) => r.uri)).toEqual([`rtsp://127.0.0.1:${cam.port}/cam/trackID=1`]);
  });

  it("follows up to 3 redirects, SETUPs an absolute control without Content-Base, and refuses a fourth redirect in a sentence", async () => {
    const cam = await camera({ redirects: 3, absoluteControl: true, contentBase: null, auth: { user: "admin", password: PASSWORD, scheme: "digest" } });
    const subscription = feeds().subscribe(cam.url(), { name: "test" });
    const sink = collect(subscription);
    await until(() => sink.pictures() >= 5, 20_000, "pictures after three redirects");
    await subscription.close();
    expect(cam.methods("SETUP").map((r) => r.uri)).toEqual([`rtsp://127.0.0.1:${cam.port}/hop3/video-abs`]);
    // Every hop is a connection of its own, and each asked for the login again.
    expect(cam.connections).toBe(4);

    const far = await camera({ redirects: 4 });
    const refused = feeds().subscribe(far.url(), { name: "test" });
    collect(refused);
    await until(() => refused.status().lastError === "the camera redirected more than 3 times", 20_000, "the refusal");
    await refused.close();
  });

  it("follows a camera that changes its picture size mid-stream: the decoder starts again at the new stream", async () => {
    const { lines, logger } = logs();
    const cam = await camera({ clips: [dark, bright] });
    const registry = feeds(logger);
    const source = createFrameSource({ camera: "porch", url: cam.url(), width: 160, height: 120, fps: 10, feeds: registry, logger, startTimeoutMs: 8000, stallTimeoutMs: 3000, backoff: { initialMs: 200, maxMs: 1000 }, graceMs: 500 });
    const frames: Frame[] = [];
    const controller = new AbortController();
    const reading = (async () => {
      for await (const frame of source.frames(controller.signal)) frames.push(frame);
    })();
    try {
      await until(() => frames.some((f) => mean(f.data.subarray(0, 160 * 120)) > 150) && frames.length > 10, 30_000, "frames of the bright stream");
      await until(() => frames.filter((f) => mean(f.data.subarray(0, 160 * 120)) > 150).length >= 10, 30_000, "ten of them");
    } finally {
      controller.abort();
      await reading;
    }
    const lumas = frames.map((f) => mean(f.data.subarray(0, 160 * 120)));
    const switched = lumas.findIndex((l) => l > 150);
    expect(lumas.slice(0, switched).every((l) => l < 80)).toBe(true);
    expect(lumas.slice(switched).every((l) => l > 150)).toBe(true);
    expect(lines.join("\n")).toContain("the camera changed its stream");
    // One session all along: a new decoder, not a new connection.
    expect(cam.connections).toBe(1);
  });

  it("reconnects to a camera that stops sending while its connection stays open", async () => {
    const cam = await camera({ silentAfterMs: 1500 });
    const subscription = feeds().subscribe(cam.url(), { name: "test" });
    const sink = collect(subscription);
    await until(() => subscription.status().lastError === "the camera stopped sending video", 20_000, "the watchdog");
    const before = sink.pictures();
    await until(() => sink.pictures() > before + 10, 20_000, "pictures from a new session");
    await subscription.close();
    expect(cam.connections).toBe(2);
  });

  it("says a camera that answers 503 is busy, not that its stream cannot be opened, and reads it once it answers", async () => {
    const { lines, logger } = logs();
    const cam = await camera({ busyFor: 2 });
    const subscription = feeds(logger).subscribe(cam.url(), { name: "test" });
    const sink = collect(subscription);
    await until(() => sink.pictures() >= 10, 20_000, "pictures once the camera answers");
    await subscription.close();
    expect(cam.busyAnswers).toBe(2);
    const log = lines.join("\n");
    expect(log).toContain("the camera is busy or still starting up (it answered 503 Service Unavailable)");
    expect(log).not.toContain("could not be opened");
  });

  const hostile: [NonNullable<FakeCameraOptions["hostile"]>, string][] = [
    ["endless-headers", "the camera's answer is not valid RTSP"],
    ["absurd-sdp", "the camera's answer is not valid RTSP"],
    ["endless-sdp", "the camera did not answer in time"],
  ];
  for (const [kind, sentence] of hostile) {
    it(`gives up on a camera that sends ${kind.replace("-", " ")} in one sentence, and tries again later`, async () => {
      const cam = await camera({ hostile: kind });
      const subscription = feeds().subscribe(cam.url(), { name: "test" });
      collect(subscription);
      await until(() => cam.connections >= 2, 30_000, "a second attempt");
      expect(subscription.status().lastError).toBe(sentence);
      await subscription.close();
      // It hung up instead of reading on: the camera got rid of little of what it meant to send.
      for (const bytes of cam.written.values()) expect(bytes).toBeLessThan(8 * 1024 * 1024);
    });
  }

  it("survives truncated packets and a flood of garbage of absurd lengths, and keeps the pictures coming", async () => {
    const truncated = await camera({ hostile: "truncated" });
    const cut = feeds().subscribe(truncated.url(), { name: "test" });
    const cutSink = collect(cut);
    await until(() => truncated.connections >= 2 && cutSink.pictures() > 20, 30_000, "pictures after the connection broke off");
    await cut.close();

    const garbage = await camera({ hostile: "garbage" });
    const flooded = feeds().subscribe(garbage.url(), { name: "test" });
    const sink = collect(flooded);
    await until(() => sink.pictures() >= 30, 30_000, "pictures through the garbage");
    await flooded.close();
    const frames = await decode(sink.bytes(), 160, 120);
    expect(frames.length).toBeGreaterThanOrEqual(20);
    // The dark clip, not the grey smears of a picture decoded from broken data.
    expect(frames.every((f) => mean(f) < 60)).toBe(true);
  });

  it("leaves an H.265 camera, and one with a login it does not speak, to ffmpeg's RTSP input, said once in the log", async () => {
    const { lines, logger } = logs();
    const hevc = await camera({ codec: "H265" });
    const registry = feeds(logger);
    for (let i = 0; i < 2; i++) {
      const subscription = registry.subscribe(hevc.url(), { name: "test" });
      await until(() => subscription.status().state === "fallback", 20_000, "the fallback");
      expect(subscription.status().lastError).toBe("the camera sends H.265 video, which Vigil's RTSP client does not read");
      await subscription.close();
    }
    // Asked once: the second feed knew.
    expect(hevc.methods("DESCRIBE")).toHaveLength(1);
    expect(lines.filter((l) => l.includes("read through ffmpeg's RTSP input"))).toHaveLength(1);

    const ntlm = await camera({ auth: { user: "admin", password: PASSWORD, scheme: "ntlm" } });
    const subscription = registry.subscribe(ntlm.url(), { name: "test" });
    await until(() => subscription.status().state === "fallback", 20_000, "the fallback");
    expect(subscription.status().lastError).toBe("the camera asks for a login Vigil's RTSP client does not speak (ntlm)");
    await subscription.close();
  });
});

describe("one RTSP session per camera, on gst-rtsp-server", () => {
  let server: RtspTestServer;
  const auth = { user: "admin", password: "Gst-Digest-Pw-5" };
  beforeAll(async () => {
    server = await startRtspServer({
      mounts: [
        { name: "h264", clip: footage("opencv-vtest_480x360_10fps.mp4"), clipOptions: { width: 640, height: 360, fps: 10 }, audio: true },
        { name: "h265", clip: footage("opencv-vtest_480x360_10fps.mp4"), clipOptions: { width: 320, height: 240, fps: 10, codec: "h265" } },
      ],
      auth,
      authMethod: "digest",
    });
  }, 180_000);
  afterAll(() => server.close());

  /** Detection (a frame source) and recording (a camera buffer) of one camera, through one registry as src/main.ts wires them. */
  function detectAndRecord(mount: string, logger: ReturnType<typeof createLogger>) {
    const registry = createH264Feeds({ producer: feedProducers({ logger }), logger, stallTimeoutMs: 2000, backoff: { initialMs: 200, maxMs: 1000 } });
    const url = server.url(mount);
    const source = createFrameSource({ camera: mount, url, width: 320, height: 180, fps: 5, feeds: registry, logger, startTimeoutMs: 10_000, backoff: { initialMs: 200, maxMs: 1000 }, graceMs: 500 });
    const buffer = createCameraBuffer({ cameraId: mount, cameraName: mount, url, secrets: [auth.password], transport: "tcp", ffmpegPath: "ffmpeg", logger, maxBytes: 16 * 1024 * 1024, feeds: registry, backoff: { initialMs: 200, maxMs: 1000 } });
    const frames: Frame[] = [];
    const controller = new AbortController();
    const reading = (async () => {
      for await (const frame of source.frames(controller.signal)) frames.push(frame);
    })();
    return {
      frames,
      buffer,
      async stop() {
        controller.abort();
        await reading;
        await buffer.stop();
        await registry.stop();
      },
    };
  }

  it("feeds detection and recording from one Digest-authenticated session of a camera with audio, through one ffmpeg with no password on its command line", async () => {
    const { lines, logger } = logs();
    const before = server.connectionsSeen;
    const camera = detectAndRecord("h264", logger);
    try {
      await until(() => camera.frames.length >= 10 && camera.buffer.status().state === "recording", 60_000, "frames and recording");
      await until(() => camera.buffer.status().bufferSeconds >= 2, 30_000, "two seconds in the ring");
      expect(server.connections).toBe(1);
      expect(server.connectionsSeen - before).toBe(1);
      // Vigil's one ffmpeg, the decoder: the recorder puts the same pictures into its ring itself (the
      // test server's feeders are children of this process too).
      const ffmpegs = (await childProcesses(process.pid)).filter((c) => c.name === "ffmpeg" && !c.argv.includes("-sdp_file"));
      expect(ffmpegs).toHaveLength(1);
      for (const child of ffmpegs) {
        expect(child.argv).toContain("pipe:0");
        expect(child.argv.join(" ")).not.toContain(auth.password);
        expect(child.argv.join(" ")).not.toContain("rtsp://");
      }
    } finally {
      await camera.stop();
    }
    // TEARDOWN and gone: the camera's session is free at once.
    await until(() => server.connections === 0, 10_000, "the session to close");
    expect(lines.join("\n")).not.toContain(auth.password);
  });

  it("reads an H.265 camera through ffmpeg's RTSP input, as before, said once in the log", async () => {
    const { lines, logger } = logs();
    const camera = detectAndRecord("h265", logger);
    try {
      await until(() => camera.frames.length >= 10 && camera.buffer.status().state === "recording", 60_000, "frames and recording through ffmpeg");
      // Detection and recording each open it, as they did before Vigil had its own client.
      await until(() => server.connections === 2, 20_000, "two sessions");
    } finally {
      await camera.stop();
    }
    expect(lines.filter((l) => l.includes("read through ffmpeg's RTSP input"))).toHaveLength(1);
    expect(lines.join("\n")).toContain("the camera sends H.265 video");
  });
});
