/**
 * The in-memory ring buffer of one camera: MPEG-TS (or, for a camera fed
 * through Vigil, its H.264 pictures, muxed when a clip takes them) cut at
 * keyframes into segments, each decodable on its own, kept for a bounded time
 * and size. It is never written to disk: the pre-roll of a clip is here and
 * only here.
 *
 * Times: each segment carries the stream's presentation time. Wall-clock time
 * (what `AlertEvent.at` and `motionStartedAt` use) is presentation time plus an
 * offset estimated per ffmpeg run as the smallest (arrival − pts) seen among the
 * segments kept: the least-delayed frame is the best measure of when frames
 * really arrived, and a window of recent segments follows clock drift.
 */
import type { TsPacketInfo, VideoCodec } from "./mpegts.js";
import { TS_HEADER, TsMuxer } from "./ts-muxer.js";

export interface Segment {
  /** Which ffmpeg run produced it: timestamps are only comparable within a run. */
  run: number;
  /** Presentation time of its keyframe, ms. */
  startPts: number;
  /** Presentation time of the newest frame start in it, ms. */
  lastPts: number;
  frames: number;
  /** Smallest (arrival wall ms − pts ms) over its frames. */
  lag: number;
  /** PAT and PMT current when it started, so a clip can begin with it. */
  header: Buffer;
  codec: VideoCodec;
  /** TS packets; or, with `pictureTimes`, H.264 pictures in Annex B. */
  packets: Buffer[];
  /**
   * Pictures rather than TS (a camera fed through Vigil's RTSP client or the Pi
   * camera): each one's presentation time, ms. They are the buffers the feed
   * made anyway, kept as they are and put into MPEG-TS only when a clip takes
   * them: muxing every picture as it came would make a second copy of the
   * stream as garbage, which outlives the young generation and brings on full
   * collections.
   */
  pictureTimes?: number[];
  bytes: number;
}

export interface RingOptions {
  /** Drop the oldest segments beyond this many bytes, whatever else asks to keep them. */
  maxBytes: number;
}

export interface Selection {
  /** PAT + PMT, then every selected segment's packets, in order. */
  data: Buffer[];
  bytes: number;
  codec: VideoCodec;
  /** Wall ms of the first (key)frame. */
  startWall: number;
  /** How much to keep from the start, in ms (the end is cut at a frame, the start is a keyframe). */
  durationMs: number;
  segments: number;
}

export class SegmentRing {
  readonly #segments: Segment[] = [];
  #open: Segment | undefined;
  #bytes = 0;
  /** Frame interval estimate per run, for the end of the newest segment. */
  #frameMs = 100;
  /** Packets that belong to no segment yet (before the first keyframe of a run) are dropped. */
  #dropped = 0;

  constructor(private readonly options: RingOptions) {}

  get bytes(): number {
    return this.#bytes + (this.#open?.bytes ?? 0);
  }

  get droppedPackets(): number {
    return this.#dropped;
  }

  /** Every segment, oldest first, including the one being filled. */
  segments(): readonly Segment[] {
    return this.#open ? [...this.#segments, this.#open] : this.#segments;
  }

  /**
   * Adds one TS packet (or a picture's packets) that arrived at wall time `arrival` from run `run`.
   * The bytes are kept as they are, not copied, until the segment is complete and joined into one
   * buffer: the chunk they are a view into must not be reused.
   * `header` gives the current PAT + PMT; it is called only when a segment starts.
   */
  push(packet: TsPacketInfo, arrival: number, run: number, header: () => Buffer, codec: VideoCodec): void {
    this.#add(packet, arrival, run, header, codec, false);
  }

  /** Adds one H.264 picture in Annex B (SPS and PPS in front of a keyframe) that arrived at wall time `arrival`, presentation time `ptsMs`. */
  pushPicture(data: Buffer, keyframe: boolean, ptsMs: number, arrival: number, run: number): void {
    this.#add({ bytes: data, kind: "video", frameStart: true, keyframe, ptsMs }, arrival, run, () => TS_HEADER, "h264", true);
  }

