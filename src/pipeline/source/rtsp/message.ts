/**
 * What an RTSP connection over TCP carries (RFC 2326 §10.12): text messages
 * (responses to the client's requests, now and then a request from the camera)
 * and, between them, binary frames `$`, channel, 16-bit length, data: the
 * interleaved RTP and RTCP. The reader takes the bytes as they come and hands
 * out whole items. Everything a camera can make it hold is bounded: a header
 * block without its end, a body larger than any SDP, a length past what was
 * promised, bytes that are neither. A broken camera is one sentence, never
 * memory that grows.
 */

/** One response or request: start line, headers (names lower case), body. */
export interface RtspMessage {
  kind: "response" | "request";
  /** Response status (200, 401 …); 0 for a request. */
  status: number;
  /** Response reason phrase, or the request's method. */
  text: string;
  /** A request's URI; empty for a response. */
  uri: string;
  /** Lower-case names; a header given several times keeps every value, in order. */
  headers: Map<string, string[]>;
  body: Buffer;
}

/** An interleaved binary frame: RTP or RTCP of one channel. */
export interface InterleavedFrame {
  channel: number;
  data: Buffer;
}

export type RtspItem = { type: "message"; message: RtspMessage } | { type: "frame"; frame: InterleavedFrame };

/** The camera broke the protocol; `message` is the detail for the log. */
export class RtspProtocolError extends Error {}

export interface ReaderLimits {
  /** Most bytes of a start line and its headers. Default 16 KiB (a camera's are well under 2). */
  maxHeaderBytes?: number;
  /** Most bytes of a body. Default 64 KiB (an SDP is a few hundred bytes). */
  maxBodyBytes?: number;
  /** Most bytes that are neither a message nor a frame, skipped in a row, before the camera is given up on. Default 64 KiB. */
  maxGarbageBytes?: number;
}

const DOLLAR = 0x24;
const HEADER_END = Buffer.from("\r\n\r\n");
const HEADER_END_LF = Buffer.from("\n\n");
/** What a text message starts with: a response, or a request method in capitals. */
const MESSAGE_START = /^(?:RTSP\/\d\.\d |[A-Z_]{3,20} )/;

/** Header value, first given. */
export function header(message: RtspMessage, name: string): string | undefined {
  return message.headers.get(name.toLowerCase())?.[0];
}

export class RtspReader {
  #buffer: Buffer = Buffer.alloc(0);
  #garbage = 0;
  readonly #maxHeader: number;
  readonly #maxBody: number;
  readonly #maxGarbage: number;

  constructor(limits: ReaderLimits = {}) {
    this.#maxHeader = limits.maxHeaderBytes ?? 16 * 1024;
    this.#maxBody = limits.maxBodyBytes ?? 64 * 1024;
    this.#maxGarbage = limits.maxGarbageBytes ?? 64 * 1024;
  }

  /** Bytes held for an item not complete yet. */
  get pending(): number {
    return this.#buffer.length;
  }

  /**
   * Adds bytes from the socket; returns the items they completed. Frames are views into `chunk`,
   * which must not be reused afterwards. Throws RtspProtocolError on a broken stream.
   */
  push(chunk: Buffer): RtspItem[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const out: RtspItem[] = [];
    let at = 0;
    for (;;) {
      const item = this.#next(at);
      if (!item) break;
      at = item.end;
      if (item.item) out.push(item.item);
    }
    // Keep only the incomplete tail, copied so the chunk it came in can go.
    this.#buffer = at >= this.#buffer.length ? Buffer.alloc(0) : at > 0 ? Buffer.from(this.#buffer.subarray(at)) : this.#buffer;
    return out;
  }

