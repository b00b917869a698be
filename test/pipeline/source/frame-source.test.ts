import { execFile } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/log.js";
import type { Frame } from "../../../src/pipeline/frame.js";
import { feedProducers } from "../../../src/pipeline/source/feed-producers.js";
import { createFrameSource, regularFrames, type FrameSource, type FrameSourceOptions } from "../../../src/pipeline/source/frame-source.js";
import { createH264Feeds } from "../../../src/pipeline/source/h264-feed.js";
import { LEAN_DECODER } from "../../../src/pipeline/source/lean-decoder.js";
import { footage, grabFrames, pipelineDecoders } from "../../support/footage.js";
import { startRtspServer, type RtspTestServer } from "../../support/rtsp-server.js";
import { tempDir } from "../../support/tmp.js";

const run = promisify(execFile);

/** Reads a source in the background, optionally slowly; `stop` leaves the loop and waits for ffmpeg to be gone. */
function consume(source: FrameSource, delayMs = 0) {
  const frames: Frame[] = [];
  const controller = new AbortController();
  const done = (async () => {
    for await (const frame of source.frames(controller.signal)) {
      frames.push(frame);
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  })();
  return {
    frames,
    done,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

function captureLogs() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } }) };
}

/** A camera looking at a still scene: the first picture of `clip`, held for 4 s with sensor noise. */
async function stillClip(clip: string): Promise<string> {
  const file = path.join(await tempDir(), "still.mp4");
  await run("ffmpeg", ["-v", "error", "-y", "-i", clip, "-vf", "select=eq(n\\,0),loop=loop=-1:size=1,setpts=N/10/TB,noise=alls=4:allf=t", "-frames:v", "40", "-r", "10", "-c:v", "libx264", "-pix_fmt", "yuv420p", file]);
  return file;
}

const fast = { startTimeoutMs: 8000, stallTimeoutMs: 2000, backoff: { initialMs: 200, maxMs: 1000 }, graceMs: 500 } satisfies Partial<FrameSourceOptions>;

