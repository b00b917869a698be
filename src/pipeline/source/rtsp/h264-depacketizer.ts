/**
 * H.264 out of RTP (RFC 6184, packetization modes 0 and 1: single NAL unit
 * packets, STAP-A, FU-A), one access unit per picture, handed on at the RTP
 * marker bit, the moment its last packet is in. That is the point of this
 * client: ffmpeg's RTSP input holds a picture until the next one begins, one
 * frame interval (../shared/RECIPES.md, "Low latency").
 *
 * - A keyframe (IDR) goes out with the newest SPS and PPS in front of it,
 *   whether the camera sent them in band or only in the SDP, so any consumer
 *   can start at any keyframe (as rpicam-vid's `--inline` does).
 * - A lost packet (a gap in the sequence numbers), a fragment without its
 *   start, a packet too short for what it says: the picture is dropped, and so
 *   is everything up to the next keyframe, since pictures that refer to a
 *   broken one decode as smears, which motion detection would take for motion.
 * - A picture whose marker never came (a camera that does not set it, a lost
 *   last packet) ends when the next timestamp begins.
 * - Memory is bounded: a picture growing past `maxUnitBytes` is dropped.
 * - A picture is copied once, into its unit: until then its NAL units are
 *   views into the packets they came in (the packets must not be reused).
 */
import { ACCESS_UNIT_DELIMITER, type AccessUnit } from "../annexb.js";

const START_CODE = Buffer.from([0, 0, 0, 1]);
const NAL = { idr: 5, sps: 7, pps: 8, aud: 9, stapA: 24, fuA: 28 } as const;

/** An RTP packet's fields that matter here (RFC 3550 §5.1). */
export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** Reads an RTP packet; undefined when it is not one (wrong version, lengths that do not add up). Pure. */
export function parseRtp(data: Buffer): RtpPacket | undefined {
  if (data.length < 12 || data[0]! >> 6 !== 2) return undefined;
  const padding = (data[0]! & 0x20) !== 0;
  const extension = (data[0]! & 0x10) !== 0;
  const csrcs = data[0]! & 0x0f;
  let offset = 12 + csrcs * 4;
  if (extension) {
    if (data.length < offset + 4) return undefined;
    offset += 4 + data.readUInt16BE(offset + 2) * 4;
  }
  let end = data.length;
  if (padding) {
    const pad = data[data.length - 1]!;
    if (pad === 0) return undefined;
    end -= pad;
  }
  if (end < offset) return undefined;
  return { marker: (data[1]! & 0x80) !== 0, payloadType: data[1]! & 0x7f, sequence: data.readUInt16BE(2), timestamp: data.readUInt32BE(4), ssrc: data.readUInt32BE(8), payload: data.subarray(offset, end) };
}

export interface DepacketizerOptions {
  /** SPS and PPS from the SDP, used until the camera sends its own. */
  parameterSets?: readonly Buffer[];
  /** Default 8 MiB (a 4K keyframe is well under it). */
  maxUnitBytes?: number;
}

export interface DepacketizerCounts {
  /** Pictures handed on. */
  units: number;
  /** Pictures dropped: broken, or waiting for a keyframe after a loss. */
  dropped: number;
  /** Packets lost (sequence gaps) or unreadable. */
  lostPackets: number;
}

/** A NAL unit as the pieces it came in: a fragmented one is its header byte, then each fragment's payload. */
type Nal = Buffer[];

const typeOf = (nal: Nal) => nal[0]![0]! & 0x1f;
const lengthOf = (nal: Nal) => nal.reduce((sum, piece) => sum + piece.length, 0);

export class H264Depacketizer {
  #nals: Nal[] = [];
  #bytes = 0;
  #timestamp: number | undefined;
  #expected: number | undefined;
  /** The picture in progress has lost a packet: it is dropped when it ends. */
  #broken = false;
  /** After a loss, pictures are dropped until a keyframe. */
  #needKeyframe = false;
  /** A fragmented NAL unit in progress (FU-A), or undefined. */
  #fragment: Nal | undefined;
  #fragmentBytes = 0;
  #sps: Buffer | undefined;
  #pps: Buffer | undefined;
  readonly #maxUnitBytes: number;
  readonly counts: DepacketizerCounts = { units: 0, dropped: 0, lostPackets: 0 };

  constructor(options: DepacketizerOptions = {}) {
    for (const nal of options.parameterSets ?? []) this.#remember(nal);
    this.#maxUnitBytes = options.maxUnitBytes ?? 8 * 1024 * 1024;
  }

  /** The newest SPS (in band or from the SDP). */
  get sps(): Buffer | undefined {
    return this.#sps;
  }