  #add(packet: TsPacketInfo, arrival: number, run: number, header: () => Buffer, codec: VideoCodec, picture: boolean): void {
    const open = this.#open;
    if (packet.kind === "video" && packet.frameStart && packet.keyframe && packet.ptsMs !== undefined) {
      if (open) this.#close(open);
      this.#open = { run, startPts: packet.ptsMs, lastPts: packet.ptsMs, frames: 1, lag: arrival - packet.ptsMs, header: header(), codec, packets: [packet.bytes], ...(picture ? { pictureTimes: [packet.ptsMs] } : {}), bytes: packet.bytes.length };
      return;
    }
    if (!open || open.run !== run || picture !== (open.pictureTimes !== undefined)) {
      this.#dropped += 1;
      return;
    }
    open.pictureTimes?.push(packet.ptsMs!);
    if (packet.frameStart && packet.ptsMs !== undefined) {
      if (packet.ptsMs > open.lastPts) {
        const step = packet.ptsMs - open.lastPts;
        if (step < 2000) this.#frameMs = this.#frameMs * 0.9 + step * 0.1;
        open.lastPts = packet.ptsMs;
      }
      open.frames += 1;
      open.lag = Math.min(open.lag, arrival - packet.ptsMs);
    }
    open.packets.push(packet.bytes);
    open.bytes += packet.bytes.length;
    // A stream without keyframes for this long cannot be cut; start over at the next one.
    if (open.bytes > this.options.maxBytes) {
      this.#open = undefined;
      this.#dropped += open.packets.length;
    }
  }

  /** A run ended (ffmpeg exited): its last segment is complete as it is. */
  endRun(): void {
    if (this.#open) this.#close(this.#open);
    this.#open = undefined;
  }

  #close(segment: Segment): void {
    // ffmpeg's TS comes as views of 188-byte packets: joined into one buffer, the GC walks one object instead of
    // a thousand. Pictures stay one buffer each, as their times say.
    if (!segment.pictureTimes) segment.packets = [Buffer.concat(segment.packets)];
    this.#segments.push(segment);
    this.#bytes += segment.bytes;
  }

  /** Wall minus stream time for a run: the smallest lag among its kept segments. */
  offset(run: number): number | undefined {
    let best: number | undefined;
    for (const s of this.segments()) if (s.run === run && (best === undefined || s.lag < best)) best = s.lag;
    return best;
  }

  /** Wall-clock start and end of each segment (end: the next keyframe, or the newest frame plus one interval). */
  timeline(): { segment: Segment; start: number; end: number }[] {
    const all = this.segments();
    const offsets = new Map<number, number>();
    const out: { segment: Segment; start: number; end: number }[] = [];
    for (let i = 0; i < all.length; i++) {
      const s = all[i]!;
      if (!offsets.has(s.run)) offsets.set(s.run, this.offset(s.run) ?? 0);
      const offset = offsets.get(s.run)!;
      const next = all[i + 1];
      const endPts = next && next.run === s.run ? next.startPts : s.lastPts + this.#frameMs;
      out.push({ segment: s, start: s.startPts + offset, end: endPts + offset });
    }
    return out;
  }

  /** Wall time up to which video has arrived, or undefined when the ring is empty. */
  newestWall(): number | undefined {
    return this.timeline().at(-1)?.end;
  }

  oldestWall(): number | undefined {
    return this.timeline()[0]?.start;
  }

  /**
   * Drops segments that end before `keepFrom` (wall ms), then the oldest ones
   * while over the byte limit. The segment being filled is always kept.
   */
  trim(keepFrom: number): void {
    const timeline = this.timeline();
    let drop = 0;
    for (const { segment, end } of timeline) {
      if (segment === this.#open || end >= keepFrom) break;
      drop += 1;
    }
    while (drop < this.#segments.length && this.#bytes - this.#sumBytes(drop) > this.options.maxBytes - (this.#open?.bytes ?? 0)) drop += 1;
    if (drop > 0) {
      this.#bytes -= this.#sumBytes(drop);
      this.#segments.splice(0, drop);
    }
  }

  #sumBytes(count: number): number {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += this.#segments[i]!.bytes;
    return sum;
  }

  /**
   * The video from about `from` to `to` (wall ms), starting at the keyframe
   * nearest `from` that is not later than `anchor` (the moment the clip must
   * show: the first motion, or the alert). Segments of one ffmpeg run only: when
   * the window spans a reconnect, the run with the most video in it wins.
   */
  select(from: number, to: number, anchor = from): Selection | undefined {
    const timeline = this.timeline().filter((t) => t.end > from && t.start < to);
    if (timeline.length === 0) return undefined;
    const coverage = new Map<number, number>();
    for (const t of timeline) coverage.set(t.segment.run, (coverage.get(t.segment.run) ?? 0) + Math.min(t.end, to) - Math.max(t.start, from));
    const run = [...coverage.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const inRun = this.timeline().filter((t) => t.segment.run === run && t.start < to);
    const limit = Math.max(from, anchor);
    let first = -1;
    for (let i = 0; i < inRun.length; i++) {
      const t = inRun[i]!;
      if (t.start > limit) break;
      if (first < 0 || Math.abs(t.start - from) < Math.abs(inRun[first]!.start - from)) first = i;
    }
    if (first < 0) first = inRun.findIndex((t) => t.end > from);
    if (first < 0) return undefined;
    const chosen = inRun.slice(first);
    const head = chosen[0]!;
    const end = Math.min(to, chosen.at(-1)!.end);
    // One muxer for the clip's pictures, so its packets count on without a break from segment to segment.
    const muxer = new TsMuxer();
    const tsOf = (s: Segment) => (s.pictureTimes ? s.packets.map((picture, i) => muxer.mux(picture, s.pictureTimes![i]! * 90, i === 0)) : s.packets);
    const data = [head.segment.header, ...chosen.flatMap((t) => tsOf(t.segment))];
    return {
      data,
      bytes: data.reduce((sum, b) => sum + b.length, 0),
      codec: head.segment.codec,
      startWall: head.start,
      durationMs: Math.max(0, end - head.start),
      segments: chosen.length,
    };
  }
}
