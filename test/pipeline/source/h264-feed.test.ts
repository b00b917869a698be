/**
 * A camera's H.264 feed on the rpicam-vid stand-in (test/support/rpicam-vid.js):
 * one producer for every consumer, consumers that start at keyframes, a slow
 * consumer that holds up nobody, and supervision of the producer.
 */
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../../src/log.js";
import { ACCESS_UNIT_DELIMITER } from "../../../src/pipeline/source/annexb.js";
import { createH264Feeds, type H264Feeds, type H264FeedsOptions } from "../../../src/pipeline/source/h264-feed.js";
import { explainRpicamExit, rpicamArgs, rpicamProducer } from "../../../src/pipeline/source/rpicam.js";
import { footage } from "../../support/footage.js";
import { installRpicamStandIn, type RpicamStandIn } from "../../support/rpicam-stand-in.js";
import { until } from "../../support/wait.js";

const SOURCE = "picam:0?width=320&height=240&fps=10";

/** A sink that keeps what it is given, and can stop reading (a stuck ffmpeg) and start again. */
function collector() {
  const chunks: Buffer[] = [];
  const held: (() => void)[] = [];
  let blocked = false;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      if (blocked) held.push(callback);
      else callback();
    },
  });
  return {
    sink,
    chunks,
    bytes: () => Buffer.concat(chunks),
    block() {
      blocked = true;
    },
    unblock() {
      blocked = false;
      for (const callback of held.splice(0)) callback();
    },
  };
}

/** What ffmpeg makes of a consumer's bytes: how many pictures, and what it complained about. */
function decode(stream: Buffer): Promise<{ frames: number; errors: string }> {
  // The delimiter after the last picture announces one that never came: not the consumer's fault.
  const whole = stream.subarray(stream.length - 6).equals(ACCESS_UNIT_DELIMITER) ? stream.subarray(0, stream.length - 6) : stream;
  return new Promise((resolve, reject) => {
    const child = spawn("ffmpeg", ["-v", "error", "-f", "h264", "-i", "pipe:0", "-fps_mode", "passthrough", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"]);
    let bytes = 0;
    let errors = "";
    child.stdout.on("data", (d: Buffer) => (bytes += d.length));
    child.stderr.on("data", (d: Buffer) => (errors += d.toString()));
    child.on("error", reject);
    child.on("close", () => resolve({ frames: bytes / (320 * 240), errors }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(whole);
  });
}

/** The NAL unit type at the very start of a consumer's bytes. */
const firstNal = (bytes: Buffer) => bytes[4]! & 0x1f;

function logs() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } }) };
}

