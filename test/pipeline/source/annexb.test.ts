/**
 * Cutting real H.264 byte streams (libx264 through ffmpeg, as the rpicam-vid
 * stand-in and a Pi on Raspberry Pi OS 5 encode them) into pictures, checked
 * against what ffmpeg itself decodes.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ACCESS_UNIT_DELIMITER, AccessUnitSplitter, parameterSetsOf, withParameterSets, type AccessUnit } from "../../../src/pipeline/source/annexb.js";
import { footage } from "../../support/footage.js";
import { seededRandom } from "../../support/random.js";
import { pipeThrough } from "../../support/video.js";

/** Two seconds of the wallflower clip as an H.264 byte stream, 10 fps, a keyframe a second. */
function encode(x264: string[], extra: string[] = []): Promise<Buffer> {
  return pipeThrough("ffmpeg", ["-v", "error", "-ss", "20", "-t", "2", "-i", footage("wallflower_wavingtrees_10fps.mp4"), "-an", "-vf", "scale=320:240", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-keyint_min", "10", "-sc_threshold", "0", ...extra, ...(x264.length ? ["-x264-params", x264.join(":")] : []), "-f", "h264", "pipe:1"]);
}

/** What ffmpeg decodes from a byte stream: the number of pictures and a hash of them all. */
async function decoded(stream: Buffer): Promise<{ frames: number; hash: string }> {
  const raw = await pipeThrough("ffmpeg", ["-v", "error", "-f", "h264", "-i", "pipe:0", "-fps_mode", "passthrough", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"], stream);
  return { frames: raw.length / (320 * 240), hash: createHash("sha256").update(raw).digest("hex") };
}

/** The stream with SPS and PPS only before its first picture, as a camera that sends them once (or only in its SDP). */
function parameterSetsOnce(stream: Buffer): Buffer {
  const nals: Buffer[] = [];
  for (let at = stream.indexOf(START_3); at >= 0; ) {
    const next = stream.indexOf(START_3, at + 3);
    let end = next < 0 ? stream.length : next;
    while (end > at + 3 && stream[end - 1] === 0) end--;
    nals.push(stream.subarray(at + 3, end));
    at = next;
  }
  let idr = false;
  return Buffer.concat(
    nals
      .filter((nal) => {
        const type = nal[0]! & 0x1f;
        if (type === 5) idr = true;
        return !(idr && (type === 7 || type === 8));
      })
      .flatMap((nal) => [START, nal]),
  );
}

/** Splits `stream` fed in chunks of random sizes (1 byte to 64 KiB). */
function split(stream: Buffer, seed: number, splitter = new AccessUnitSplitter()): { units: AccessUnit[] } {
  const random = seededRandom(seed);
  const units: AccessUnit[] = [];
  for (let at = 0; at < stream.length; ) {
    const size = random() < 0.3 ? 1 + Math.floor(random() * 8) : 1 + Math.floor(random() * 65_536);
    units.push(...splitter.push(stream.subarray(at, at + size)));
    at += size;
  }
  units.push(...splitter.flush());
  return { units };
}

const START = Buffer.from([0, 0, 0, 1]);
const START_3 = Buffer.from([0, 0, 1]);
const joined = (units: readonly AccessUnit[]) => Buffer.concat(units.flatMap((u) => [u.data, ACCESS_UNIT_DELIMITER]));

describe("cutting an H.264 byte stream into pictures", () => {
  let inline: Buffer;
  let sliced: Buffer;
  let headersOnce: Buffer;
  beforeAll(async () => {
    // rpicam-vid --inline: one slice a picture, SPS and PPS before each keyframe.
    inline = await encode(["repeat-headers=1"], ["-threads", "1"]);
    // Four slices a picture, access unit delimiters and B-frames: what other encoders send.
    sliced = await encode(["slices=4", "aud=1", "bframes=2"], ["-threads", "1"]);
    headersOnce = parameterSetsOnce(inline);
  });

  it("gives one unit per picture, whatever the chunks, and together they decode to exactly the original pictures", async () => {
    for (const [stream, seed] of [[inline, 1], [inline, 2], [sliced, 3], [sliced, 4]] as const) {
      const { units } = split(stream, seed);
      const original = await decoded(stream);
      expect(original.frames).toBe(20);
      expect(units).toHaveLength(20);
      expect(await decoded(joined(units))).toEqual(original);
      // A keyframe a second, and nothing but whole pictures: no delimiters of the stream's own.
      expect(units.map((u) => u.keyframe)).toEqual(Array.from({ length: 20 }, (_, i) => i % 10 === 0));
      for (const unit of units) expect(unit.data.includes(Buffer.from([0, 0, 1, 0x09]))).toBe(false);
    }
  });

  it("knows which keyframes carry SPS and PPS, and lets a decoder start at a keyframe that does not", async () => {
    expect(split(inline, 5).units.filter((u) => u.keyframe).map((u) => u.parameterSets)).toEqual([true, true]);
    const { units } = split(headersOnce, 6);
    expect(units.filter((u) => u.keyframe).map((u) => u.parameterSets)).toEqual([true, false]);
    const { sps, pps } = parameterSetsOf(units[0]!);
    expect((sps?.[0] ?? 0) & 0x1f).toBe(7);
    expect((pps?.[0] ?? 0) & 0x1f).toBe(8);
    expect(parameterSetsOf(units[10]!)).toEqual({});
    // Joining at the second keyframe: without the remembered SPS and PPS nothing decodes; with them, all ten pictures.
    const second = units.slice(10);
    await expect(decoded(joined(second))).rejects.toThrow();
    const started = Buffer.concat([withParameterSets(second[0]!, sps, pps), ACCESS_UNIT_DELIMITER, joined(second.slice(1))]);
    expect((await decoded(started)).frames).toBe(10);
  });

  it("skips bytes before the first start code and drops a picture that grows past its limit, keeping the others whole", () => {
    const sizes = split(inline, 7).units.map((u) => u.data.length);
    // A limit between the largest predicted picture and the smallest keyframe: the two keyframes are dropped.
    const limit = Math.max(...sizes.filter((_, i) => i % 10 !== 0)) + 100;
    expect(Math.min(sizes[0]!, sizes[10]!)).toBeGreaterThan(limit);
    const garbage = Buffer.alloc(10_000, 0xab);
    const { units } = split(Buffer.concat([garbage, inline]), 8, new AccessUnitSplitter({ maxUnitBytes: limit }));
    expect(units.map((u) => u.data.length)).toEqual(sizes.filter((_, i) => i % 10 !== 0));
    expect(units.some((u) => u.keyframe)).toBe(false);
  });
});
