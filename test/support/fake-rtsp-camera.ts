/**
 * An RTSP camera of our own (net.createServer on 127.0.0.1), for what
 * gst-rtsp-server will not do: cameras that misbehave. It speaks RTSP over TCP
 * with interleaved RTP as cameras do (OPTIONS, DESCRIBE, SETUP, PLAY,
 * GET_PARAMETER, TEARDOWN; Basic or Digest logins with and without qop;
 * redirects; an audio track listed first; RTCP sender reports) and sends real
 * H.264 made by ffmpeg, packetised per RFC 6184 (STAP-A for SPS and PPS, FU-A
 * for NAL units over 1200 bytes, the marker on each picture's last packet), in
 * real time. Then it can be told to misbehave: drop sessions that send no
 * keep-alive, switch to a stream of another size, stop sending, or send
 * endless headers, an endless or absurd SDP, truncated packets, garbage.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A made H.264 stream: its pictures, each as NAL units (no start codes), at 10 fps. */
export interface H264Clip {
  width: number;
  height: number;
  pictures: Buffer[][];
  sps: Buffer;
  pps: Buffer;
}

/**
 * Makes a clip with ffmpeg (cached): `seconds` of noise over a flat grey of
 * `luma`, so a picture's size needs FU-A and its brightness tells which clip a
 * decoded frame came from. A keyframe every 10 pictures; SPS and PPS only at the start.
 */
