/**
 * One RTSP session with a camera, over TCP with RTP interleaved (RFC 2326):
 * OPTIONS, DESCRIBE (Basic or Digest login, at most 3 redirects), SETUP of the
 * H.264 video track alone, PLAY; then the pictures, each handed on at its last
 * packet (h264-depacketizer.ts), a keep-alive at half the session's timeout
 * (GET_PARAMETER, or OPTIONS when the camera does not list GET_PARAMETER), an
 * RTCP receiver report every few seconds as ffmpeg sends them (gst-rtsp-server
 * does not need them over TCP, where the open connection keeps the session, but
 * some cameras time a client out without them), and TEARDOWN when stopped.
 *
 * A camera that fails is one sentence (CameraConnectError, the same sentences
 * as ffmpeg's failures: input-options.ts); one that answers in a way this client
 * does not read (H.265, another login scheme, no H.264 track) is an
 * UnsupportedCameraError, and the caller falls back to ffmpeg's RTSP input.
 * Credentials go only into Authorization headers: never into a request line, a
 * log line or an error.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import { CameraConnectError, UnsupportedCameraError } from "../../../errors.js";
import { silentLogger, type Logger } from "../../../log.js";
import { maskUrl, redact } from "../../../redact.js";
import type { AccessUnit } from "../annexb.js";
import { FAILURE_SENTENCES, type FfmpegFailureReason } from "../input-options.js";
import { Authenticator, chooseChallenge, type Credentials } from "./auth.js";
import { H264Depacketizer, parseRtp } from "./h264-depacketizer.js";
import { formatFrame, formatRequest, header, RtspProtocolError, RtspReader, type InterleavedFrame, type ReaderLimits, type RtspMessage } from "./message.js";
import { chooseVideoTrack, type VideoTrack } from "./sdp.js";

export interface RtspSessionOptions {
  /** The camera's rtsp:// URL, credentials in it (never logged). */
  url: string;
  /** Each picture, at its last packet. */
  onUnit: (unit: AccessUnit) => void;
  /** Ends the session (TEARDOWN, then the connection closes). */
  signal: AbortSignal;
  logger?: Logger;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** Longest wait for an answer during the handshake. Default 8 s (gst-rtsp-server answers DESCRIBE at its next keyframe). */
  requestTimeoutMs?: number;
  /** Between RTCP receiver reports. Default 5 s. */
  receiverReportMs?: number;
  /** Keep-alive interval when the camera names no session timeout. Default 30 s (half of RFC 2326's default 60 s). */
  keepAliveMs?: number;
  limits?: ReaderLimits;
  /** Called once the TCP connection is open (a later timeout is a camera that answers slowly, not one that is away). */
  onConnected?: () => void;
}

/** How a session that had started ended without an error: stopped by the caller, or closed by the camera. */
export type SessionEnd = "stopped" | "closed";

const MAX_REDIRECTS = 3;
const USER_AGENT = "Vigil";

/** The sentence-carrying error for `reason`, the camera's URL masked. */
function failure(url: string, reason: FfmpegFailureReason, sentence: string = FAILURE_SENTENCES[reason], cause?: unknown): CameraConnectError {
  return new CameraConnectError(sentence, "camera", maskUrl(url), reason, cause === undefined ? undefined : { cause });
}

/** The URL without user and password: what goes into request lines. */
function bare(url: string): string {
  const parsed = new URL(url);
  parsed.username = "";
  parsed.password = "";
  return parsed.href;
}

function credentialsOf(url: string): Credentials | undefined {
  const parsed = new URL(url);
  if (!parsed.username && !parsed.password) return undefined;
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  return { username: decode(parsed.username), password: decode(parsed.password) };
}

function connectReason(error: NodeJS.ErrnoException): FfmpegFailureReason {
  switch (error.code) {
    case "ECONNREFUSED":
      return "refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
      return "unreachable";
    case "ETIMEDOUT":
      return "timeout";
    default:
      return "unknown";
  }
}

