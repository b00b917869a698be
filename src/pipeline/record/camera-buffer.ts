/**
 * One camera's recording: an ffmpeg child copying the recording stream (no
 * re-encoding) as MPEG-TS to stdout, cut at keyframes into the in-memory
 * {@link SegmentRing}. Supervised like a camera source: respawned after any exit
 * (ffmpeg exits 0 when an RTSP server dies), killed when no data arrives for a
 * while (it hangs forever on a stalled TCP source), with backoff, and stopped
 * with `q`, SIGTERM, SIGKILL — the same ffmpeg child, backoff and port watch as
 * the detection source. Credentials never appear in a log line or status, and
 * for a fed stream not even in ffmpeg's argv.
 *
 * A fed stream (the Pi camera, an RTSP camera over TCP) comes from the camera's
 * H.264 feed on ffmpeg's stdin, from its next keyframe (h264-feed.ts: the one
 * rpicam-vid or RTSP session that detection reads too). Raw H.264 carries no
 * times: ffmpeg stamps each picture as it reads it, which the ring maps to wall
 * time like any other stream's (the feed writes each picture the moment its
 * last packet is in). While the feed has no pictures the watchdog waits (the
 * feed restarts the camera), the buffer counts as offline, and the feed's
 * sentence is its error. A camera that changes its stream (a new SPS) starts a
 * new ffmpeg run, so no clip mixes two sizes; one the feed cannot read (H.265
 * over RTSP) is recorded through ffmpeg's RTSP input, as before.
 */
import { Writable } from "node:stream";
import type { RecordingCameraStatus } from "../../domain/recorder.js";
import type { Logger } from "../../log.js";
import { maskUrl, redact } from "../../redact.js";
import { failureOf, retryPlan, waitBeforeRetry, type AttemptFailure, type BackoffOptions } from "../source/backoff.js";
import { spawnFfmpeg } from "../source/ffmpeg-child.js";
import type { FeedSubscription, H264Feeds } from "../source/h264-feed.js";
import { explainFfmpegFailure, FED_INPUT, inputOptions, inputUrl, isFedStream } from "../source/input-options.js";
import { TsReader } from "./mpegts.js";
import { SegmentRing } from "./segment-ring.js";

export interface CameraBufferOptions {
  cameraId: string;
  cameraName: string;
  /** The recording stream with credentials (never logged; {@link maskUrl} of it is). */
  url: string;
  /** Exact secrets to scrub from ffmpeg's messages (the camera password). */
  secrets: readonly string[];
  transport: "tcp" | "udp";
  ffmpegPath: string;
  logger: Logger;
  /** Most bytes kept in memory for this camera. */
  maxBytes: number;
  /** Kill ffmpeg when no data arrives for this long. Default 10 s. */
  stallTimeoutMs?: number;
  /** Waits between respawns, doubling after each failure. Default 0.5 s to 30 s. */
  backoff?: BackoffOptions;
  now?: () => number;
  /** Where a fed stream (`picam:N`) comes from. Required for one. */
  feeds?: H264Feeds;
}

/** A run that delivered video this long counts as healthy: the next failure starts the backoff over. */
const HEALTHY_MS = 30_000;

export interface CameraBuffer {
  readonly ring: SegmentRing;
  status(): RecordingCameraStatus;
  /** Drops video older than `keepFrom` (wall ms) that no one needs any more. */
  trim(keepFrom: number): void;
  stop(): Promise<void>;
}

