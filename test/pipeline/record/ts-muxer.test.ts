import { beforeAll, describe, expect, it } from "vitest";
import { TsReader } from "../../../src/pipeline/record/mpegts.js";
import { SegmentRing } from "../../../src/pipeline/record/segment-ring.js";
import { assembleClip } from "../../../src/pipeline/record/assemble.js";
import { TS_HEADER, TsMuxer } from "../../../src/pipeline/record/ts-muxer.js";
import { AccessUnitSplitter, type AccessUnit } from "../../../src/pipeline/source/annexb.js";
import { footage, prepareClip, type PreparedClip } from "../../support/rtsp-server.js";
import { decodeGray, matchFrame, pipeThrough, probeVideo } from "../../support/video.js";

const WALL0 = 1_700_000_000_000;

/** The pictures of a clip as the feed hands them to the recorder: access units, SPS and PPS in front of each keyframe. */
async function accessUnits(file: string): Promise<AccessUnit[]> {
  const annexB = await pipeThrough("ffmpeg", ["-v", "error", "-i", file, "-map", "0:v:0", "-c", "copy", "-bsf:v", "dump_extra=freq=keyframe", "-f", "h264", "pipe:1"]);
  const splitter = new AccessUnitSplitter();
  return [...splitter.push(annexB), ...splitter.flush()];
}

function mux(units: readonly AccessUnit[], ptsMs: (i: number) => number): Buffer {
  const muxer = new TsMuxer();
  return Buffer.concat([TS_HEADER, ...units.map((u, i) => muxer.mux(u.data, ptsMs(i) * 90, u.keyframe))]);
}

describe("Vigil's MPEG-TS muxer, on real footage", () => {
  let clip: PreparedClip;
  let units: AccessUnit[];
  let reference: Buffer[];
  beforeAll(async () => {
    clip = await prepareClip(footage("wallflower_wavingtrees_10fps.mp4"));
    units = await accessUnits(clip.file);
    reference = await decodeGray(clip.file, 80, 60);
  }, 120_000);

  it("writes a stream ffmpeg reads as one H.264 program, decoding to the very same pictures at the given times", async () => {
    const ts = mux(units, (i) => i * 100 + (i % 3) * 7);
    expect(ts.length % 188).toBe(0);
    const programs = JSON.parse((await pipeThrough("ffprobe", ["-v", "error", "-show_programs", "-of", "json", "-f", "mpegts", "-i", "pipe:0"], ts)).toString()) as { programs: { program_id: number; streams: { codec_name: string; id: string }[] }[] };
    // The PAT and PMT passed ffprobe's CRC check, or there would be no program.
    expect(programs.programs.map((p) => [p.program_id, p.streams.map((s) => [s.codec_name, s.id])])).toEqual([[1, [["h264", "0x100"]]]]);

    const decoded = await decodeGray(ts, 80, 60);
    expect(decoded.length).toBe(reference.length);
    expect(decoded.every((frame, i) => frame.equals(reference[i]!))).toBe(true);

    const times = JSON.parse((await pipeThrough("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "json", "-f", "mpegts", "-i", "pipe:0"], ts)).toString()) as { packets: { pts_time: string; flags: string }[] };
    expect(times.packets.map((p) => Math.round(Number(p.pts_time) * 1000))).toEqual(units.map((_, i) => i * 100 + (i % 3) * 7));
    expect(times.packets.map((p) => p.flags.startsWith("K"))).toEqual(units.map((u) => u.keyframe));
  });

  it("marks keyframes and times as the ring reads them, through the 26.5-hour wrap of the 33-bit clock", () => {
    const start = 2 ** 33 / 90 - 1000; // one second before the clock wraps
    const ts = mux(units.slice(0, 30), (i) => start + i * 100);
    const reader = new TsReader();
    const starts = [...reader.read(ts)].filter((p) => p.frameStart);
    expect(reader.codec).toBe("h264");
    expect(starts.map((p) => p.keyframe)).toEqual(units.slice(0, 30).map((u) => u.keyframe));
    expect(starts.map((p) => Math.round(p.ptsMs! - start))).toEqual(units.slice(0, 30).map((_, i) => i * 100));
  });

  it("keeps the pictures in the ring as they came, and muxes the ones a clip takes: the clip starts at the keyframe before the moment it must show", async () => {
    const ring = new SegmentRing({ maxBytes: 64 * 1024 * 1024 });
    units.forEach((u, i) => ring.pushPicture(u.data, u.keyframe, i * 100, WALL0 + 40 + i * 100, 1));
    ring.endRun();
    expect(ring.segments().length).toBe(units.filter((u) => u.keyframe).length);
    // Not a copy: the ring holds the very buffers it was given.
    expect(ring.segments()[3]!.packets[0]).toBe(units.filter((u) => u.keyframe)[3]!.data);

    const selection = ring.select(WALL0 + 20_000, WALL0 + 26_000, WALL0 + 20_500)!;
    // The header, then a buffer of TS packets for each picture of the chosen segments; ffprobe reads every one of them.
    const pictures = selection.data.length - 1;
    expect(pictures).toBeGreaterThanOrEqual(60);
    const read = JSON.parse((await pipeThrough("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "json", "-f", "mpegts", "-i", "pipe:0"], Buffer.concat(selection.data))).toString()) as { packets: unknown[] };
    expect(read.packets).toHaveLength(pictures);
    const mp4 = await assembleClip(selection, { ffmpegPath: "ffmpeg", ffprobePath: "ffprobe", scratchDir: undefined });
    const info = await probeVideo(mp4.mp4);
    expect(info.codec).toBe("h264");
    expect(info.duration).toBeGreaterThan(5.5);
    expect(info.duration).toBeLessThan(6.6);
    const [first] = await decodeGray(mp4.mp4, 80, 60, 1);
    expect(matchFrame(first!, reference)).toBe(200);
  });
});
