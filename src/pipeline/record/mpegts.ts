/**
 * Just enough MPEG-TS to cut a live stream into independently decodable
 * segments without re-encoding: find the video PID from the PAT and PMT, and
 * for each video PES its presentation time and whether it is a keyframe
 * (ffmpeg's muxer sets the random-access indicator on keyframes). Everything
 * else passes through untouched.
 */

export const TS_PACKET = 188;
const SYNC = 0x47;
const PTS_WRAP = 2 ** 33;

/** Stream types from the PMT (ISO 13818-1 table 2-34, plus H.264/HEVC). */
export type VideoCodec = "h264" | "hevc" | "other";

function codecOf(streamType: number): VideoCodec | undefined {
  if (streamType === 0x1b) return "h264";
  if (streamType === 0x24) return "hevc";
  if (streamType === 0x01 || streamType === 0x02 || streamType === 0x10 || streamType === 0x42) return "other";
  return undefined;
}

export interface TsPacketInfo {
  /** The 188 bytes of the packet (a view into the chunk it came in). */
  bytes: Buffer;
  kind: "pat" | "pmt" | "video" | "other";
  /** Video only: a PES starts in this packet. */
  frameStart: boolean;
  /** Video only: that PES is a keyframe. */
  keyframe: boolean;
  /** Video only, on frame starts: presentation time in ms, unwrapped (monotonic across the 26.5 h wrap). */
  ptsMs?: number;
}

/**
 * Splits a byte stream into TS packets and classifies them. Keeps the partial
 * packet between chunks and resynchronises on garbage.
 */
export class TsReader {
  #rest: Buffer = Buffer.alloc(0);
  #pmtPid = -1;
  #videoPid = -1;
  #codec: VideoCodec | undefined;
  #lastRawPts = -1;
  #wraps = 0;
  /** The newest PAT and PMT packets, to put in front of a clip so a demuxer finds the streams at once. */
  pat: Buffer | undefined;
  pmt: Buffer | undefined;

  get codec(): VideoCodec | undefined {
    return this.#codec;
  }

  *read(chunk: Buffer): Generator<TsPacketInfo> {
    let data = this.#rest.length ? Buffer.concat([this.#rest, chunk]) : chunk;
    let offset = 0;
    while (data.length - offset >= TS_PACKET) {
      if (data[offset] !== SYNC) {
        // Lost sync: skip to the next byte that starts a run of two sync bytes.
        const next = data.indexOf(SYNC, offset + 1);
        if (next < 0) {
          offset = data.length;
          break;
        }
        offset = next;
        if (data.length - offset > TS_PACKET && data[offset + TS_PACKET] !== SYNC) {
          offset += 1;
          continue;
        }
        continue;
      }
      const packet = data.subarray(offset, offset + TS_PACKET);
      offset += TS_PACKET;
      yield this.#classify(packet);
    }
    // Copy the tail, so the chunk it came from can be freed.
    this.#rest = Buffer.from(data.subarray(offset));
    data = Buffer.alloc(0);
  }

  #classify(packet: Buffer): TsPacketInfo {
    const pusi = (packet[1]! & 0x40) !== 0;
    const pid = ((packet[1]! & 0x1f) << 8) | packet[2]!;
    const afc = (packet[3]! >> 4) & 0x3;
    const hasAdaptation = (afc & 0x2) !== 0;
    const hasPayload = (afc & 0x1) !== 0;
    const afLength = hasAdaptation ? packet[4]! : 0;
    const payloadStart = hasAdaptation ? 5 + afLength : 4;
    const payload = hasPayload && payloadStart < TS_PACKET ? packet.subarray(payloadStart) : undefined;

    if (pid === 0) {
      if (pusi && payload) this.#readPat(payload);
      this.pat = Buffer.from(packet);
      return { bytes: packet, kind: "pat", frameStart: false, keyframe: false };
    }
    if (pid === this.#pmtPid) {
      if (pusi && payload) this.#readPmt(payload);
      this.pmt = Buffer.from(packet);
      return { bytes: packet, kind: "pmt", frameStart: false, keyframe: false };
    }
    if (pid !== this.#videoPid) return { bytes: packet, kind: "other", frameStart: false, keyframe: false };

    const randomAccess = hasAdaptation && afLength > 0 && (packet[5]! & 0x40) !== 0;
    if (!pusi || !payload) return { bytes: packet, kind: "video", frameStart: false, keyframe: false };
    const ptsMs = this.#readPts(payload);
    return { bytes: packet, kind: "video", frameStart: true, keyframe: randomAccess, ...(ptsMs === undefined ? {} : { ptsMs }) };
  }

  /** PAT: the first program's PMT PID. */
  #readPat(payload: Buffer): void {
    const section = payload.subarray(1 + payload[0]!);
    const length = ((section[1]! & 0x0f) << 8) | section[2]!;
    for (let i = 8; i + 4 <= 3 + length - 4; i += 4) {
      const program = (section[i]! << 8) | section[i + 1]!;
      if (program !== 0) {
        this.#pmtPid = ((section[i + 2]! & 0x1f) << 8) | section[i + 3]!;
        return;
      }
    }
  }

  /** PMT: the first video elementary stream. */
  #readPmt(payload: Buffer): void {
    const section = payload.subarray(1 + payload[0]!);
    const length = ((section[1]! & 0x0f) << 8) | section[2]!;
    const infoLength = ((section[10]! & 0x0f) << 8) | section[11]!;
    const end = Math.min(3 + length - 4, section.length);
    for (let i = 12 + infoLength; i + 5 <= end; ) {
      const streamType = section[i]!;
      const pid = ((section[i + 1]! & 0x1f) << 8) | section[i + 2]!;
      const esInfo = ((section[i + 3]! & 0x0f) << 8) | section[i + 4]!;
      const codec = codecOf(streamType);
      if (codec) {
        this.#videoPid = pid;
        this.#codec = codec;
        return;
      }
      i += 5 + esInfo;
    }
  }

  #readPts(payload: Buffer): number | undefined {
    if (payload.length < 14 || payload[0] !== 0 || payload[1] !== 0 || payload[2] !== 1) return undefined;
    if ((payload[7]! & 0x80) === 0) return undefined;
    const p = payload;
    // 33 bits spread over 5 bytes with marker bits; multiply instead of shifting past 32 bits.
    const raw = ((p[9]! >> 1) & 0x07) * 2 ** 30 + (p[10]! << 22) + ((p[11]! >> 1) << 15) + (p[12]! << 7) + (p[13]! >> 1);
    if (this.#lastRawPts >= 0 && raw < this.#lastRawPts - PTS_WRAP / 2) this.#wraps += 1;
    this.#lastRawPts = raw;
    return ((raw + this.#wraps * PTS_WRAP) / 90);
  }
}