export function createCameraBuffer(options: CameraBufferOptions): CameraBuffer {
  const now = options.now ?? Date.now;
  const stallMs = options.stallTimeoutMs ?? 10_000;
  const masked = maskUrl(options.url);
  const log = options.logger.child({ camera: options.cameraName });
  const ring = new SegmentRing({ maxBytes: options.maxBytes });
  const controller = new AbortController();
  let state: RecordingCameraStatus["state"] = "starting";
  let restarts = 0;
  let lastError: string | undefined;
  let run = 0;
  /** Whether this URL has ever given video (then a missing stream is a stalled source, not a wrong URL: backoff.ts). */
  let hadVideo = false;
  let feed: FeedSubscription | undefined;
  /** Set while a run reads the feed: stops it for the camera's new stream. */
  let newStream: (() => void) | undefined;
  /** Set while a run reads the feed: ends it when the camera's session ended (no segment spans the gap). */
  let feedWentDown: (() => void) | undefined;
  if (isFedStream(options.url, options.transport)) {
    if (!options.feeds) throw new Error(`${options.cameraName} is read through a feed (${masked}), and no feeds were given.`);
    feed = options.feeds.subscribe(options.url, { name: "recording", onNewStream: () => newStream?.(), onAttemptEnd: () => feedWentDown?.() });
  }
  /** Whether the feed has no pictures to give (the camera is starting or away): then no ffmpeg of ours is to blame. */
  const feedIdle = () => {
    const status = feed?.status();
    return status !== undefined && status.state !== "running" && status.state !== "fallback";
  };
  /** The feed's sentence while it has no pictures to give, once it knows why. */
  const feedDown = () => (feedIdle() ? feed?.status().lastError : undefined);

  const outputOptions = [
    "-map", "0:v:0", "-c", "copy",
    // Put SPS/PPS in front of every keyframe: many cameras send them only once, in the SDP,
    // and a clip cut from the middle of the stream would not decode without them.
    "-bsf:v", "dump_extra=freq=keyframe",
    "-f", "mpegts", "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0",
  ];

  async function once(): Promise<{ healthy: boolean; failure: AttemptFailure; restart?: "new-stream" | "fallback" | "feed-down" }> {
    if (feed?.status().state === "fallback") {
      // The feed cannot read this camera (said once in the log): ffmpeg opens it from now on.
      const leaving = feed;
      feed = undefined;
      await leaving.close();
    }
    run += 1;
    const thisRun = run;
    const reader = new TsReader();
    // PAT + PMT for the front of a segment, built only when a segment starts.
    const header = () => Buffer.concat([reader.pat ?? Buffer.alloc(0), reader.pmt ?? Buffer.alloc(0)]);
    const started = now();
    let lastData = started;
    let firstData = 0;
    let stalled = false;
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        const arrival = now();
        lastData = arrival;
        for (const packet of reader.read(chunk)) {
          if (!reader.pat || !reader.pmt || !reader.codec) continue;
          if (firstData === 0 && packet.keyframe) {
            firstData = arrival;
            state = "recording";
            log.info({ url: masked, codec: reader.codec }, "recording: buffering video");
          }
          ring.push(packet, arrival, thisRun, header, reader.codec);
        }
        callback();
      },
    });
    const fed = feed !== undefined;
    const child = spawnFfmpeg({
      input: fed ? FED_INPUT.input : inputUrl(options.url),
      inputOptions: fed ? [...FED_INPUT.options] : inputOptions(options.url, { transport: options.transport, realtimeFile: true }),
      outputOptions,
      output,
      ffmpegPath: options.ffmpegPath,
      logger: log,
      stdinInput: feed !== undefined,
    });
    if (feed) {
      const joined = feed;
      void child.started.then((stdin) => {
        if (stdin && !controller.signal.aborted) joined.attach(stdin);
      });
    }
    /** Why this run is being ended early, to start the next at once: none of them is a failure. */
    let restart: "new-stream" | "fallback" | "feed-down" | undefined;
    newStream = () => {
      restart = "new-stream";
      void child.stop();
    };
    feedWentDown = () => {
      // The camera went away after video came: this run ends here, so no segment (and no clip) spans the gap.
      if (firstData > 0 && !restart) {
        restart = "feed-down";
        void child.stop();
      }
    };
    // The watchdog: RTSP over TCP can hang forever on a silent, open connection.
    const watchdog = setInterval(() => {
      if (feed?.status().state === "fallback" && !restart) {
        restart = "fallback";
        void child.stop();
      }
      // The camera's feed has nothing to give: not this ffmpeg's fault, and the feed restarts the camera.
      if (feedIdle()) {
        lastData = now();
        feedWentDown?.();
      }
      if (now() - lastData > stallMs && !stalled) {
        stalled = true;
        log.warn({ seconds: Math.round((now() - lastData) / 1000) }, "recording: no video, restarting ffmpeg");
        void child.stop();
      }
    }, Math.min(1000, stallMs / 4));
    const onAbort = () => void child.stop();
    controller.signal.addEventListener("abort", onAbort, { once: true });
    let exit;
    try {
      exit = await child.exited;
    } finally {
      newStream = undefined;
      feedWentDown = undefined;
      feed?.detach();
      clearInterval(watchdog);
      controller.signal.removeEventListener("abort", onAbort);
      ring.endRun();
    }
    if (firstData > 0) hadVideo = true;
    if (restart && !controller.signal.aborted) {
      const why = { "new-stream": "the camera changed its stream", fallback: "the camera is read by ffmpeg's RTSP input from now on", "feed-down": "the camera's video stopped" }[restart];
      log.info(`recording: ${why}; a new run starts with its next keyframe`);
      return { healthy: true, failure: "ended", restart };
    }
    const explained = explainFfmpegFailure(exit.stderr);
    if (!controller.signal.aborted) {
      const sentence = exit.spawnError ? `${options.ffmpegPath} is not installed` : stalled ? "the camera stopped sending video" : exit.stderr.trim() ? explained.sentence : "the stream ended";
      lastError = sentence;
      log.warn({ code: exit.code, signal: exit.signal, reason: sentence, detail: redact(exit.stderr.trim().split("\n").slice(-2).join(" | "), options.secrets) }, "recording: ffmpeg exited");
    }
    if (firstData > 0) hadVideo = true;
    const failure: AttemptFailure = exit.spawnError ? "rejected" : stalled ? "silent" : exit.stderr.trim() ? failureOf(explained.reason, hadVideo) : "ended";
    return { healthy: firstData > 0 && now() - firstData >= HEALTHY_MS, failure };
  }

  const loop = (async () => {
    let failures = 0;
    while (!controller.signal.aborted) {
      const result = await once();
      if (controller.signal.aborted) break;
      if (result.restart) {
        // A camera that went away is counted by its feed (status below), not twice.
        if (result.restart !== "feed-down") restarts += 1;
        state = "starting";
        continue;
      }
      state = "offline";
      restarts += 1;
      failures = result.healthy ? 1 : failures + 1;
      // The same waits as the detection stream (source/backoff.ts): back within seconds of the camera.
      await waitBeforeRetry(options.url, retryPlan(result.failure, failures, options.backoff), controller.signal, options.backoff);
      if (!controller.signal.aborted) state = "starting";
    }
    state = "stopped";
    await feed?.close();
  })();

  return {
    ring,
    status() {
      const oldest = ring.oldestWall();
      const newest = ring.newestWall();
      const down = state === "recording" ? feedDown() : undefined;
      const error = down ?? (feed && state !== "recording" ? (feedDown() ?? lastError) : lastError);
      return {
        cameraId: options.cameraId,
        cameraName: options.cameraName,
        state: down ? "offline" : state,
        bufferSeconds: oldest !== undefined && newest !== undefined ? Math.round((newest - oldest) / 100) / 10 : 0,
        bufferBytes: ring.bytes,
        // The camera's session reopened counts too: the ffmpeg reading a feed keeps running through it.
        restarts: restarts + (feed?.status().restarts ?? 0),
        ...(error ? { lastError: error } : {}),
      };
    },
    trim(keepFrom) {
      ring.trim(keepFrom);
    },
    async stop() {
      controller.abort(); // the running child gets q, SIGTERM, SIGKILL; the loop ends when it is gone
      await loop;
    },
  };
}