  /** Takes one RTP packet of the video track; returns the picture it completed, if any. */
  push(packet: RtpPacket): AccessUnit | undefined {
    let out: AccessUnit | undefined;
    if (this.#expected !== undefined && packet.sequence !== this.#expected) {
      const gap = (packet.sequence - this.#expected) & 0xffff;
      // Far behind: a duplicate or a late packet, which TCP does not make; drop it.
      if (gap > 0x8000) return undefined;
      this.counts.lostPackets += gap;
      this.#broken = true;
      this.#needKeyframe = true;
    }
    this.#expected = (packet.sequence + 1) & 0xffff;
    // The marker of the previous picture was lost: a new timestamp begins a new picture.
    if (this.#timestamp !== undefined && packet.timestamp !== this.#timestamp && (this.#nals.length || this.#fragment)) out = this.#finish();
    this.#timestamp = packet.timestamp;
    this.#payload(packet.payload);
    if (packet.marker) {
      const unit = this.#finish();
      // Two pictures at once is possible only when a marker was lost right before a marked one-packet picture.
      out = unit ?? out;
    }
    return out;
  }

  #payload(payload: Buffer): void {
    if (payload.length < 1) return this.#lose();
    const type = payload[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.#fragment = undefined;
      return this.#nal([payload]);
    }
    if (type === NAL.stapA) {
      this.#fragment = undefined;
      for (let at = 1; at < payload.length; ) {
        if (at + 2 > payload.length) return this.#lose();
        const size = payload.readUInt16BE(at);
        at += 2;
        if (size === 0 || at + size > payload.length) return this.#lose();
        this.#nal([payload.subarray(at, at + size)]);
        at += size;
      }
      return;
    }
    if (type === NAL.fuA) {
      if (payload.length < 3) return this.#lose();
      const start = (payload[1]! & 0x80) !== 0;
      const end = (payload[1]! & 0x40) !== 0;
      if (start) {
        // The NAL header: F and NRI from the indicator, the type from the FU header.
        this.#fragment = [Buffer.from([(payload[0]! & 0xe0) | (payload[1]! & 0x1f)])];
        this.#fragmentBytes = 1;
      } else if (!this.#fragment) {
        // Its start was lost (or never came): the NAL unit is incomplete.
        return this.#lose();
      }
      this.#fragment.push(payload.subarray(2));
      this.#fragmentBytes += payload.length - 2;
      if (this.#fragmentBytes + this.#bytes > this.#maxUnitBytes) {
        this.#fragment = undefined;
        return this.#lose();
      }
      if (end) {
        const nal = this.#fragment;
        this.#fragment = undefined;
        this.#nal(nal);
      }
      return;
    }
    // STAP-B, MTAP, FU-B (interleaved mode, not offered) or reserved types: not readable here.
    this.#lose();
  }

  #lose(): void {
    this.counts.lostPackets++;
    this.#broken = true;
    this.#needKeyframe = true;
  }

  #nal(nal: Nal): void {
    const type = typeOf(nal);
    // The feed puts its own delimiter after each picture.
    if (type === NAL.aud) return;
    if (type === NAL.sps || type === NAL.pps) this.#remember(Buffer.concat(nal));
    const length = lengthOf(nal);
    if (this.#bytes + length > this.#maxUnitBytes) {
      this.#broken = true;
      return;
    }
    this.#nals.push(nal);
    this.#bytes += length + START_CODE.length;
  }

  #remember(nal: Buffer): void {
    const type = nal[0]! & 0x1f;
    if (type === NAL.sps) this.#sps = Buffer.from(nal);
    else if (type === NAL.pps) this.#pps = Buffer.from(nal);
  }

  /** Ends the picture in progress: the access unit, or undefined when there is none or it is dropped. */
  #finish(): AccessUnit | undefined {
    const nals = this.#nals;
    const broken = this.#broken || this.#fragment !== undefined;
    this.#nals = [];
    this.#bytes = 0;
    this.#broken = false;
    this.#fragment = undefined;
    const types = nals.map(typeOf);
    const slices = types.some((t) => t >= 1 && t <= 5);
    if (!slices) {
      // Parameter sets or SEI alone (some cameras send SPS and PPS as packets of their own, marked): kept for the next picture.
      if (nals.length && !broken) {
        this.#nals = nals;
        this.#bytes = nals.reduce((sum, n) => sum + lengthOf(n) + START_CODE.length, 0);
      }
      return undefined;
    }
    const keyframe = types.includes(NAL.idr);
    if (broken || (this.#needKeyframe && !keyframe)) {
      this.counts.dropped++;
      return undefined;
    }
    this.#needKeyframe = false;
    const parts: Buffer[] = [];
    const hasSps = types.includes(NAL.sps);
    const hasPps = types.includes(NAL.pps);
    if (keyframe && (!hasSps || !hasPps) && this.#sps && this.#pps) {
      // Before everything else in the unit: a decoder must have them before the first slice.
      parts.push(START_CODE, this.#sps, START_CODE, this.#pps);
      for (const nal of nals) {
        const t = typeOf(nal);
        if (t !== NAL.sps && t !== NAL.pps) parts.push(START_CODE, ...nal);
      }
    } else {
      for (const nal of nals) parts.push(START_CODE, ...nal);
    }
    this.counts.units++;
    // One copy, with room for the delimiter a decoder is written after it.
    parts.push(ACCESS_UNIT_DELIMITER);
    const delimited = Buffer.concat(parts);
    const data = delimited.subarray(0, delimited.length - ACCESS_UNIT_DELIMITER.length);
    return { data, delimited, keyframe, parameterSets: keyframe && ((hasSps && hasPps) || (this.#sps !== undefined && this.#pps !== undefined)) };
  }
}
