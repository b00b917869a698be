/**
 * H.264 as a byte stream (Annex B: a start code before each NAL unit), as
 * rpicam-vid writes it and as ffmpeg's `-f h264` reads it, cut into access
 * units: one picture each, with whatever parameter sets and SEI come before it.
 * A feed hands out whole access units, so a consumer can be started at a
 * keyframe and a slow one can skip to the next keyframe without ever receiving
 * half a picture.
 *
 * A unit is known to be complete only when the next one begins (a byte stream
 * has no end-of-picture mark): the splitter holds each picture until the first
 * NAL unit of the next, one frame interval. Units are handed on without access
 * unit delimiters; whoever writes them to a decoder puts one after each
 * ({@link ACCESS_UNIT_DELIMITER}), which lets ffmpeg's parser finish the
 * picture at once instead of waiting for the next one (../shared/RECIPES.md:
 * 2 ms instead of one frame interval).
 */

/** NAL unit types (H.264 table 7-1) that matter here. */
const NAL = { slice: 1, idr: 5, sei: 6, sps: 7, pps: 8, aud: 9 } as const;

const START_CODE = Buffer.from([0, 0, 0, 1]);
const START_3 = Buffer.from([0, 0, 1]);

/** An access unit delimiter (primary_pic_type 7: any slice type), with its start code. */
export const ACCESS_UNIT_DELIMITER = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);

export interface AccessUnit {
  /** Its NAL units, each behind a 4-byte start code; never an access unit delimiter. */
  data: Buffer;
  /** `data` followed by {@link ACCESS_UNIT_DELIMITER} in one buffer (what a decoder is written), when it was made so. */
  delimited?: Buffer;
  /** An IDR picture: a decoder can start here (given SPS and PPS). */
  keyframe: boolean;
  /** It carries an SPS and a PPS (rpicam-vid's `--inline` puts them before every IDR picture). */
  parameterSets: boolean;
}

export interface SplitterOptions {
  /** A unit growing past this without a boundary is garbage: dropped. Default 8 MiB (a 1080p IDR picture is well under 1 MiB). */
  maxUnitBytes?: number;
}

/**
 * Cuts a byte stream into access units (H.264 7.4.1.2.3, as far as a camera's
 * stream needs): a unit ends before an AUD, SPS, PPS or SEI that follows a
 * picture's slices, or before a slice that starts a new picture
 * (first_mb_in_slice 0). Pictures of several slices stay one unit. Bytes
 * before the first start code are skipped.
 */
export class AccessUnitSplitter {
  #buffer: Buffer = Buffer.alloc(0);
  /** Where the current (incomplete) NAL unit's header starts in #buffer; -1 before the first start code. */
  #nalStart = -1;
  #parts: Buffer[] = [];
  #bytes = 0;
  #hasSlice = false;
  #keyframe = false;
  #sps = false;
  #pps = false;
  #dropping = false;
  readonly #maxUnitBytes: number;

  constructor(options: SplitterOptions = {}) {
    this.#maxUnitBytes = options.maxUnitBytes ?? 8 * 1024 * 1024;
  }

