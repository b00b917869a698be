import { describe, expect, it } from "vitest";
import type { Frame } from "../../../src/pipeline/frame.js";
import { backoffDelay, failureOf, retryPlan, streamEndpoint } from "../../../src/pipeline/source/backoff.js";
import { createFrameSlot } from "../../../src/pipeline/source/frame-slot.js";
import { explainDeviceFailure, explainFfmpegFailure, inputOptions, isSnapshotUrl } from "../../../src/pipeline/source/input-options.js";

const frame = (seq: number): Frame => ({ width: 2, height: 2, data: Buffer.alloc(6), at: seq, seq });

describe("frame slot", () => {
  it("live: the newest frame wins and every replaced frame is counted, and handed back for reuse; idle while the consumer waits", async () => {
    const replaced: number[] = [];
    const slot = createFrameSlot({ onDrop: (f) => replaced.push(f.seq) });
    for (const seq of [1, 2, 3]) slot.put(frame(seq));
    expect((await slot.take())!.seq).toBe(3);
    expect(slot.dropped).toBe(2);
    expect(replaced).toEqual([1, 2]);
    // Idle while the consumer waits in take (a frame in between outside a burst goes only to it then).
    expect(slot.idle).toBe(false);
    const waiting = slot.take();
    expect(slot.idle).toBe(true);
    slot.put(frame(4));
    expect(slot.idle).toBe(false);
    expect((await waiting)!.seq).toBe(4);
    slot.close();
    expect(await slot.take()).toBeUndefined();
  });

  it("lossless: keeps every frame and holds the writer until the consumer has caught up", async () => {
    const slot = createFrameSlot({ lossless: true });
    let released = 0;
    slot.put(frame(1));
    slot.put(frame(2), () => released++);
    expect(released).toBe(0);
    expect((await slot.take())!.seq).toBe(1);
    expect(released).toBe(0);
    expect((await slot.take())!.seq).toBe(2);
    expect(released).toBe(1);
    expect(slot.dropped).toBe(0);
  });

  it("live: hands over the frame waiting now without waiting for one; lossless: never (replay analyses every frame in order)", async () => {
    const slot = createFrameSlot();
    expect(slot.poll()).toBeUndefined();
    slot.put(frame(1));
    slot.put(frame(2));
    expect(slot.poll()!.seq).toBe(2);
    expect(slot.poll()).toBeUndefined();
    const waiting = slot.take();
    slot.put(frame(3));
    expect((await waiting)!.seq).toBe(3);

    const lossless = createFrameSlot({ lossless: true });
    lossless.put(frame(1));
    expect(lossless.poll()).toBeUndefined();
    expect((await lossless.take())!.seq).toBe(1);
  });

  it("ends a waiting consumer on close, with the error when there is one", async () => {
    const slot = createFrameSlot();
    const waiting = slot.take();
    slot.close(new Error("unreadable"));
    await expect(waiting).rejects.toThrow("unreadable");
  });
});