export async function makeH264Clip(width: number, height: number, luma: number, seconds = 3): Promise<H264Clip> {
  const dir = path.join(os.tmpdir(), "vigil-fake-camera");
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${width}x${height}-${luma}-${seconds}.h264`);
  if (!(await fs.stat(file).catch(() => undefined))) {
    const hex = luma.toString(16).padStart(2, "0");
    const tmp = `${file}.${process.pid}.tmp`;
    await run("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", `color=c=0x${hex}${hex}${hex}:size=${width}x${height}:rate=10,noise=alls=25:allf=t`, "-t", String(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "10", "-pix_fmt", "yuv420p", "-f", "h264", tmp]);
    await fs.rename(tmp, file);
  }
  const bytes = await fs.readFile(file);
  const nals: Buffer[] = [];
  let start = -1;
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      if (start >= 0) nals.push(trimZeros(bytes.subarray(start, i)));
      start = i + 3;
      i += 2;
    }
  }
  if (start >= 0) nals.push(trimZeros(bytes.subarray(start)));
  const pictures: Buffer[][] = [];
  let current: Buffer[] = [];
  let sps: Buffer | undefined;
  let pps: Buffer | undefined;
  for (const nal of nals) {
    const type = nal[0]! & 0x1f;
    if (type === 7) sps ??= nal;
    if (type === 8) pps ??= nal;
    if (type === 9) continue;
    current.push(nal);
    // One slice per picture (x264 ultrafast at these sizes): a slice ends the picture.
    if (type === 1 || type === 5) {
      pictures.push(current);
      current = [];
    }
  }
  return { width, height, pictures, sps: sps!, pps: pps! };
}

function trimZeros(nal: Buffer): Buffer {
  let end = nal.length;
  while (end > 0 && nal[end - 1] === 0) end--;
  return nal.subarray(0, end);
}

export type FakeAuth = { user: string; password: string; scheme: "basic" | "digest" | "digest-qop" | "ntlm" };

export interface FakeCameraOptions {
  /** Played in turn, each once, the last in a loop (the camera changes its stream when the next begins). */
  clips: H264Clip[];
  auth?: FakeAuth;
  /** Session timeout announced in SETUP's Session header. Default 60. */
  sessionTimeoutS?: number;
  /** Drop the connection when no keep-alive came within the session timeout (as many cameras do). */
  dropWithoutKeepAlive?: boolean;
  /** List GET_PARAMETER in OPTIONS' Public header. Default true. */
  getParameter?: boolean;
  /** An audio track (PCMA) listed before the video. */
  audioFirst?: boolean;
  /** Send an RTCP sender report on the RTCP channel every second. */
  senderReports?: boolean;
  /** The first clip's SPS and PPS only in the SDP, never in the stream. */
  parameterSetsOnlyInSdp?: boolean;
  /** `a=control` of the video track as an absolute URL (default: relative, `trackID=1`). */
  absoluteControl?: boolean;
  /** Content-Base of DESCRIBE's answer. Default: the request URL with a slash. */
  contentBase?: string | null;
  /** Answer DESCRIBE with this many redirects (302) before the stream, each to `/hopN`. */
  redirects?: number;
  /** Answer this many DESCRIBEs with 503 Service Unavailable first, as a camera starting up or with too many viewers does. */
  busyFor?: number;
  /** What the SDP says the video is. Default H264. */
  codec?: "H264" | "H265";
  /** Stop sending pictures this long after PLAY on the first connection (the connection stays open). */
  silentAfterMs?: number;
  /** How this camera breaks the protocol (on every connection). */
  hostile?: "endless-headers" | "absurd-sdp" | "endless-sdp" | "truncated" | "garbage";
}

export interface FakeRequest {
  connection: number;
  method: string;
  uri: string;
  headers: Record<string, string>;
}

export class FakeRtspCamera {
  port = 0;
  /** Connections accepted. */
  connections = 0;
  /** DESCRIBEs answered 503 so far (`busyFor`). */
  busyAnswers = 0;
  /** Connections open now. */
  open = 0;
  readonly requests: FakeRequest[] = [];
  /** RTCP packets received from clients (receiver reports). */
  receiverReports = 0;
  /** Bytes written to each connection, by connection number. */
  readonly written = new Map<number, number>();
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #nonce = randomBytes(8).toString("hex");

  private constructor(readonly options: FakeCameraOptions) {
    this.#server = net.createServer((socket) => this.#serve(socket));
  }

  static async start(options: FakeCameraOptions): Promise<FakeRtspCamera> {
    const camera = new FakeRtspCamera(options);
    await new Promise<void>((resolve) => camera.#server.listen(0, "127.0.0.1", resolve));
    camera.port = (camera.#server.address() as net.AddressInfo).port;
    return camera;
  }

  url(pathname = "cam", credentials?: { user: string; password: string } | null): string {
    const creds = credentials === undefined ? this.options.auth : credentials;
    const userinfo = creds ? `${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@` : "";
    return `rtsp://${userinfo}127.0.0.1:${this.port}/${pathname}`;
  }

  methods(method: string): FakeRequest[] {
    return this.requests.filter((r) => r.method === method);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(socket: net.Socket): void {
    const connection = ++this.connections;
    this.open++;
    this.#sockets.add(socket);
    this.written.set(connection, 0);
    const timers: NodeJS.Timeout[] = [];
    let buffer = Buffer.alloc(0);
    let session: string | undefined;
    let lastKeepAlive = Date.now();
    let playing = false;
    const opts = this.options;
    const timeoutS = opts.sessionTimeoutS ?? 60;
    const write = (data: Buffer | string) => {
      if (socket.destroyed) return false;
      const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
      this.written.set(connection, (this.written.get(connection) ?? 0) + bytes.length);
      return socket.write(bytes);
    };
    const stop = () => {
      for (const timer of timers) clearInterval(timer);
    };
    socket.on("error", () => undefined);
    socket.on("close", () => {
      stop();
      this.open--;
      this.#sockets.delete(socket);
    });

    const reply = (cseq: string, status: string, headers: string[] = [], body = "") => {
      write([`RTSP/1.0 ${status}`, `CSeq: ${cseq}`, ...headers, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), "", ""].join("\r\n") + body);
    };

    const authorized = (method: string, headers: Record<string, string>): boolean => {
      const auth = opts.auth;
      if (!auth) return true;
      const given = headers.authorization ?? "";
      if (auth.scheme === "basic") return given === `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString("base64")}`;
      if (auth.scheme === "ntlm") return false;
      const params = new Map([...given.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1]!, m[2] ?? m[3] ?? ""]));
      if (!given.startsWith("Digest ") || params.get("username") !== auth.user || params.get("nonce") !== this.#nonce) return false;
      const md5 = (s: string) => createHash("md5").update(s).digest("hex");
      const ha1 = md5(`${auth.user}:vigil-test:${auth.password}`);
      const ha2 = md5(`${method}:${params.get("uri")}`);
      const expected = auth.scheme === "digest-qop" ? md5(`${ha1}:${this.#nonce}:${params.get("nc")}:${params.get("cnonce")}:${params.get("qop")}:${ha2}`) : md5(`${ha1}:${this.#nonce}:${ha2}`);
      if (auth.scheme === "digest-qop" && params.get("qop") !== "auth") return false;
      return params.get("response") === expected;
    };
    const challenge = () => {
      const auth = opts.auth!;
      if (auth.scheme === "basic") return ['WWW-Authenticate: Basic realm="vigil-test"'];
      if (auth.scheme === "ntlm") return ["WWW-Authenticate: NTLM"];
      return [`WWW-Authenticate: Digest realm="vigil-test", nonce="${this.#nonce}"${auth.scheme === "digest-qop" ? ', qop="auth", algorithm=MD5, opaque="5ccc"' : ""}`];
    };

    const sdp = (base: string) => {
      const clip = opts.clips[0]!;
      const sprop = `${clip.sps.toString("base64")},${clip.pps.toString("base64")}`;
      const video = opts.codec === "H265" ? ["m=video 0 RTP/AVP 96", "a=rtpmap:96 H265/90000"] : ["m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", `a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=${sprop}`];
      const control = opts.absoluteControl ? `${base.replace(/\/$/, "")}/video-abs` : "trackID=1";
      return [
        "v=0",
        "o=- 0 0 IN IP4 127.0.0.1",
        "s=Fake camera",
        "t=0 0",
        "a=control:*",
        ...(opts.audioFirst ? ["m=audio 0 RTP/AVP 8", "a=rtpmap:8 PCMA/8000", "a=control:trackID=0"] : []),
        ...video,
        `a=control:${control}`,
        "",
      ].join("\r\n");
    };

    const play = () => {
      playing = true;
      let seq = Math.floor(Math.random() * 60000);
      let picture = 0;
      let clipIndex = 0;
      let index = 0;
      const started = Date.now();
      const ssrc = 0x1234abcd;
      const packet = (payload: Buffer, marker: boolean, timestamp: number) => {
        const header = Buffer.alloc(12);
        header[0] = 0x80;
        header[1] = (marker ? 0x80 : 0) | 96;
        header.writeUInt16BE(seq, 2);
        seq = (seq + 1) & 0xffff;
        header.writeUInt32BE(timestamp >>> 0, 4);
        header.writeUInt32BE(ssrc, 8);
        const rtp = Buffer.concat([header, payload]);
        const frame = Buffer.alloc(4);
        frame[0] = 0x24;
        frame[1] = 0;
        frame.writeUInt16BE(rtp.length, 2);
        return Buffer.concat([frame, rtp]);
      };
      const send = () => {
        if (connection === 1 && opts.silentAfterMs !== undefined && Date.now() - started > opts.silentAfterMs) return;
        if (opts.dropWithoutKeepAlive && Date.now() - lastKeepAlive > timeoutS * 1000) {
          socket.destroy();
          return;
        }
        const clip = opts.clips[clipIndex]!;
        let nals = clip.pictures[index]!;
        if (opts.parameterSetsOnlyInSdp && clipIndex === 0) nals = nals.filter((n) => (n[0]! & 0x1f) !== 7 && (n[0]! & 0x1f) !== 8);
        const timestamp = picture * 9000;
        const out: Buffer[] = [];
        const sets = nals.filter((n) => (n[0]! & 0x1f) === 7 || (n[0]! & 0x1f) === 8);
        const rest = nals.filter((n) => !sets.includes(n));
        if (sets.length) {
          // STAP-A: the parameter sets in one packet, each behind its 16-bit size.
          out.push(Buffer.from([0x78]), ...sets.flatMap((n) => [Buffer.from([n.length >> 8, n.length & 0xff]), n]));
          write(packet(Buffer.concat(out.splice(0)), false, timestamp));
        }
        rest.forEach((nal, i) => {
          const last = i === rest.length - 1;
          if (nal.length <= 1200) {
            write(packet(nal, last, timestamp));
            return;
          }
          // FU-A: indicator (F, NRI, type 28), header (S, E, type), then the NAL's payload in pieces.
          for (let at = 1; at < nal.length; at += 1200) {
            const end = at + 1200 >= nal.length;
            const fu = Buffer.from([(nal[0]! & 0xe0) | 28, (at === 1 ? 0x80 : 0) | (end ? 0x40 : 0) | (nal[0]! & 0x1f)]);
            write(packet(Buffer.concat([fu, nal.subarray(at, at + 1200)]), last && end, timestamp));
          }
        });
        picture++;
        index++;
        if (index >= clip.pictures.length) {
          index = 0;
          if (clipIndex < opts.clips.length - 1) clipIndex++;
        }
      };
      send();
      timers.push(setInterval(send, 100));
      if (opts.senderReports) {
        timers.push(
          setInterval(() => {
            const sr = Buffer.alloc(28);
            sr[0] = 0x80;
            sr[1] = 200;
            sr.writeUInt16BE(6, 2);
            sr.writeUInt32BE(ssrc, 4);
            sr.writeUInt32BE(Math.floor(Date.now() / 1000) + 2208988800, 8);
            sr.writeUInt32BE(0, 12);
            sr.writeUInt32BE((picture * 9000) >>> 0, 16);
            const frame = Buffer.from([0x24, 1, 0, sr.length]);
            write(Buffer.concat([frame, sr]));
          }, 1000),
        );
      }
      if (opts.hostile === "truncated") {
        // A frame that says 60000 bytes, half of them, and the connection closes.
        setTimeout(() => {
          write(Buffer.concat([Buffer.from([0x24, 0, 0xea, 0x60]), randomBytes(30000)]));
          socket.end();
        }, 1500);
      }
      if (opts.hostile === "garbage") {
        // Frames of absurd and random lengths on every channel, RTP that is not, bytes that are nothing.
        timers.push(
          setInterval(() => {
            const length = Math.floor(Math.random() * 65536);
            write(Buffer.concat([Buffer.from([0x24, Math.floor(Math.random() * 4), length >> 8, length & 0xff]), randomBytes(length)]));
            write(Buffer.from(randomBytes(200).map((b) => b | 0x80)));
          }, 50),
        );
      }
    };

    const handle = (method: string, uri: string, headers: Record<string, string>) => {
      const cseq = headers.cseq ?? "0";
      this.requests.push({ connection, method, uri, headers });
      if (method === "GET_PARAMETER" || (method === "OPTIONS" && session)) lastKeepAlive = Date.now();
      if (opts.hostile === "endless-headers") {
        // Header lines, for ever, never the blank line that ends them.
        write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n`);
        const flood = () => {
          while (!socket.destroyed && write(`X-Padding: ${"x".repeat(100)}\r\n`));
        };
        socket.on("drain", flood);
        flood();
        return;
      }
      if (method === "OPTIONS") return reply(cseq, "200 OK", [`Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN${opts.getParameter === false ? "" : ", GET_PARAMETER"}`, ...(session ? [`Session: ${session}`] : [])]);
      if (!authorized(method, headers)) return reply(cseq, "401 Unauthorized", challenge());
      if (method === "DESCRIBE") {
        if (this.busyAnswers < (opts.busyFor ?? 0)) {
          this.busyAnswers++;
          return reply(cseq, "503 Service Unavailable");
        }
        const hop = Number(/\/hop(\d+)$/.exec(uri)?.[1] ?? 0);
        if (opts.redirects && hop < opts.redirects) return reply(cseq, "302 Moved Temporarily", [`Location: rtsp://127.0.0.1:${this.port}/hop${hop + 1}`]);
        if (opts.hostile === "absurd-sdp") return reply(cseq, "200 OK", ["Content-Type: application/sdp", "Content-Length: 1099511627776"]);
        if (opts.hostile === "endless-sdp") {
          write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: 60000\r\n\r\nv=0\r\n`);
          timers.push(setInterval(() => write("a=x-padding:0\r\n"), 200));
          return;
        }
        const base = opts.contentBase === undefined ? `${uri.replace(/\/$/, "")}/` : opts.contentBase;
        return reply(cseq, "200 OK", ["Content-Type: application/sdp", ...(base === null ? [] : [`Content-Base: ${base}`])], sdp(base ?? uri));
      }
      if (method === "SETUP") {
        if (!/interleaved/.test(headers.transport ?? "")) return reply(cseq, "461 Unsupported Transport");
        session = randomBytes(6).toString("hex");
        return reply(cseq, "200 OK", [`Session: ${session};timeout=${timeoutS}`, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1"]);
      }
      if (method === "PLAY") {
        if (headers.session !== session) return reply(cseq, "454 Session Not Found");
        reply(cseq, "200 OK", [`Session: ${session}`, "Range: npt=0.000-"]);
        if (!playing) play();
        return;
      }
      if (method === "GET_PARAMETER") return reply(cseq, headers.session === session ? "200 OK" : "454 Session Not Found", session ? [`Session: ${session}`] : []);
      if (method === "TEARDOWN") {
        reply(cseq, "200 OK");
        socket.end();
        return;
      }
      reply(cseq, "501 Not Implemented");
    };

    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (buffer.length === 0) return;
        if (buffer[0] === 0x24) {
          if (buffer.length < 4) return;
          const length = buffer.readUInt16BE(2);
          if (buffer.length < 4 + length) return;
          if (buffer[5] === 201) this.receiverReports++;
          buffer = buffer.subarray(4 + length);
          continue;
        }
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const [start = "", ...lines] = buffer.subarray(0, end).toString("latin1").split("\r\n");
        buffer = buffer.subarray(end + 4);
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(":");
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const [method = "", uri = ""] = start.split(" ");
        handle(method, uri, headers);
      }
    });
  }
}
