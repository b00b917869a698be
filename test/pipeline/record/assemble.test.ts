import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assembleClip } from "../../../src/pipeline/record/assemble.js";
import { TsReader } from "../../../src/pipeline/record/mpegts.js";
import { createScratchDir } from "../../../src/pipeline/record/scratch.js";
import { SegmentRing, type Selection } from "../../../src/pipeline/record/segment-ring.js";
import { footage, prepareClip } from "../../support/rtsp-server.js";
import { pipeThrough, probeVideo, transportStream } from "../../support/video.js";

const WALL0 = 1_700_000_000_000;

function selectionOf(ts: Buffer, fromS: number, toS: number): Selection {
  const reader = new TsReader();
  const ring = new SegmentRing({ maxBytes: 256 * 1024 * 1024 });
  let pts = 0;
  for (let off = 0; off < ts.length; off += 1316) {
    for (const packet of reader.read(ts.subarray(off, off + 1316))) {
      if (packet.ptsMs !== undefined) pts = packet.ptsMs;
      if (reader.pat && reader.pmt && reader.codec) ring.push(packet, WALL0 + pts, 1, () => Buffer.concat([reader.pat!, reader.pmt!]), reader.codec);
    }
  }
  ring.endRun();
  return ring.select(WALL0 + fromS * 1000, WALL0 + toS * 1000)!;
}

describe("joining a clip", () => {
  let vtest: Buffer;
  let scratchDir: string | undefined;
  beforeAll(async () => {
    scratchDir = await createScratchDir();
    // 640x360 pedestrians at 10 fps: about 100 kB per second.
    vtest = await transportStream((await prepareClip(footage("opencv-vtest_480x360_10fps.mp4"), { width: 640, height: 360 })).file);
  }, 120_000);
  afterAll(async () => {
    if (scratchDir) await fs.rm(scratchDir, { recursive: true, force: true });
  });

  it("copies without re-encoding into a faststart MP4 when a RAM folder is there", async () => {
    expect(scratchDir, "this machine has /dev/shm").toBeDefined();
    const selection = selectionOf(vtest, 10, 20);
    const clip = await assembleClip(selection, { ffmpegPath: "ffmpeg", ffprobePath: "ffprobe", scratchDir });
    const info = await probeVideo(clip.mp4);
    expect(info).toMatchObject({ codec: "h264", width: 640, height: 360, indexFirst: true, frames: 100 });
    expect(info.containerDuration).toBeCloseTo(10, 0);
    expect(clip.transcoded).toBe(false);
    // Copied, not re-encoded: the payload is about as large as the transport stream it came from.
    expect(clip.bytes).toBeGreaterThan(selection.bytes * 0.8);
  });

  it("makes a fragmented MP4, index first, on a pipe when there is no RAM folder", async () => {
    const clip = await assembleClip(selectionOf(vtest, 10, 20), { ffmpegPath: "ffmpeg", ffprobePath: "ffprobe", scratchDir: undefined });
    const info = await probeVideo(clip.mp4);
    expect(info).toMatchObject({ codec: "h264", indexFirst: true, frames: 100 });
    expect(clip.durationSeconds).toBeCloseTo(10, 0);
  });

  it("transcodes a clip that is over the upload limit down to fit, keeping its length", async () => {
    const limit = 300_000; // stands in for Telegram's 50 MB: the copied 30 s clip is about 3 MB
    const clip = await assembleClip(selectionOf(vtest, 0, 30), { ffmpegPath: "ffmpeg", ffprobePath: "ffprobe", scratchDir, uploadLimitBytes: limit });
    expect(clip.transcoded).toBe(true);
    expect(clip.bytes).toBeLessThanOrEqual(limit);
    const info = await probeVideo(clip.mp4);
    expect(info).toMatchObject({ codec: "h264", indexFirst: true });
    expect(info.duration).toBeCloseTo(30, 0);
  });

  it("turns a camera's HEVC into H.264, which every phone plays", async () => {
    const prepared = await prepareClip(footage("wallflower_wavingtrees_10fps.mp4"));
    const hevc = await pipeThrough("ffmpeg", ["-v", "error", "-i", prepared.file, "-t", "6", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=10:log-level=error", "-f", "mpegts", "pipe:1"]);
    const selection = selectionOf(hevc, 0, 5);
    expect(selection.codec).toBe("hevc");
    const clip = await assembleClip(selection, { ffmpegPath: "ffmpeg", ffprobePath: "ffprobe", scratchDir });
    expect(clip.transcoded).toBe(true);
    expect((await probeVideo(clip.mp4)).codec).toBe("h264");
  });
});