describe("a camera's H.264 feed on the rpicam-vid stand-in", () => {
  let camera: RpicamStandIn;
  const feedsToStop: H264Feeds[] = [];
  /** A registry running the stand-in, or `binary` (VIGIL_RPICAM; null: found on PATH). */
  const feeds = (options: Partial<H264FeedsOptions> = {}, binary: string | null = camera.binary) => {
    const created = createH264Feeds({ producer: rpicamProducer({ binary: binary ?? undefined, graceMs: 500 }), stallTimeoutMs: 1500, backoff: { initialMs: 200, maxMs: 1000 }, ...options });
    feedsToStop.push(created);
    return created;
  };
  beforeAll(async () => {
    camera = await installRpicamStandIn(footage("wallflower_wavingtrees_10fps.mp4"));
  });
  afterAll(async () => {
    await Promise.all(feedsToStop.map((f) => f.stop()));
    expect(await camera.alive()).toEqual([]);
  });

  it("runs one rpicam-vid for every consumer, starts each at a keyframe with SPS and PPS, and stops it with the last", async () => {
    const registry = feeds();
    const recording = registry.subscribe(SOURCE, { name: "recording" });
    const first = collector();
    recording.attach(first.sink);
    await until(() => recording.status().units >= 25, 30_000, "pictures");
    // Joining later, at once from the newest keyframe, and then at the next one.
    const detection = registry.subscribe(SOURCE, { name: "detection", start: "cached" });
    const cached = collector();
    detection.attach(cached.sink);
    expect(cached.chunks.length).toBeGreaterThan(0);
    const other = registry.subscribe(SOURCE, { name: "other" });
    const next = collector();
    other.attach(next.sink);
    await until(() => next.chunks.length > 20, 30_000, "the third consumer's pictures");
    expect(await camera.alive()).toHaveLength(1);
    expect((await camera.runs()).filter((r) => r.start)).toHaveLength(1);
    // What rpicam-vid was asked for: the real program's command line.
    expect((await camera.runs())[0]!.argv).toEqual(["--camera", "0", "-t", "0", "--nopreview", "--codec", "h264", "--inline", "--width", "320", "--height", "240", "--framerate", "10", "--intra", "10", "--flush", "-o", "-"]);

    await recording.close();
    await other.close();
    expect(await camera.alive()).toHaveLength(1);
    await detection.close();
    expect(await camera.alive()).toEqual([]);
    // SIGINT: it finished its frame and exited cleanly.
    expect((await camera.runs())[0]).toMatchObject({ code: 0 });
    for (const consumer of [first, cached, next]) {
      const bytes = consumer.bytes();
      expect(firstNal(bytes)).toBe(7); // SPS, then PPS and an IDR picture
      // A decoder starts on it without a complaint.
      expect(await decode(bytes)).toMatchObject({ errors: "" });
      expect((await decode(bytes)).frames).toBeGreaterThan(5);
    }
  }, 90_000);
  it("skips a consumer that stops reading to the next keyframe, counting what it missed, and holds up neither the camera nor the others", async () => {
    const { lines, logger } = logs();
    const limit = 64 * 1024;
    const registry = feeds({ maxQueuedBytes: limit, logger });
    const fast = registry.subscribe(SOURCE, { name: "fast" });
    const quick = collector();
    fast.attach(quick.sink);
    const slow = registry.subscribe(SOURCE, { name: "slow" });
    const stuck = collector();
    slow.attach(stuck.sink);
    try {
      await until(() => fast.status().units >= 15, 30_000, "pictures");
      stuck.block();
      await until(() => slow.status().dropped >= 30, 30_000, "pictures dropped for the stuck consumer");
      // Bounded: at most the limit and one picture wait for it (a 320x240 picture is far below 64 KiB).
      expect(stuck.sink.writableLength).toBeLessThan(2 * limit);
      // The other one got every picture (one write each: the picture and a delimiter), and the camera never stopped.
      expect(quick.chunks.length).toBe(fast.status().units);
      expect(fast.status()).toMatchObject({ dropped: 0, restarts: 0 });
      const dropped = slow.status().dropped;
      stuck.unblock();
      await until(() => lines.join("\n").includes("feed: consumer caught up at a keyframe"), 30_000, "the stuck consumer to get pictures again");
      const caughtUp = stuck.chunks.length;
      await until(() => stuck.chunks.length > caughtUp + 20, 30_000, "more pictures");
      expect(slow.status().dropped).toBeGreaterThanOrEqual(dropped);
      expect(lines.join("\n")).toContain("feed: a consumer fell behind; skipping it to the next keyframe");
      // What it missed ends at a keyframe with SPS and PPS: its decoder never sees a broken picture.
      expect(await decode(stuck.bytes())).toMatchObject({ errors: "" });
      expect(await camera.alive()).toHaveLength(1);
    } finally {
      await Promise.all([fast.close(), slow.close()]);
    }
  }, 90_000);

  it("stops a stalled rpicam-vid (SIGINT no longer works then) and a failed one, starts another each time, and says why", async () => {
    const { lines, logger } = logs();
    const registry = feeds({ logger });
    const detection = registry.subscribe(SOURCE, { name: "detection" });
    const sink = collector();
    detection.attach(sink.sink);
    const runsBefore = (await camera.runs()).length;
    try {
      await until(() => detection.status().state === "running", 30_000, "pictures");
      await camera.command("stall");
      await until(() => detection.status().restarts === 1 && detection.status().state === "running", 30_000, "a new rpicam-vid after the stall");
      expect(lines.join("\n")).toContain("feed: the camera stopped sending video");
      await camera.command("exit");
      await until(() => detection.status().restarts === 2 && detection.status().state === "running", 30_000, "a new rpicam-vid after the failure");
      expect(lines.join("\n")).toContain("feed: rpicam-vid failed: failed to queue request");
      const runs = (await camera.runs()).slice(runsBefore);
      expect(runs).toHaveLength(3);
      // The stalled one ignored SIGINT and was ended by SIGTERM; the failed one exited 255.
      expect(runs[0]).toMatchObject({ signal: "SIGTERM", stalledAt: expect.any(Number) as number });
      expect(runs[1]).toMatchObject({ code: 255 });
      // Never two at once.
      expect(runs[1]!.start!).toBeGreaterThanOrEqual(runs[0]!.end!);
      expect(runs[2]!.start!).toBeGreaterThanOrEqual(runs[1]!.end!);
      expect(await camera.alive()).toHaveLength(1);
      // The consumer's decoder went on through all three: each run starts with SPS, PPS and a keyframe.
      expect((await decode(sink.bytes())).errors).toBe("");
    } finally {
      await detection.close();
    }
  }, 90_000);

  it("says in one sentence that the Pi has no camera, or none with that number, and starts as soon as there is one", async () => {
    const registry = feeds({ backoff: { initialMs: 200, maxMs: 400 } });
    await camera.setCameras(0);
    const first = registry.subscribe(SOURCE, { name: "detection" });
    const second = registry.subscribe("picam:1?width=320&height=240&fps=10", { name: "detection" });
    try {
      await until(() => first.status().lastError !== undefined, 30_000, "the failure");
      expect(first.status()).toMatchObject({ state: expect.stringMatching(/retrying|starting/) as string, lastError: "rpicam-vid finds no camera on this Raspberry Pi; check the camera's ribbon cable, then reboot" });
      await camera.setCameras(1);
      await until(() => first.status().state === "running", 30_000, "the camera, once connected");
      expect(first.status().lastError).toBeUndefined();
      await until(() => second.status().lastError === "there is no camera 1 on this Raspberry Pi; picam:0 is the first", 30_000, "the second camera's failure");
    } finally {
      await camera.setCameras(1);
      await Promise.all([first.close(), second.close()]);
    }
  }, 60_000);

  it("never runs two rpicam-vid for one camera: another stream of it waits until the first is let go, and another program is refused", async () => {
    const registry = feeds();
    const wide = registry.subscribe(SOURCE, { name: "detection" });
    wide.attach(collector().sink);
    await until(() => wide.status().state === "running", 30_000, "pictures");
    const small = registry.subscribe("picam:0?width=160&height=120&fps=5", { name: "detection" });
    small.attach(collector().sink);
    expect(small.status().state).toBe("waiting");
    // A second registry (two Vigils, or detection and recording wired apart) meets what libcamera says.
    const apart = feeds().subscribe(SOURCE, { name: "recording" });
    await until(() => apart.status().lastError !== undefined, 30_000, "the second program's failure");
    expect(apart.status().lastError).toBe("the Pi camera is in use by another program; only one at a time can open it");
    await apart.close();
    await wide.close();
    await until(() => small.status().state === "running", 30_000, "the second stream");
    const [before, after] = (await camera.runs()).slice(-2);
    expect(after!.argv).toContain("160");
    expect(after!.start!).toBeGreaterThanOrEqual(before!.end!);
    await small.close();
    expect(await camera.alive()).toEqual([]);
  }, 60_000);

  it("says in one sentence that rpicam-vid is missing, never throwing, and finds rpicam-vid or else libcamera-vid on PATH", async () => {
    const older = await installRpicamStandIn(footage("wallflower_wavingtrees_10fps.mp4"), "libcamera-vid");
    vi.stubEnv("PATH", "/usr/bin:/bin");
    const missing = feeds({}, null).subscribe(SOURCE, { name: "detection" });
    const named = feeds({}, "/opt/rpicam/bin/rpicam-vid").subscribe(SOURCE, { name: "detection" });
    try {
      await until(() => missing.status().lastError !== undefined && named.status().lastError !== undefined, 10_000, "the sentences");
      expect(missing.status().lastError).toBe("rpicam-vid is not installed; sudo apt install rpicam-apps installs it");
      expect(named.status().lastError).toBe("VIGIL_RPICAM names /opt/rpicam/bin/rpicam-vid, which is not a program this machine can run");
      // Installed while Vigil runs: found at the next attempt. Only the older name: that one.
      vi.stubEnv("PATH", `${older.binDir}:/usr/bin:/bin`);
      await until(() => missing.status().state === "running", 60_000, "libcamera-vid to be found");
      expect((await older.runs()).filter((r) => r.start)).toHaveLength(1);
    } finally {
      await Promise.all([missing.close(), named.close()]);
    }
    vi.stubEnv("PATH", `${camera.binDir}:${older.binDir}:/usr/bin:/bin`);
    const both = feeds({}, null).subscribe(SOURCE, { name: "detection" });
    const runs = (await camera.runs()).length;
    try {
      await until(() => both.status().state === "running", 30_000, "rpicam-vid");
      expect(await camera.runs()).toHaveLength(runs + 1);
      expect((await older.runs()).filter((r) => r.start)).toHaveLength(1);
    } finally {
      await both.close();
    }
  }, 90_000);
});