interface Pending {
  cseq: number;
  resolve: (message: RtspMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** A TCP connection to the camera: requests out, responses matched to them, interleaved frames to `onFrame`. */
class Connection {
  readonly #socket: net.Socket;
  readonly #reader: RtspReader;
  #cseq = 0;
  readonly #pending: Pending[] = [];
  #error: Error | undefined;
  #onClose: ((error: Error | undefined) => void)[] = [];
  onFrame: (frame: InterleavedFrame) => void = () => undefined;
  readonly closed: Promise<Error | undefined>;

  constructor(socket: net.Socket, limits: ReaderLimits | undefined, private readonly url: string) {
    this.#socket = socket;
    this.#reader = new RtspReader(limits);
    this.closed = new Promise((resolve) => this.#onClose.push(resolve));
    socket.on("data", (chunk: Buffer) => this.#data(chunk));
    socket.on("error", (error) => this.#fail(error));
    socket.on("close", () => this.#fail(undefined));
  }

  #data(chunk: Buffer): void {
    let items;
    try {
      items = this.#reader.push(chunk);
    } catch (error) {
      this.#fail(error instanceof RtspProtocolError ? failure(this.url, "invalid", "the camera's answer is not valid RTSP", error) : (error as Error));
      this.#socket.destroy();
      return;
    }
    for (const item of items) {
      if (this.#socket.destroyed) return;
      if (item.type === "frame") this.onFrame(item.frame);
      else if (item.message.kind === "response") this.#response(item.message);
      else this.#answer(item.message);
    }
  }

  #response(message: RtspMessage): void {
    const cseq = Number(header(message, "cseq"));
    const index = Number.isInteger(cseq) ? this.#pending.findIndex((p) => p.cseq === cseq) : 0;
    // An answer to nothing we are waiting for (a keep-alive's, or a CSeq the camera got wrong): ignored.
    if (index < 0 || !this.#pending[index]) return;
    const [pending] = this.#pending.splice(index, 1);
    clearTimeout(pending!.timer);
    pending!.resolve(message);
  }

  /** A request from the camera (some send OPTIONS or SET_PARAMETER to see the client is there). */
  #answer(message: RtspMessage): void {
    const cseq = header(message, "cseq") ?? "0";
    const known = ["OPTIONS", "GET_PARAMETER", "SET_PARAMETER", "ANNOUNCE"].includes(message.text);
    this.write(Buffer.from(`RTSP/1.0 ${known ? "200 OK" : "501 Not Implemented"}\r\nCSeq: ${cseq.replace(/[^\d]/g, "").slice(0, 10) || "0"}\r\nUser-Agent: ${USER_AGENT}\r\n\r\n`));
  }

  #fail(error: Error | undefined): void {
    if (this.#onClose.length === 0) return;
    this.#error = error ?? new Error("closed");
    for (const pending of this.#pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(this.#error);
    }
    for (const resolve of this.#onClose.splice(0)) resolve(error);
    this.#socket.destroy();
  }

  get open(): boolean {
    return !this.#error && !this.#socket.destroyed;
  }

  write(data: Buffer): void {
    if (this.open) this.#socket.write(data);
  }

  /** Sends a request; resolves with its response, rejects when the connection ends or `timeoutMs` passes (0: no limit). */
  request(method: string, uri: string, headers: [string, string][], timeoutMs: number): Promise<RtspMessage> {
    if (!this.open) return Promise.reject(this.#error ?? new Error("closed"));
    const cseq = ++this.#cseq;
    return new Promise<RtspMessage>((resolve, reject) => {
      const pending: Pending = { cseq, resolve, reject, timer: undefined };
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          const index = this.#pending.indexOf(pending);
          if (index >= 0) this.#pending.splice(index, 1);
          reject(failure(this.url, "timeout"));
        }, timeoutMs);
      }
      this.#pending.push(pending);
      this.write(formatRequest(method, uri, [["CSeq", String(cseq)], ["User-Agent", USER_AGENT], ...headers]));
    });
  }

  /** Sends a request without waiting for its answer (keep-alives, TEARDOWN). */
  send(method: string, uri: string, headers: [string, string][]): void {
    this.write(formatRequest(method, uri, [["CSeq", String(++this.#cseq)], ["User-Agent", USER_AGENT], ...headers]));
  }

  destroy(): void {
    this.#fail(undefined);
  }

  /** Resolves once everything written has been handed to the kernel, or after `ms`. */
  async flush(ms: number): Promise<void> {
    if (!this.open) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#socket.write(Buffer.alloc(0), () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function connect(url: string, timeoutMs: number, signal: AbortSignal, limits: ReaderLimits | undefined): Promise<Connection> {
  const parsed = new URL(url);
  const port = parsed.port ? Number(parsed.port) : 554;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const done = (error?: Error) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.removeAllListeners("error");
      socket.removeAllListeners("connect");
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(new Connection(socket, limits, url));
    };
    const timer = setTimeout(() => done(failure(url, "timeout")), timeoutMs);
    const onAbort = () => done(new Error("stopped"));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => done());
    socket.once("error", (error: NodeJS.ErrnoException) => done(failure(url, connectReason(error), undefined, error)));
  });
}

/** What the handshake found: the track, the session and its channels, or a redirect. */
type Handshake = { redirect: string } | { track: VideoTrack; session: string; timeoutS: number; rtpChannel: number; rtcpChannel: number; getParameter: boolean; base: string; auth: Authenticator | undefined };

/**
 * Runs one session until `signal` aborts (resolves "stopped", after TEARDOWN) or
 * the camera closes the connection once pictures have been asked for ("closed").
 * Rejects with a CameraConnectError or an UnsupportedCameraError.
 */
export async function runRtspSession(options: RtspSessionOptions): Promise<SessionEnd> {
  const logger = options.logger ?? silentLogger;
  const { signal } = options;
  let credentials = credentialsOf(options.url);
  const secrets = credentials?.password ? [credentials.password] : [];
  let target = bare(options.url);
  const firstHost = new URL(target).host;
  for (let redirects = 0; ; redirects++) {
    if (signal.aborted) return "stopped";
    const connection = await connect(target, options.connectTimeoutMs ?? 5000, signal, options.limits);
    options.onConnected?.();
    try {
      const result = await handshake(connection, target, credentials, options, signal);
      if ("redirect" in result) {
        if (redirects >= MAX_REDIRECTS) throw failure(target, "invalid", `the camera redirected more than ${MAX_REDIRECTS} times`);
        const next = parseUrl(result.redirect, target);
        if (!/^rtsp:$/i.test(next.protocol)) throw new UnsupportedCameraError(`the camera redirects to a ${next.protocol.replace(/:$/, "")} URL, which Vigil's RTSP client does not open`, maskUrl(target));
        // The password goes to the camera it was given for, never to another host a redirect names.
        if (next.host !== firstHost) credentials = undefined;
        logger.debug({ from: maskUrl(target), to: maskUrl(bare(next.href)) }, "rtsp: redirected");
        target = bare(next.href);
        continue;
      }
      return await stream(connection, result, options, signal);
    } catch (error) {
      if (signal.aborted) return "stopped";
      if (error instanceof CameraConnectError || error instanceof UnsupportedCameraError) throw error;
      // The connection ended under a request: the camera hung up on us.
      throw failure(target, "unknown", "the camera closed the connection before sending video", new Error(redact(String((error as Error).message ?? error), secrets)));
    } finally {
      connection.destroy();
    }
  }
}

/** A URL the camera gave (a redirect's Location, a Content-Base), relative to `base`; one that is not a URL is a broken answer. */
function parseUrl(text: string, base: string): URL {
  try {
    return new URL(text, base);
  } catch (cause) {
    throw failure(base, "invalid", "the camera's answer is not valid RTSP", cause);
  }
}

/** A request that logs in when the camera asks (401): once, or again when the camera says the nonce went stale. */
async function authorized(connection: Connection, auth: Authenticator | undefined, method: string, uri: string, headers: [string, string][], timeoutMs: number, url: string): Promise<RtspMessage> {
  for (let attempt = 0; ; attempt++) {
    const authorization = auth?.header(method, uri);
    const response = await connection.request(method, uri, authorization ? [...headers, ["Authorization", authorization]] : headers, timeoutMs);
    if (response.status !== 401) return response;
    if (!auth) throw failure(url, "unauthorized");
    const choice = chooseChallenge(response.headers.get("www-authenticate") ?? []);
    if ("unsupported" in choice) throw new UnsupportedCameraError(`the camera asks for a login Vigil's RTSP client does not speak (${choice.unsupported})`, maskUrl(url));
    const stale = choice.challenge.scheme === "digest" && choice.challenge.stale;
    // Answered once already, and not for a stale nonce: the camera refuses these credentials.
    if ((auth.scheme && !stale) || attempt >= 2) throw failure(url, "unauthorized");
    auth.use(choice.challenge);
  }
}

function statusFailure(url: string, response: RtspMessage, what: string): Error {
  if (response.status === 401 || response.status === 403) return failure(url, "unauthorized");
  if (response.status === 404) return failure(url, "not-found");
  if (response.status === 503) return failure(url, "busy");
  if (response.status === 461) return failure(url, "invalid", "the camera does not send its video over TCP; set the camera's transport to udp");
  if (response.status === 454) return failure(url, "unknown", "the camera ended the session");
  return failure(url, "unknown", `the camera answered ${what} with ${response.status} ${response.text.slice(0, 40).replace(/[^\x20-\x7e]/g, "")}`.trim());
}

async function handshake(connection: Connection, url: string, credentials: Credentials | undefined, options: RtspSessionOptions, signal: AbortSignal): Promise<Handshake> {
  const timeoutMs = options.requestTimeoutMs ?? 8000;
  const auth = credentials ? new Authenticator(credentials) : undefined;
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(new Error("stopped"));
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    void connection.closed.then(() => signal.removeEventListener("abort", onAbort));
  });
  aborted.catch(() => undefined);
  const ask = (method: string, uri: string, headers: [string, string][]) => Promise.race([authorized(connection, auth, method, uri, headers, timeoutMs, url), aborted]);

  const options_ = await ask("OPTIONS", url, []);
  // Some cameras ask for a login on OPTIONS too, others answer it with an error: only its list of methods matters.
  const methods = (header(options_, "public") ?? "").toUpperCase().split(",").map((m) => m.trim());
  const described = await ask("DESCRIBE", url, [["Accept", "application/sdp"]]);
  if (described.status >= 300 && described.status < 400) {
    const location = header(described, "location");
    if (!location) throw failure(url, "invalid", `the camera answered DESCRIBE with ${described.status} and no new address`);
    return { redirect: location };
  }
  if (described.status !== 200) throw statusFailure(url, described, "DESCRIBE");
  const base = header(described, "content-base") ?? header(described, "content-location") ?? url;
  const choice = chooseVideoTrack(described.body.toString("utf8"), parseUrl(base, url).href);
  if ("unsupported" in choice) throw new UnsupportedCameraError(choice.unsupported, maskUrl(url));
  const { track, aggregate } = choice;
  const setup = await ask("SETUP", track.control, [["Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"]]);
  if (setup.status !== 200) throw statusFailure(url, setup, "SETUP");
  const sessionHeader = header(setup, "session");
  if (!sessionHeader) throw failure(url, "invalid", "the camera gave no session for the video track");
  const [session = "", ...params] = sessionHeader.split(";").map((p) => p.trim());
  const timeoutParam = params.find((p) => /^timeout=/i.test(p));
  const timeoutS = timeoutParam ? Number(timeoutParam.slice(8)) : NaN;
  const interleaved = /interleaved=(\d+)(?:-(\d+))?/i.exec(header(setup, "transport") ?? "");
  const rtpChannel = interleaved ? Number(interleaved[1]) : 0;
  const rtcpChannel = interleaved?.[2] !== undefined ? Number(interleaved[2]) : rtpChannel + 1;
  if (header(setup, "transport") && !/TCP/i.test(header(setup, "transport")!)) throw failure(url, "invalid", "the camera does not send its video over TCP; set the camera's transport to udp");
  const play = await ask("PLAY", aggregate, [["Session", session], ["Range", "npt=0.000-"]]);
  if (play.status !== 200) throw statusFailure(url, play, "PLAY");
  return { track, session, timeoutS: Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : 0, rtpChannel, rtcpChannel, getParameter: methods.includes("GET_PARAMETER"), base: aggregate, auth };
}

/** Reads the pictures until the camera closes the connection or `signal` aborts. */
async function stream(connection: Connection, session: Extract<Handshake, { track: VideoTrack }>, options: RtspSessionOptions, signal: AbortSignal): Promise<SessionEnd> {
  const logger = options.logger ?? silentLogger;
  const depacketizer = new H264Depacketizer({ parameterSets: session.track.parameterSets });
  const ourSsrc = randomBytes(4).readUInt32BE(0);
  const report = { ssrc: undefined as number | undefined, highest: 0, cycles: 0, lastSr: 0, lastSrAt: 0 };
  let started = false;
  connection.onFrame = (frame) => {
    if (frame.channel === session.rtpChannel) {
      const packet = parseRtp(frame.data);
      if (!packet || packet.payloadType !== session.track.payloadType) return;
      if (report.ssrc === undefined) report.ssrc = packet.ssrc;
      if (started && packet.sequence < report.highest && report.highest - packet.sequence > 0x8000) report.cycles++;
      started = true;
      report.highest = packet.sequence;
      const unit = depacketizer.push(packet);
      if (unit) options.onUnit(unit);
    } else if (frame.channel === session.rtcpChannel) {
      // Sender reports: their NTP time goes back in the next receiver report (LSR), so the camera can measure the round trip.
      for (let at = 0; at + 8 <= frame.data.length; ) {
        const length = (frame.data.readUInt16BE(at + 2) + 1) * 4;
        if (frame.data[at + 1] === 200 && at + 20 <= frame.data.length) {
          report.lastSr = frame.data.readUInt32BE(at + 10);
          report.lastSrAt = performance.now();
        }
        at += length;
      }
    }
  };
  const { auth } = session;
  const keepAliveMs = session.timeoutS ? Math.max(1000, (session.timeoutS * 1000) / 2) : (options.keepAliveMs ?? 30_000);
  const method = session.getParameter ? "GET_PARAMETER" : "OPTIONS";
  const url = bare(options.url);
  const keepAlive = setInterval(() => {
    const headers: [string, string][] = [["Session", session.session]];
    void authorized(connection, auth, method, session.base, headers, keepAliveMs, url).then(
      (response) => {
        if (response.status === 454) {
          logger.warn({ url: maskUrl(url) }, "rtsp: the camera forgot the session");
          connection.destroy();
        }
      },
      () => undefined,
    );
  }, keepAliveMs);
  const receiverReports = setInterval(() => {
    if (report.ssrc === undefined) return;
    const rr = Buffer.alloc(32);
    rr[0] = 0x81; // V=2, one report block
    rr[1] = 201;
    rr.writeUInt16BE(7, 2);
    rr.writeUInt32BE(ourSsrc, 4);
    rr.writeUInt32BE(report.ssrc, 8);
    rr.writeUInt32BE(Math.min(depacketizer.counts.lostPackets, 0x7fffff), 12);
    rr.writeUInt32BE(((report.cycles << 16) | report.highest) >>> 0, 16);
    rr.writeUInt32BE(0, 20);
    rr.writeUInt32BE(report.lastSr >>> 0, 24);
    rr.writeUInt32BE(report.lastSr ? Math.round(((performance.now() - report.lastSrAt) / 1000) * 65536) >>> 0 : 0, 28);
    connection.write(formatFrame(session.rtcpChannel, rr));
  }, options.receiverReportMs ?? 5000);
  const onAbort = () => {
    // TEARDOWN, handed to the kernel before the connection closes: the camera frees the session at once.
    void authorized(connection, auth, "TEARDOWN", session.base, [["Session", session.session]], 1000, url)
      .catch(() => undefined)
      .finally(() => connection.destroy());
  };
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    const error = await connection.closed;
    if (signal.aborted) return "stopped";
    if (error instanceof CameraConnectError) throw error;
    logger.debug({ url: maskUrl(url), pictures: depacketizer.counts.units, dropped: depacketizer.counts.dropped, lostPackets: depacketizer.counts.lostPackets }, "rtsp: the camera closed the connection");
    return "closed";
  } finally {
    clearInterval(keepAlive);
    clearInterval(receiverReports);
    signal.removeEventListener("abort", onAbort);
  }
}
