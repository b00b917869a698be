import { beforeAll, describe, expect, it } from "vitest";
import { TsReader } from "../../../src/pipeline/record/mpegts.js";
import { SegmentRing } from "../../../src/pipeline/record/segment-ring.js";
import { assembleClip } from "../../../src/pipeline/record/assemble.js";
import { footage, prepareClip, type PreparedClip } from "../../support/rtsp-server.js";
import { seededRandom } from "../../support/random.js";
import { decodeGray, matchFrame, probeVideo, transportStream } from "../../support/video.js";

const WALL0 = 1_700_000_000_000;

/**
 * Feeds a real transport stream into a ring in chunks, each "arriving" at
 * wall time = its presentation time + a base delay + random extra delay, the
 * way a live pipe delivers it.
 */
function fill(ts: Buffer, ring: SegmentRing, reader: TsReader, delayMs: number, jitterMs: number, seed = 1): void {
  const random = seededRandom(seed);
  let lastPts = 0;
  for (let off = 0; off < ts.length; off += 1316) {
    for (const packet of reader.read(ts.subarray(off, off + 1316))) {
      if (packet.ptsMs !== undefined) lastPts = packet.ptsMs;
      if (!reader.pat || !reader.pmt || !reader.codec) continue;
      ring.push(packet, WALL0 + lastPts + delayMs + random() * jitterMs, 1, () => Buffer.concat([reader.pat!, reader.pmt!]), reader.codec);
    }
  }
}

describe("MPEG-TS reader and segment ring on real footage", () => {
  let clip: PreparedClip;
  let ts: Buffer;
  let reference: Buffer[];
  beforeAll(async () => {
    clip = await prepareClip(footage("wallflower_wavingtrees_10fps.mp4"));
    ts = await transportStream(clip.file);
    reference = await decodeGray(clip.file, 80, 60);
  }, 120_000);

  it("finds H.264, cuts a segment at every keyframe (one per second) and maps stream time to wall time", () => {
    const reader = new TsReader();
    const ring = new SegmentRing({ maxBytes: 64 * 1024 * 1024 });
    fill(ts, ring, reader, 300, 200);
    ring.endRun();
    expect(reader.codec).toBe("h264");
    const timeline = ring.timeline();
    expect(timeline).toHaveLength(Math.ceil(clip.duration));
    // Keyframes every second; the least-delayed frame sets the offset, so wall times come out within the jitter.
    timeline.forEach((t, i) => expect(Math.abs(t.start - (WALL0 + i * 1000 + 300))).toBeLessThan(60));
    expect(ring.bytes).toBe(timeline.reduce((sum, t) => sum + t.segment.bytes, 0));
  });

  it("selects from the keyframe nearest the start, and the joined clip's first frame is that moment of the footage", async () => {
    const reader = new TsReader();
    const ring = new SegmentRing({ maxBytes: 64 * 1024 * 1024 });
    fill(ts, ring, reader, 0, 0);
    ring.endRun();
    const selection = ring.select(WALL0 + 19_200, WALL0 + 25_800, WALL0 + 24_200)!;
    expect(selection.startWall).toBe(WALL0 + 19_000);
    expect(selection.durationMs).toBeCloseTo(6_800, -1);
    const video = await assembleClip(selection, { ffmpegPath: "ffmpeg", ffprobePath: "ffprobe", scratchDir: undefined });
    const info = await probeVideo(video.mp4);
    expect(info).toMatchObject({ codec: "h264", width: 160, height: 120 });
    expect(info.duration).toBeCloseTo(6.8, 0);
    const [first] = await decodeGray(video.mp4, 80, 60, 1);
    expect(matchFrame(first!, reference)).toBe(190); // frame n is t = n/10 s
  });

  it("never starts after the anchor, even when a later keyframe is nearer the start", () => {
    const reader = new TsReader();
    const ring = new SegmentRing({ maxBytes: 64 * 1024 * 1024 });
    fill(ts, ring, reader, 0, 0);
    // 19.7 s is nearer 20 s than 19 s, but the event began at 19.9 s: the keyframe at 20 s would miss it.
    expect(ring.select(WALL0 + 19_700, WALL0 + 22_000, WALL0 + 19_900)!.startWall).toBe(WALL0 + 19_000);
    expect(ring.select(WALL0 + 19_700, WALL0 + 22_000, WALL0 + 20_500)!.startWall).toBe(WALL0 + 20_000);
  });

  it("stays bounded: trimming drops what ended before the horizon, the byte cap drops the oldest", () => {
    const reader = new TsReader();
    const ring = new SegmentRing({ maxBytes: 64 * 1024 * 1024 });
    fill(ts, ring, reader, 0, 0);
    ring.trim(WALL0 + 20_500);
    expect(ring.oldestWall()).toBe(WALL0 + 20_000);
    const capped = new SegmentRing({ maxBytes: 100_000 });
    fill(ts, capped, new TsReader(), 0, 0);
    capped.trim(0);
    expect(capped.bytes).toBeLessThanOrEqual(100_000);
    expect(capped.newestWall()).toBeGreaterThan(WALL0 + 28_000);
  });

  it("resynchronises after garbage in the byte stream and still finds every keyframe", () => {
    const reader = new TsReader();
    const ring = new SegmentRing({ maxBytes: 64 * 1024 * 1024 });
    const garbled = Buffer.concat([ts.subarray(0, 188 * 500), Buffer.from("not a packet at all, \x47 not even this"), ts.subarray(188 * 500)]);
    fill(garbled, ring, reader, 0, 0);
    ring.endRun();
    expect(ring.timeline()).toHaveLength(Math.ceil(clip.duration));
  });
});