describe("rpicam-vid's command line and messages", () => {
  it("asks for the stream the URL names and explains each failure the real program reports", () => {
    expect(rpicamArgs({ camera: 1, width: 1280, height: 720, fps: 15 }).join(" ")).toBe("--camera 1 -t 0 --nopreview --codec h264 --inline --width 1280 --height 720 --framerate 15 --intra 15 --flush -o -");
    const exit = (stderr: string, code: number | null = 255) => explainRpicamExit({ code, signal: null, stderr }, 1);
    const libcamera = "[0:00:00.123456789] [1234]  INFO Camera camera_manager.cpp:327 libcamera v0.4.0+53-29156679\n";
    expect(exit(`${libcamera}ERROR: *** no cameras available ***`)).toEqual({ sentence: "rpicam-vid finds no camera on this Raspberry Pi; check the camera's ribbon cable, then reboot", failure: "rejected" });
    expect(exit(`${libcamera}ERROR: *** selected camera is not available ***`)).toEqual({ sentence: "there is no camera 1 on this Raspberry Pi; picam:0 is the first", failure: "rejected" });
    expect(exit("ERROR: *** failed to acquire camera /base/axi/pcie@120000/rp1/i2c@88000/imx708@1a ***").sentence).toBe("the Pi camera is in use by another program; only one at a time can open it");
    expect(exit("ERROR: *** failed to queue request ***")).toEqual({ sentence: "rpicam-vid failed: failed to queue request", failure: "rejected" });
    expect(explainRpicamExit({ code: 255, signal: null, stderr: "ERROR: *** failed to queue request ***" }, 0, "libcamera-vid", true)).toEqual({ sentence: "libcamera-vid failed: failed to queue request", failure: "silent" });
    expect(exit("Received signal 2", 0)).toEqual({ sentence: "rpicam-vid stopped", failure: "ended" });
    expect(explainRpicamExit({ code: null, signal: "SIGKILL", stderr: "" }, 0)).toEqual({ sentence: "rpicam-vid was ended by SIGKILL", failure: "rejected" });
  });
});
