/**
 * One camera's recording: its video as MPEG-TS (no re-encoding), cut at
 * keyframes into the in-memory {@link SegmentRing}.
 *
 * A fed stream (the Pi camera, an RTSP camera over TCP) comes from the camera's
 * H.264 feed (h264-feed.ts: the one rpicam-vid or RTSP session that detection
 * reads too), from its next keyframe, with SPS and PPS in front of every
 * keyframe (many cameras send them only once, in the SDP, and a clip cut from
 * the middle would not decode without them). Its pictures go into the ring as
 * they are, each stamped with the moment its last packet came, and into MPEG-TS
 * (ts-muxer.ts) only when a clip takes them: no process per camera. While the
 * feed has no pictures the buffer counts as offline and the feed's sentence is
 * its error; a camera that changes its stream (a new SPS) starts a new run, so
 * no clip mixes two sizes.
 *
 * Any other stream (UDP, rtsps, H.265, a file) is copied by an ffmpeg child,
 * supervised like a camera source: respawned after any exit (ffmpeg exits 0
 * when an RTSP server dies), killed when no data arrives for a while (it hangs
 * forever on a stalled TCP source), with backoff, and stopped with `q`,
 * SIGTERM, SIGKILL. Credentials never appear in a log line or status.
 */
import { Writable } from "node:stream";
import type { RecordingCameraStatus } from "../../domain/recorder.js";
import type { Logger } from "../../log.js";
import { maskUrl, redact } from "../../redact.js";
import { failureOf, retryPlan, waitBeforeRetry, type AttemptFailure, type BackoffOptions } from "../source/backoff.js";
import { spawnFfmpeg } from "../source/ffmpeg-child.js";
import type { FeedSubscription, H264Feeds } from "../source/h264-feed.js";
import { explainFfmpegFailure, inputOptions, inputUrl, isFedStream } from "../source/input-options.js";
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

  type RunEnd = { healthy: boolean; failure: AttemptFailure; restart?: "new-stream" | "fallback" | "feed-down" };

  async function once(): Promise<RunEnd> {
    if (feed?.status().state === "fallback") {
      // The feed cannot read this camera (said once in the log): ffmpeg opens it from now on.
      const leaving = feed;
      feed = undefined;
      await leaving.close();
    }
    run += 1;
    return feed ? fromFeed(feed, run) : fromFfmpeg(run);
  }

  /** Why a run was ended early, said when the next starts at once: none of them is a failure. */
  function restarted(restart: NonNullable<RunEnd["restart"]>): RunEnd {
    const why = { "new-stream": "the camera changed its stream", fallback: "the camera is read by ffmpeg's RTSP input from now on", "feed-down": "the camera's video stopped" }[restart];
    log.info(`recording: ${why}; a new run starts with its next keyframe`);
    return { healthy: true, failure: "ended", restart };
  }

  /**
   * A fed camera's run: its pictures go into the ring as they arrive; no
   * ffmpeg. It lasts until the camera changes its stream or its video stops
   * (the feed restarts the camera and says why), the feed falls back to
   * ffmpeg, or the buffer stops.
   */
  async function fromFeed(subscription: FeedSubscription, thisRun: number): Promise<RunEnd> {
    let firstData = 0;
    let restart: RunEnd["restart"];
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const finish = (why: NonNullable<RunEnd["restart"]>) => {
      restart ??= why;
      end();
    };
    subscription.attach((data, keyframe) => {
      const arrival = now();
      if (firstData === 0) {
        firstData = arrival;
        state = "recording";
        log.info({ url: masked, codec: "h264" }, "recording: buffering video");
      }
      // Each picture is stamped when its last packet came, as ffmpeg's -use_wallclock_as_timestamps did.
      const ptsMs = arrival - firstData;
      ring.pushPicture(data, keyframe, ptsMs, arrival, thisRun);
    });
    newStream = () => finish("new-stream");
    // The camera went away after video came: this run ends here, so no segment (and no clip) spans the gap.
    feedWentDown = () => firstData > 0 && finish("feed-down");
    const watchdog = setInterval(() => subscription.status().state === "fallback" && finish("fallback"), 1000);
    controller.signal.addEventListener("abort", end, { once: true });
    try {
      await ended;
    } finally {
      newStream = undefined;
      feedWentDown = undefined;
      subscription.detach();
      clearInterval(watchdog);
      controller.signal.removeEventListener("abort", end);
      ring.endRun();
    }
    if (firstData > 0) hadVideo = true;
    return restart && !controller.signal.aborted ? restarted(restart) : { healthy: true, failure: "ended" };
  }

  /** A run of ffmpeg copying the camera's stream (read by ffmpeg's own input) as MPEG-TS into the ring. */
  async function fromFfmpeg(thisRun: number): Promise<RunEnd> {
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
    const child = spawnFfmpeg({
      input: inputUrl(options.url),
      inputOptions: inputOptions(options.url, { transport: options.transport, realtimeFile: true }),
      outputOptions,
      output,
      ffmpegPath: options.ffmpegPath,
      logger: log,
    });
    // The watchdog: RTSP over TCP can hang forever on a silent, open connection.
    const watchdog = setInterval(() => {
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
      clearInterval(watchdog);
      controller.signal.removeEventListener("abort", onAbort);
      ring.endRun();
    }
    if (firstData > 0) hadVideo = true;
    const explained = explainFfmpegFailure(exit.stderr);
    if (!controller.signal.aborted) {
      const sentence = exit.spawnError ? `${options.ffmpegPath} is not installed` : stalled ? "the camera stopped sending video" : exit.stderr.trim() ? explained.sentence : "the stream ended";
      lastError = sentence;
      log.warn({ code: exit.code, signal: exit.signal, reason: sentence, detail: redact(exit.stderr.trim().split("\n").slice(-2).join(" | "), options.secrets) }, "recording: ffmpeg exited");
    }
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