  /** Adds bytes; returns the units they completed, in order. */
  push(chunk: Buffer): AccessUnit[] {
    const out: AccessUnit[] = [];
    const scanFrom = Math.max(0, this.#buffer.length - 3, this.#nalStart);
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    let at = this.#buffer.indexOf(START_3, scanFrom);
    while (at >= 0) {
      if (this.#nalStart >= 0) this.#nal(this.#buffer.subarray(this.#nalStart, at), out);
      this.#nalStart = at + 3;
      at = this.#buffer.indexOf(START_3, this.#nalStart);
    }
    // Keep only the NAL unit in progress (or, before any start code, the last bytes that may begin one).
    const keep = this.#nalStart >= 0 ? this.#nalStart : Math.max(0, this.#buffer.length - 3);
    this.#buffer = Buffer.from(this.#buffer.subarray(keep));
    if (this.#nalStart >= 0) this.#nalStart = 0;
    if (this.#buffer.length > this.#maxUnitBytes) {
      // One NAL unit this large is not video: start over at the next start code.
      this.#buffer = Buffer.alloc(0);
      this.#nalStart = -1;
      this.#reset();
    }
    return out;
  }

  /** The stream ended: the units still held, the last complete as it is. */
  flush(): AccessUnit[] {
    const out: AccessUnit[] = [];
    if (this.#nalStart >= 0) this.#nal(this.#buffer.subarray(this.#nalStart), out);
    this.#buffer = Buffer.alloc(0);
    this.#nalStart = -1;
    const last = this.#emit();
    if (last) out.push(last);
    return out;
  }

  #nal(raw: Buffer, out: AccessUnit[]): void {
    // A 4-byte start code's leading zero, and trailing_zero_8bits, belong to no NAL unit.
    let end = raw.length;
    while (end > 0 && raw[end - 1] === 0) end--;
    if (end === 0) return;
    const nal = raw.subarray(0, end);
    const type = nal[0]! & 0x1f;
    const slice = type === NAL.slice || type === NAL.idr;
    const startsPicture = slice ? (nal[1]! & 0x80) !== 0 : type === NAL.aud || type === NAL.sps || type === NAL.pps || type === NAL.sei || (type >= 14 && type <= 18);
    if (startsPicture && (this.#hasSlice || this.#dropping)) {
      const unit = this.#emit();
      if (unit) out.push(unit);
    }
    // Dropping the rest of an oversized unit, until the next picture begins.
    if (type === NAL.aud || this.#dropping) return;
    this.#parts.push(START_CODE, Buffer.from(nal));
    this.#bytes += START_CODE.length + nal.length;
    if (slice) this.#hasSlice = true;
    if (type === NAL.idr) this.#keyframe = true;
    if (type === NAL.sps) this.#sps = true;
    if (type === NAL.pps) this.#pps = true;
    if (this.#bytes > this.#maxUnitBytes) {
      this.#reset();
      this.#dropping = true;
    }
  }

  #emit(): AccessUnit | undefined {
    const unit = this.#hasSlice && !this.#dropping ? { data: Buffer.concat(this.#parts, this.#bytes), keyframe: this.#keyframe, parameterSets: this.#sps && this.#pps } : undefined;
    this.#reset();
    return unit;
  }

  #reset(): void {
    this.#parts = [];
    this.#bytes = 0;
    this.#hasSlice = false;
    this.#keyframe = false;
    this.#sps = false;
    this.#pps = false;
    this.#dropping = false;
  }
}

/** The SPS and PPS NAL units (without start codes) at the front of a unit, as rpicam-vid's `--inline` puts them before each keyframe. */
export function parameterSetsOf(unit: AccessUnit): { sps?: Buffer; pps?: Buffer } {
  const found: { sps?: Buffer; pps?: Buffer } = {};
  for (let at = unit.data.indexOf(START_CODE); at >= 0; ) {
    const next = unit.data.indexOf(START_CODE, at + START_CODE.length);
    const nal = unit.data.subarray(at + START_CODE.length, next < 0 ? unit.data.length : next);
    const type = nal[0]! & 0x1f;
    if (type === NAL.sps) found.sps = Buffer.from(nal);
    else if (type === NAL.pps) found.pps = Buffer.from(nal);
    else if (type !== NAL.sei) break;
    at = next;
  }
  return found;
}

/** `unit` with `sps` and `pps` in front, unless it has its own (a decoder starting at a keyframe needs them). */
export function withParameterSets(unit: AccessUnit, sps: Buffer | undefined, pps: Buffer | undefined): Buffer {
  if (unit.parameterSets || !sps || !pps) return unit.data;
  return Buffer.concat([START_CODE, sps, START_CODE, pps, unit.data]);
}