describe("frame source on files", () => {
  it("replays every frame of a clip, byte-identical to ffmpeg's own decode, stamped with video time", async () => {
    const source = createFrameSource({ camera: "replay", url: footage("wallflower_wavingtrees_10fps.mp4"), width: 160, height: 120, fps: 5, replay: true, now: () => 1_000_000 });
    const reader = consume(source, 0);
    await reader.done;
    expect(reader.frames).toHaveLength(144); // 28.7 s at 5 fps
    expect(reader.frames.map((f) => f.at).slice(0, 3)).toEqual([1_000_000, 1_000_200, 1_000_400]);
    expect(reader.frames[121]!.at).toBe(1_000_000 + 24_200);
    const reference = await grabFrames("wallflower_wavingtrees_10fps.mp4", 160, 120, { fps: 5 });
    for (const i of [0, 60, 121, 143]) expect(reader.frames[i]!.data.equals(reference[i]!.data), `frame ${i}`).toBe(true);
    expect(source.status()).toMatchObject({ state: "ended", framesIn: 144, framesDropped: 0, restarts: 0 });
  });

  it("takes a frame's buffer back for the next frames, and never touches a frame the consumer kept", async () => {
    const source = createFrameSource({ camera: "recycle", url: footage("wallflower_wavingtrees_10fps.mp4"), width: 160, height: 120, fps: 5, replay: true, now: () => 1_000_000 });
    const kept: Frame[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const frame of source.frames()) {
      buffers.add(frame.data.buffer);
      // Every fourth frame is kept (as for a detector run or an alert); the others are done with at once.
      if (frame.seq % 4 === 0) kept.push(frame);
      else source.recycle(frame.data);
    }
    const reference = await grabFrames("wallflower_wavingtrees_10fps.mp4", 160, 120, { fps: 5 });
    expect(kept).toHaveLength(36);
    for (const frame of kept) expect(frame.data.equals(reference[frame.seq]!.data), `frame ${frame.seq}`).toBe(true);
    // 144 frames in 36 kept buffers and a few that went round.
    expect(buffers.size).toBeLessThanOrEqual(36 + 3);
  });

  it("keeps only the newest frame for a slow consumer, counting the dropped ones", async () => {
    const source = createFrameSource({ camera: "slow", url: footage("opencv-vtest_480x360_10fps.mp4"), width: 320, height: 240, fps: 10, realtimeFile: true, ...fast });
    const reader = consume(source, 600);
    await expect.poll(() => reader.frames.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
    await reader.stop();
    expect(source.status().framesDropped).toBeGreaterThan(0);
    // What the consumer got skips ahead: it never fell behind by more than one frame.
    const seqs = reader.frames.map((f) => f.seq);
    expect(seqs.slice(1).some((s, i) => s - seqs[i]! > 1)).toBe(true);
    expect(await pipelineDecoders()).toEqual([]);
  });

  it("delivers the frames in between, marked extra, to a consumer waiting for one, and to a busy one only during a burst", async () => {
    // A live camera at 10 fps, analysed at 5, decoded at 10; ffmpeg sends every frame in between.
    const options = { url: footage("opencv-vtest_480x360_10fps.mp4"), width: 320, height: 240, fps: 5, burstFps: 10, realtimeFile: true, ...fast } as const;
    const waiting = consume(createFrameSource({ camera: "waiting", ...options }));
    const busySource = createFrameSource({ camera: "busy", ...options });
    // 150 ms a frame: free again before each regular frame, never before the one in between.
    const busy = consume(busySource, 150);
    await expect.poll(() => busy.frames.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(10);
    const before = busy.frames.length;
    busySource.burst(true);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    busySource.burst(false);
    await Promise.all([waiting.stop(), busy.stop()]);
    // Outside a burst: the consumer that waits gets them (10 a second), the busy one only the regular frames, none lost.
    expect(waiting.frames.filter((f) => f.extra).length).toBeGreaterThanOrEqual(waiting.frames.length / 3);
    expect(busy.frames.slice(0, before).filter((f) => f.extra)).toEqual([]);
    // During the burst, the busy one gets frames in between too.
    expect(busy.frames.slice(before).filter((f) => f.extra).length).toBeGreaterThanOrEqual(2);
  });

  it("finds the regular frames of a rate by their times, as the rate filter does", () => {
    const at5of10 = regularFrames(5);
    // 10 fps with arrival jitter: every other frame.
    expect([0, 104, 197, 301, 399, 502, 598].map(at5of10)).toEqual([true, false, true, false, true, false, true]);
    // 12.5 fps: 5 a second on average.
    const at5of12 = regularFrames(5);
    expect(Array.from({ length: 25 }, (_, i) => at5of12(i * 80)).filter(Boolean)).toHaveLength(10);
    // A gap restarts the grid at the next frame.
    const gap = regularFrames(5);
    expect([0, 100, 5000, 5100, 5200].map(gap)).toEqual([true, false, true, false, true]);
  });

  it("respawns after ffmpeg exits with code 0 (a file that ends), and frames keep coming", async () => {
    const dir = await tempDir();
    const clip = path.join(dir, "one-second.mp4");
    await run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1", "-pix_fmt", "yuv420p", clip]);
    const { lines, logger } = captureLogs();
    const source = createFrameSource({ camera: "looping", url: clip, width: 320, height: 240, fps: 10, realtimeFile: "once", logger, ...fast });
    const reader = consume(source);
    await expect.poll(() => source.status().restarts, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => reader.frames.length, { timeout: 20_000 }).toBeGreaterThan(25);
    await reader.stop();
    expect(lines.some((l) => l.includes("camera stream: the stream ended"))).toBe(true);
    expect(await pipelineDecoders()).toEqual([]);
  });

  it("rejects a replay of something that is not a video with a sentence", async () => {
    const dir = await tempDir();
    const bogus = path.join(dir, "notes.mp4");
    await (await import("node:fs/promises")).writeFile(bogus, "not a video");
    const source = createFrameSource({ camera: "notes", url: bogus, width: 160, height: 120, fps: 5, replay: true });
    await expect(consume(source).done).rejects.toThrow("Could not read notes: it is not a video ffmpeg can read.");
  });
});

describe("frame source without ffmpeg", () => {
  it("keeps retrying and says ffmpeg is missing, instead of crashing the process", async () => {
    const source = createFrameSource({ camera: "cam1", url: footage("wallflower_wavingtrees_10fps.mp4"), width: 160, height: 120, fps: 5, ffmpegPath: "/nonexistent/ffmpeg", backoff: { initialMs: 100, maxMs: 100 } });
    const reader = consume(source);
    const deadline = Date.now() + 10_000;
    while (source.status().restarts < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await reader.stop();
    expect(source.status().restarts).toBeGreaterThanOrEqual(2);
    expect(source.status().lastError).toBe("ffmpeg could not be started (spawn /nonexistent/ffmpeg ENOENT)");
    expect(reader.frames).toHaveLength(0);
  });
});

describe("frame source on a local video device (V4L2)", () => {
  // No camera is attached to the build machine: what a user sees when theirs is unplugged.
  it("says there is no camera at the device path, and keeps trying", async () => {
    const source = createFrameSource({ camera: "usb", url: "/dev/video9", width: 160, height: 120, fps: 5, backoff: { initialMs: 100, maxMs: 100 } });
    const reader = consume(source);
    await expect.poll(() => source.status().restarts, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    await reader.stop();
    expect(source.status().lastError).toBe("there is no video device at /dev/video9 (is the camera plugged in?)");
    expect(reader.frames).toHaveLength(0);
  });
});

describe("frame source on HTTP cameras", () => {
  let server: http.Server;
  let port = 0;
  let snapshotRequests = 0;
  let jpeg: Buffer;

  beforeAll(async () => {
    jpeg = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 40, b: 40 } } }).jpeg().toBuffer();
    server = http.createServer((req, res) => {
      if (req.url === "/cgi-bin/api.cgi?cmd=Snap&channel=0") {
        snapshotRequests++;
        res.writeHead(200, { "content-type": "image/jpeg", "content-length": jpeg.length });
        res.end(jpeg);
        return;
      }
      if (req.url === "/video.mjpg") {
        res.writeHead(200, { "content-type": "multipart/x-mixed-replace; boundary=frame" });
        const timer = setInterval(() => res.write(Buffer.concat([Buffer.from(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`), jpeg, Buffer.from("\r\n")])), 100);
        res.on("close", () => clearInterval(timer));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("decodes an MJPEG stream", async () => {
    const source = createFrameSource({ camera: "mjpeg", url: `http://127.0.0.1:${port}/video.mjpg`, width: 320, height: 240, fps: 5, ...fast });
    const reader = consume(source);
    await expect.poll(() => reader.frames.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    await reader.stop();
    // The test card, rgb(200, 40, 40): BT.601 luma 16 + 0.257·200 + 0.504·40 + 0.098·40 ≈ 92.
    expect(Math.abs(reader.frames[0]!.data[320 * 120 + 160]! - 92)).toBeLessThan(4);
  });

  it("polls a JPEG snapshot URL, one request per frame", async () => {
    const before = snapshotRequests;
    const source = createFrameSource({ camera: "still", url: `http://127.0.0.1:${port}/cgi-bin/api.cgi?cmd=Snap&channel=0`, width: 320, height: 240, fps: 2, ...fast });
    const reader = consume(source);
    await expect.poll(() => reader.frames.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    await reader.stop();
    expect(snapshotRequests - before).toBeGreaterThanOrEqual(3);
    expect(await pipelineDecoders()).toEqual([]);
  });
});

// Vigil's own decoder (what runs wherever it could be built, as here) and ffmpeg (where it could not).
describe.each([
  ["Vigil's own decoder", { decoder: LEAN_DECODER }],
  ["ffmpeg", {}],
] as const)("frame source on a real RTSP server, through Vigil's RTSP client, decoded by %s", (_, decoding) => {
  let rtsp: RtspTestServer;
  const auth = { user: "admin", password: "s3cret-Pw!" };
  const { lines: feedLines, logger: feedLogger } = captureLogs();
  // The camera feeds as src/main.ts makes them: the RTSP client's session, watched for stalls.
  const feeds = createH264Feeds({ producer: feedProducers({ logger: feedLogger }), logger: feedLogger, stallTimeoutMs: 2000, backoff: fast.backoff });
  beforeAll(async () => {
    const streetClip = { clip: footage("opencv-vtest_480x360_10fps.mp4"), clipOptions: { width: 640, height: 360, fps: 10 } };
    rtsp = await startRtspServer({ mounts: [{ name: "cam1", ...streetClip }, { name: "still", clip: await stillClip(streetClip.clip), clipOptions: streetClip.clipOptions }], auth });
  }, 120_000);
  afterAll(async () => {
    await feeds.stop();
    await rtsp.close();
  });

  it("respawns when the server dies (ffmpeg exits 0) and resumes when it is back", async () => {
    const { lines, logger } = captureLogs();
    const source = createFrameSource({ camera: "front", url: rtsp.url("cam1"), width: 640, height: 360, fps: 5, logger, feeds, ...decoding, ...fast });
    const reader = consume(source);
    await expect.poll(() => reader.frames.length, { timeout: 30_000 }).toBeGreaterThan(2);
    await rtsp.kill();
    await expect.poll(() => source.status().lastError, { timeout: 30_000 }).toMatch(/the stream ended|refused the connection/);
    const before = reader.frames.length;
    await rtsp.restart();
    await expect.poll(() => reader.frames.length, { timeout: 30_000 }).toBeGreaterThan(before + 2);
    // The camera's session was opened again; the decoder behind it kept running.
    expect(feeds.status().get(rtsp.url("cam1"))?.restarts).toBeGreaterThanOrEqual(1);
    await reader.stop();
    const log = [...lines, ...feedLines].join("\n");
    expect(log).toContain("feed: the stream ended");
    expect(log).toContain("admin:***@127.0.0.1");
    expect(log).not.toContain(auth.password);
    expect(await pipelineDecoders()).toEqual([]);
  });

  it("delivers every frame in between during a burst, and outside one only those whose picture changed", async () => {
    const source = createFrameSource({ camera: "front", url: rtsp.url("still"), width: 640, height: 360, fps: 5, burstFps: 10, feeds, ...decoding, ...fast });
    const reader = consume(source);
    await expect.poll(() => reader.frames.length, { timeout: 30_000 }).toBeGreaterThan(10);
    const on = reader.frames.length;
    source.burst(true);
    await expect.poll(() => reader.frames.slice(on).filter((frame) => frame.extra).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    source.burst(false);
    const off = reader.frames.length;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await reader.stop();
    const street = createFrameSource({ camera: "street", url: rtsp.url("cam1"), width: 640, height: 360, fps: 5, burstFps: 10, feeds, ...decoding, ...fast });
    const streetReader = consume(street);
    await expect.poll(() => streetReader.frames.filter((frame) => frame.extra).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(5);
    await streetReader.stop();
    // Outside a burst, a still scene gives no frame in between (its picture did not change; Vigil's decoder does not even send one).
    expect([...reader.frames.slice(0, on), ...reader.frames.slice(off)].filter((frame) => frame.extra)).toEqual([]);
    // The regular frames went on at 5 a second throughout.
    expect(reader.frames.slice(off).filter((frame) => !frame.extra).length).toBeGreaterThanOrEqual(7);
  });

  it("kills a child that hangs on a stalled source (watchdog), and picks the stream up again", async () => {
    const source = createFrameSource({ camera: "front", url: rtsp.url("cam1"), width: 640, height: 360, fps: 5, feeds, ...decoding, ...fast });
    const reader = consume(source);
    await expect.poll(() => reader.frames.length, { timeout: 30_000 }).toBeGreaterThan(2);
    await rtsp.stall("cam1");
    await expect.poll(() => source.status().lastError, { timeout: 30_000 }).toMatch(/stopped sending|no picture within/);
    const before = reader.frames.length;
    rtsp.resume("cam1");
    await expect.poll(() => reader.frames.length, { timeout: 30_000 }).toBeGreaterThan(before + 2);
    await reader.stop();
    expect(await pipelineDecoders()).toEqual([]);
  });

  it("explains wrong credentials in a sentence, without the password anywhere", async () => {
    const { lines, logger } = captureLogs();
    const url = rtsp.url("cam1", { user: "admin", password: "wrong-Pass-77" });
    const source = createFrameSource({ camera: "front", url, width: 640, height: 360, fps: 5, logger, feeds, ...decoding, ...fast });
    const reader = consume(source);
    await expect.poll(() => source.status().lastError, { timeout: 30_000 }).toBe("the camera refused the username or password");
    await reader.stop();
    expect(reader.frames).toEqual([]);
    expect([...lines, ...feedLines].join("\n")).not.toContain("wrong-Pass-77");
  });
});
