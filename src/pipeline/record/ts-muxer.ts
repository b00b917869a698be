/**
 * Just enough of an MPEG-TS muxer to put a camera's H.264 access units into the
 * ring buffer without an ffmpeg per camera: one program, one video stream, a
 * PES per picture with its presentation time, the PCR on every picture and the
 * random-access indicator on keyframes (what {@link TsReader} and every demuxer
 * look for). Clips are joined from these packets by ffmpeg as before
 * (assemble.ts), so its output is read by the same code as ffmpeg's own TS.
 */
import { TS_PACKET } from "./mpegts.js";

const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;
const AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
const PES_HEADER = 14;
/** Adaptation field with a PCR: length byte, flags, 6 bytes of PCR. */
const PCR_FIELD = 8;
const PTS_WRAP = 2 ** 33;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32/MPEG-2 of a PSI section. */
function crc32Mpeg(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

/** A table section (PAT or PMT) in one TS packet of its PID. */
function psiPacket(pid: number, section: number[]): Buffer {
  const packet = Buffer.alloc(TS_PACKET, 0xff);
  packet.set([0x47, 0x40 | (pid >> 8), pid & 0xff, 0x10, 0x00], 0);
  const body = Buffer.from(section);
  body.writeUInt32BE(crc32Mpeg(body.subarray(0, body.length - 4)), body.length - 4);
  body.copy(packet, 5);
  return packet;
}

/** PAT: program 1 in the PMT at {@link PMT_PID}. */
const PAT = psiPacket(0, [0x00, 0xb0, 13, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff, 0, 0, 0, 0]);
/** PMT: one H.264 stream (type 0x1B) at {@link VIDEO_PID}, which carries the PCR too. */
const PMT = psiPacket(PMT_PID, [0x02, 0xb0, 18, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00, 0x1b, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00, 0, 0, 0, 0]);

/** PAT and PMT, for the front of every segment. */
export const TS_HEADER = Buffer.concat([PAT, PMT]);

export class TsMuxer {
  #continuity = 0;

  /**
   * One picture as TS packets: `body` is its NAL units in Annex B (an access unit
   * delimiter is put in front), `pts90k` its time on the 90 kHz clock.
   */
  mux(body: Buffer, pts90k: number, keyframe: boolean): Buffer {
    const pts = ((Math.round(pts90k) % PTS_WRAP) + PTS_WRAP) % PTS_WRAP;
    // PES: video stream 0, unbounded length, PTS only (cameras send no B-frames that need a DTS).
    const pes = Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0, 0, 0, 0, 0]);
    writeTimestamp(pes, 9, pts);
    // The payload is these three, copied straight into the packets.
    const pieces = [pes, AUD, body];
    const length = PES_HEADER + AUD.length + body.length;
    let piece = 0;
    let inPiece = 0;

    const packets = Math.ceil((length + PCR_FIELD) / (TS_PACKET - 4));
    const out = Buffer.allocUnsafe(packets * TS_PACKET);
    let read = 0;
    let at = 0;
    while (read < length) {
      const first = read === 0;
      const remaining = length - read;
      let field = first ? PCR_FIELD : 0;
      // The last packet is filled up with stuffing in its adaptation field.
      if (remaining < TS_PACKET - 4 - field) field = TS_PACKET - 4 - remaining;
      out[at] = 0x47;
      out[at + 1] = (first ? 0x40 : 0) | (VIDEO_PID >> 8);
      out[at + 2] = VIDEO_PID & 0xff;
      out[at + 3] = (field > 0 ? 0x30 : 0x10) | this.#continuity;
      this.#continuity = (this.#continuity + 1) & 0x0f;
      if (field > 0) {
        out[at + 4] = field - 1;
        if (field > 1) {
          let flags = 0;
          let used = 6;
          if (first) {
            flags = 0x10 | (keyframe ? 0x40 : 0);
            writePcr(out, at + 6, pts);
            used = 12;
          }
          out[at + 5] = flags;
          out.fill(0xff, at + used, at + 4 + field);
        }
      }
      let to = at + 4 + field;
      const end = at + TS_PACKET;
      while (to < end) {
        const source = pieces[piece]!;
        const n = Math.min(end - to, source.length - inPiece);
        source.copy(out, to, inPiece, inPiece + n);
        to += n;
        inPiece += n;
        if (inPiece === source.length) {
          piece++;
          inPiece = 0;
        }
      }
      read += TS_PACKET - 4 - field;
      at = end;
    }
    return out;
  }
}

/** A 33-bit PTS with the '0010' prefix and marker bits (ISO 13818-1 2.4.3.7). */
function writeTimestamp(buffer: Buffer, at: number, pts: number): void {
  const high = Math.floor(pts / 2 ** 30) & 0x07;
  const low = pts % 2 ** 30;
  buffer[at] = 0x20 | (high << 1) | 1;
  buffer[at + 1] = (low >>> 22) & 0xff;
  buffer[at + 2] = (((low >>> 15) & 0x7f) << 1) | 1;
  buffer[at + 3] = (low >>> 7) & 0xff;
  buffer[at + 4] = ((low & 0x7f) << 1) | 1;
}

/** PCR base (33 bits, 90 kHz) = `pts`, extension 0. */
function writePcr(buffer: Buffer, at: number, pts: number): void {
  const high = Math.floor(pts / 2 ** 25);
  const low = pts % 2 ** 25;
  buffer[at] = high & 0xff;
  buffer[at + 1] = (low >>> 17) & 0xff;
  buffer[at + 2] = (low >>> 9) & 0xff;
  buffer[at + 3] = (low >>> 1) & 0xff;
  buffer[at + 4] = ((low & 1) << 7) | 0x7e;
  buffer[at + 5] = 0;
}