describe("backoff and input options", () => {
  it("doubles from 0.5 s to 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n))).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it("retries within a second after a camera went silent or its stream ended, watches the port of one that refused, and backs off from one that rejects the login", () => {
    const plans = (failure: Parameters<typeof retryPlan>[0]) => [1, 3, 10].map((n) => retryPlan(failure, n));
    expect(plans("silent")).toEqual([500, 1000, 1000].map((delayMs) => ({ delayMs, watchPort: false })));
    expect(plans("ended")).toEqual([500, 1000, 1000].map((delayMs) => ({ delayMs, watchPort: false })));
    expect(plans("connect")).toEqual([500, 2000, 30_000].map((delayMs) => ({ delayMs, watchPort: true })));
    expect(plans("rejected")).toEqual([500, 2000, 30_000].map((delayMs) => ({ delayMs, watchPort: false })));
    expect(["refused", "unreachable", "timeout"].map((r) => failureOf(r as "refused"))).toEqual(["connect", "connect", "connect"]);
    expect(["unauthorized", "not-found", "invalid", "unknown"].map((r) => failureOf(r as "unauthorized"))).toEqual(["rejected", "rejected", "rejected", "rejected"]);
    // A URL that gave pictures before and now has no readable stream: its source stalled behind a server that stays up.
    expect(["unauthorized", "not-found", "invalid", "unknown"].map((r) => failureOf(r as "unauthorized", true))).toEqual(["rejected", "rejected", "silent", "silent"]);
  });

  it("explains what ffmpeg says when a camera cannot be reached, refuses, or does not answer", () => {
    // ffmpeg 5's own lines: the URL it tried carries ?timeout=, which is not what went wrong.
    expect(explainFfmpegFailure("[tcp @ 0x5617] Connection to tcp://10.77.0.5:8554?timeout=5000000 failed: No route to host\nrtsp://10.77.0.5:8554/x: No route to host")).toEqual({ reason: "unreachable", sentence: "the camera's address cannot be reached from this machine" });
    expect(explainFfmpegFailure("[tcp @ 0x55ad] Connection to tcp://192.0.2.1:8554?timeout=2000000 failed: Network is unreachable").reason).toBe("unreachable");
    expect(explainFfmpegFailure("[tcp @ 0x5630] Connection to tcp://127.0.0.1:8554?timeout=5000000 failed: Connection refused").reason).toBe("refused");
    expect(explainFfmpegFailure("[tcp @ 0x5630] Connection to tcp://10.0.0.9:554?timeout=5000000 failed: Connection timed out").reason).toBe("timeout");
    // The port in the URL is no status code: :34012 is not a 401 (the test server's ports are random).
    expect(explainFfmpegFailure("[tcp @ 0x5617] Connection to tcp://10.77.0.5:34012?timeout=5000000 failed: No route to host\nrtsp://10.77.0.5:34012/yard: No route to host").reason).toBe("unreachable");
    expect(explainFfmpegFailure("[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized\nrtsp://admin:***@10.0.0.9:40104/x: Server returned 401 Unauthorized (authorization failed)").reason).toBe("unauthorized");
    expect(explainFfmpegFailure("rtsp://10.0.0.9:40404/x: Server returned 404 Not Found").reason).toBe("not-found");
    // A camera starting up or with too many viewers: busy, not a wrong URL; and a port of :45030 is no 503.
    expect(explainFfmpegFailure("[rtsp @ 0x55] method DESCRIBE failed: 503 Service Unavailable\nrtsp://10.0.0.9:554/c1: Server returned 5XX Server Error reply")).toEqual({ reason: "busy", sentence: "the camera is busy or still starting up (it answered 503 Service Unavailable)" });
    expect(explainFfmpegFailure("rtsp://10.0.0.9:45030/c1: Server returned 5XX Server Error reply").reason).toBe("unknown");
    expect(failureOf("busy")).toBe("rejected");
  });

  it("explains what ffmpeg says when a local video device cannot be opened", () => {
    // ffmpeg's v4l2 lines, as Linux words them.
    expect(explainDeviceFailure("[video4linux2,v4l2 @ 0x55] Cannot open video device /dev/video0: Permission denied", "/dev/video0")).toBe("Vigil may not open /dev/video0 (add its user to the video group)");
    expect(explainDeviceFailure("[video4linux2,v4l2 @ 0x55] ioctl(VIDIOC_STREAMON): Device or resource busy", "/dev/video0")).toBe("/dev/video0 is in use by another program");
    expect(explainDeviceFailure("[video4linux2,v4l2 @ 0x55] ioctl(VIDIOC_QUERYCAP): Inappropriate ioctl for device", "/dev/video1")).toBe("/dev/video1 is not a video camera");
    expect(explainDeviceFailure("[video4linux2,v4l2 @ 0x55] The v4l2 frame is 0 bytes, but 614400 bytes are expected", "/dev/video0")).toBe("/dev/video0 could not be opened as a camera");
  });

  it("knows the port a camera answers on", () => {
    expect(streamEndpoint("rtsp://cam.lan/x")).toEqual({ host: "cam.lan", port: 554 });
    expect(streamEndpoint("https://10.0.0.2:8443/snap.jpg")).toEqual({ host: "10.0.0.2", port: 8443 });
    expect(streamEndpoint("/dev/video0")).toBeUndefined();
  });

  it("polls snapshot URLs and never lets a network URL reach a local file", () => {
    expect(isSnapshotUrl("http://cam/cgi-bin/api.cgi?cmd=Snap&channel=0")).toBe(true);
    expect(isSnapshotUrl("http://cam/image.jpg")).toBe(true);
    expect(isSnapshotUrl("http://cam/video.mjpg")).toBe(false);
    expect(inputOptions("http://cam/image.jpg", { pollFps: 5 })).toEqual(["-protocol_whitelist", "http,https,tcp,tls", "-re", "-f", "image2", "-loop", "1", "-pattern_type", "none", "-framerate", "2"]);
    for (const url of ["rtsp://cam/x", "http://cam/video.mjpg", "http://cam/image.jpg"]) {
      const options = inputOptions(url, { pollFps: 5 });
      expect(options[options.indexOf("-protocol_whitelist") + 1], url).not.toMatch(/file|concat|subfile|data/);
    }
    expect(inputOptions("/srv/clip.mp4", { realtimeFile: "once" })).toEqual(["-protocol_whitelist", "file", "-re"]);
  });
});