  /** The item at `at`, or undefined when more bytes are needed. `item` is undefined for skipped bytes. */
  #next(at: number): { item?: RtspItem; end: number } | undefined {
    const buffer = this.#buffer;
    if (at >= buffer.length) return undefined;
    if (buffer[at] === DOLLAR) {
      if (buffer.length - at < 4) return undefined;
      const length = buffer.readUInt16BE(at + 2);
      if (buffer.length - at < 4 + length) return undefined;
      this.#garbage = 0;
      // A view, not a copy: every chunk pushed is a buffer of its own (a socket's), and the depacketizer copies a picture once.
      return { item: { type: "frame", frame: { channel: buffer[at + 1]!, data: buffer.subarray(at + 4, at + 4 + length) } }, end: at + 4 + length };
    }
    const head = buffer.toString("latin1", at, Math.min(buffer.length, at + 24));
    if (!MESSAGE_START.test(head)) {
      // Not yet enough to tell, or bytes that belong to nothing: skip to the next `$` or letter that may start something.
      if (head.length < 24 && /^[A-Z_/.\d ]*$/.test(head) && buffer.length - at < 24) return undefined;
      let next = at + 1;
      while (next < buffer.length && buffer[next] !== DOLLAR && !(buffer[next]! >= 0x41 && buffer[next]! <= 0x5a)) next++;
      this.#garbage += next - at;
      if (this.#garbage > this.#maxGarbage) throw new RtspProtocolError(`${this.#garbage} bytes that are neither RTSP nor interleaved RTP`);
      return { end: next };
    }
    let headerEnd = buffer.indexOf(HEADER_END, at);
    let separator = HEADER_END.length;
    const lf = buffer.indexOf(HEADER_END_LF, at);
    if (lf >= 0 && (headerEnd < 0 || lf < headerEnd)) {
      headerEnd = lf;
      separator = HEADER_END_LF.length;
    }
    if (headerEnd < 0) {
      if (buffer.length - at > this.#maxHeader) throw new RtspProtocolError(`headers longer than ${this.#maxHeader} bytes`);
      return undefined;
    }
    if (headerEnd - at > this.#maxHeader) throw new RtspProtocolError(`headers longer than ${this.#maxHeader} bytes`);
    const lines = buffer.toString("latin1", at, headerEnd).split(/\r?\n/);
    const start = lines.shift() ?? "";
    const headers = new Map<string, string[]>();
    let last: string | undefined;
    for (const line of lines) {
      // A line that starts with white space continues the previous header (RFC 2326 §4: HTTP's folding).
      if (/^[ \t]/.test(line) && last) {
        const values = headers.get(last)!;
        values[values.length - 1] += ` ${line.trim()}`;
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      const values = headers.get(last) ?? [];
      values.push(line.slice(colon + 1).trim());
      headers.set(last, values);
    }
    const lengthText = headers.get("content-length")?.[0];
    const length = lengthText === undefined ? 0 : Number(lengthText);
    if (!Number.isSafeInteger(length) || length < 0) throw new RtspProtocolError(`a Content-Length of ${lengthText!.slice(0, 20)}`);
    if (length > this.#maxBody) throw new RtspProtocolError(`a body of ${length} bytes (at most ${this.#maxBody})`);
    const bodyStart = headerEnd + separator;
    if (buffer.length - bodyStart < length) return undefined;
    this.#garbage = 0;
    const body = Buffer.from(buffer.subarray(bodyStart, bodyStart + length));
    const response = /^RTSP\/\d\.\d (\d{3})(?: (.*))?$/.exec(start);
    if (response) return { item: { type: "message", message: { kind: "response", status: Number(response[1]), text: response[2] ?? "", uri: "", headers, body } }, end: bodyStart + length };
    const request = /^([A-Z_]+) (\S+) RTSP\/\d\.\d$/.exec(start);
    if (!request) throw new RtspProtocolError(`a start line that is not RTSP: ${JSON.stringify(start.slice(0, 60))}`);
    return { item: { type: "message", message: { kind: "request", status: 0, text: request[1]!, uri: request[2]!, headers, body } }, end: bodyStart + length };
  }
}

/** One request as bytes: start line, headers in the order given, body. */
export function formatRequest(method: string, uri: string, headers: [string, string][], body?: Buffer): Buffer {
  const lines = [`${method} ${uri} RTSP/1.0`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (body?.length) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return body?.length ? Buffer.concat([head, body]) : head;
}

/** An interleaved frame as bytes (the client's RTCP receiver reports). */
export function formatFrame(channel: number, data: Buffer): Buffer {
  const head = Buffer.from([DOLLAR, channel, 0, 0]);
  head.writeUInt16BE(data.length, 2);
  return Buffer.concat([head, data]);
}
