/**
 * A camera as an async generator of frames. One ffmpeg child at a time decodes
 * the stream to raw yuv420p at the detection size and rate; the child's life is
 * tied to the generator (leaving the loop stops it). Supervision follows what
 * ffmpeg really does (../shared/RECIPES.md): it exits with code 0 when an RTSP
 * server dies and hangs forever on a stalled TCP source, so every exit is
 * followed by a respawn and a no-frame watchdog kills a silent child. How long
 * to wait between attempts depends on why the last one ended (backoff.ts): a
 * camera is picked up again within seconds of coming back, and a camera that
 * rejects the login is not hammered.
 *
 * A fed stream (the Pi camera, `picam:N`; an RTSP camera over TCP) is not
 * opened by this ffmpeg: the camera's H.264 feed (h264-feed.ts: one rpicam-vid,
 * or one RTSP session of Vigil's own client, shared with the recorder) writes it
 * to ffmpeg's stdin, starting at a keyframe. The feed supervises the camera;
 * this source supervises its decoder, whose watchdog waits while the feed has no
 * pictures to give, and shows the feed's sentence when it is down. When the
 * camera changes its stream (a new SPS) the decoder is started again at once;
 * when the feed cannot read the camera at all (an RTSP camera sending H.265) it
 * leaves the feed and opens the camera with ffmpeg's RTSP input.
 */
import { streamKind } from "../../domain/stream-url.js";
import { CameraConnectError } from "../../errors.js";
import { silentLogger, type Logger } from "../../log.js";
import { maskUrl } from "../../redact.js";
import { yuv420Size, type Frame } from "../frame.js";
import { failureOf, retryPlan, waitBeforeRetry, type AttemptFailure, type BackoffOptions } from "./backoff.js";
import { spawnDecoder, spawnFfmpeg, type FfmpegExit } from "./ffmpeg-child.js";
import { createFrameSlot } from "./frame-slot.js";
import { frameSocketPath, receiveFrames, socketOutput } from "./frame-socket.js";
import type { FeedSubscription, H264Feeds } from "./h264-feed.js";
import { explainDeviceFailure, explainFfmpegFailure, FED_INPUT, inputOptions, inputUrl, isFedStream, isSnapshotUrl, MAX_POLL_FPS } from "./input-options.js";
import { createPictureChange } from "./picture-change.js";
import { rateFilter } from "./rate-filter.js";

export interface FrameSourceOptions {
  /** Camera name, for logs and messages. */
  camera: string;
  /** Stream URL with credentials in it (withCredentials); only its masked form is ever logged. */
  url: string;
  width: number;
  height: number;
  /** Frames per second delivered: the regular rate. */
  fps: number;
  /**
   * Decode up to this rate, and deliver the frames between the regular ones, marked
   * `extra`: all of them while {@link FrameSource.burst} is on (while something is
   * being confirmed); outside a burst (live only) those whose picture changed
   * (picture-change.ts; Vigil's decoder sends no other) to a consumer waiting for a
   * frame. Costs the decoder next to nothing: it decodes every frame anyway.
   * Default: `fps` (no frames in between).
   */
  burstFps?: number;
  transport?: "tcp" | "udp";
  /** Default "ffmpeg" on PATH. */
  ffmpegPath?: string;
  /**
   * Vigil's own decoder (lean-decoder.ts), for a fed stream: it does what the
   * ffmpeg child would, at half the memory. Without it, ffmpeg decodes.
   */
  decoder?: string;
  logger?: Logger;
  /** Clock for frame timestamps. Default Date.now. */
  now?: () => number;
  /**
   * Replay a file: every frame is delivered (ffmpeg waits for the consumer), frames
   * are stamped with video time, and the end of the file ends the generator instead
   * of a respawn. A failure to open it rejects with a CameraConnectError. Default false.
   */
  replay?: boolean;
  /** A local file paced at its native rate: `true` loops it like a live camera, `"once"` plays it once. Default false. */
  realtimeFile?: boolean | "once";
  /** An attempt that shows no first frame within this is killed. Default 10 s (RTSP needs ~2 s). */
  startTimeoutMs?: number;
  /** Once frames flow, a gap this long kills ffmpeg. Default the larger of 5 s and 5 frame intervals. */
  stallTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Grace period of each step of the stop sequence. Default 1000 ms. */
  graceMs?: number;
  /**
   * Where a fed stream (`picam:N`, `rtsp://` over TCP) comes from; it is joined
   * while the frames are read. Required for the Pi camera; without it an RTSP
   * camera is read by ffmpeg's RTSP input.
   */
  feeds?: H264Feeds;
  /** Live: told, once the current task is done, of each frame delivered; while the consumer is busy with an earlier one, `newer()` gives it. */
  onNewer?: () => void;
}

export interface SourceStatus {
  /** `starting`: no frame yet; `running`: frames flowing; `retrying`: between failed attempts. */
  state: "starting" | "running" | "retrying" | "stopped" | "ended";
  framesIn: number;
  framesDropped: number;
  /** ffmpeg respawns since the start. */
  restarts: number;
  /** Epoch ms of the last frame, 0 when none. */
  lastFrameAt: number;
  /** Frames per second over the last few seconds. */
  fps: number;
  /** Why the last attempt ended, one masked sentence. */
  lastError?: string;
}

export interface FrameSource {
  /** The frames. One consumer; leaving the loop (or `signal`) stops ffmpeg before the generator returns. */
  frames(signal?: AbortSignal): AsyncGenerator<Frame, void, undefined>;
  /** On: all the frames between the regular ones (`burstFps`) are delivered, marked `extra`. Off by default (see `burstFps`). */
  burst(on: boolean): void;
  /**
   * Live, while the consumer is handling a frame: the newer one that came meanwhile, taken now
   * instead of by the loop (undefined when none came; always in replay, which analyses every frame).
   */
  newer(): Frame | undefined;
  status(): SourceStatus;
  /**
   * The consumer is done with a frame's pixels and holds no reference to them:
   * the buffer is reused for a coming frame instead of allocating another
   * (a 640x360 frame is 350 kB, and at 5 a second per camera the garbage
   * collector would otherwise be among the largest costs of an idle camera).
   */
  recycle(data: Buffer): void;
}

/** Frame buffers kept for reuse: the newest frame, the one being handled, one in the slot. */
const MAX_SPARE = 3;

/**
 * Which frames fall on the regular grid of `fps`: the rate filter's rule
 * (rate-filter.ts), on the frames' times. A frame is regular when it is nearer to
 * the next due time than the frame after it would be; the grid restarts after a
 * gap or a jump back of more than 2 s.
 */
export function regularFrames(fps: number): (at: number) => boolean {
  const interval = 1000 / fps;
  let due: number | undefined;
  let previous: number | undefined;
  return (at) => {
    const halfGap = previous === undefined ? 0 : (at - previous) / 2;
    previous = at;
    if (due !== undefined && at + halfGap < due && at >= due - 2000) return false;
    due = due === undefined || Math.abs(at - due) > interval ? at + interval : due + interval;
    return true;
  };
}

/** What the last attempt's exit means, for the log, /status and the offline message, and for the wait before the next one. */
function describeExit(exit: FfmpegExit, stalled: "start" | "gap" | undefined, startTimeoutMs: number, hadPictures: boolean, device: string | undefined): { sentence: string; failure: AttemptFailure } {
  if (exit.spawnError) return { sentence: `ffmpeg could not be started (${exit.spawnError})`, failure: "rejected" };
  if (stalled === "gap") return { sentence: "the stream stopped sending pictures", failure: "silent" };
  if (stalled === "start") return { sentence: `no picture within ${Math.round(startTimeoutMs / 1000)} s of connecting`, failure: "silent" };
  if (exit.code === 0) return { sentence: "the stream ended", failure: "ended" };
  if (device) return { sentence: explainDeviceFailure(exit.stderr, device), failure: "rejected" };
  const { reason, sentence } = explainFfmpegFailure(exit.stderr);
  const failure = failureOf(reason, hadPictures);
  // This URL gave pictures before: "not a video Vigil can read" would send the user to check a URL that is right.
  return { sentence: failure === "silent" ? "the camera answers but sends no pictures" : sentence, failure };
}

/** What the source runs: ffmpeg's input, options and the effective frame rate. The benchmark's floor runs exactly this. */
export function decodeArgs(options: Pick<FrameSourceOptions, "url" | "width" | "height" | "fps" | "transport" | "realtimeFile">): { input: string; inputOptions: string[]; outputOptions: string[]; fps: number } {
  // A snapshot URL is polled at most MAX_POLL_FPS times a second, whatever the camera's rate.
  const fps = isSnapshotUrl(options.url) ? Math.min(options.fps, MAX_POLL_FPS) : options.fps;
  return {
    input: inputUrl(options.url),
    // One decoder thread: the cheapest per frame (../shared/RECIPES.md measured with it), and cameras run in parallel anyway.
    inputOptions: ["-threads", "1", ...inputOptions(options.url, { transport: options.transport ?? "tcp", realtimeFile: options.realtimeFile ?? false, pollFps: fps })],
    // Planar YUV at the detection size: motion reads the Y plane as is; colour is converted only for the detector and snapshots.
    // No frame is held back (rate-filter.ts), and one encoder thread: the rawvideo encoder is frame-threaded
    // by default, which holds each frame until the next one arrives (measured: 100 ms at 10 fps).
    outputOptions: ["-an", "-sn", "-dn", "-vf", `${rateFilter(fps)},scale=${options.width}:${options.height}:flags=bilinear`, "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-threads", "1", "-f", "rawvideo"],
    fps,
  };
}

export function createFrameSource(options: FrameSourceOptions): FrameSource {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const masked = maskUrl(options.url);
  const { width, height } = options;
  // Decoded at the burst rate; a snapshot URL's polling rate is capped (decodeArgs) and never bursts.
  const direct = decodeArgs({ ...options, fps: Math.max(options.fps, options.burstFps ?? 0) });
  const { outputOptions: outputArgs, fps } = direct;
  /** The frames' rate when they are not in a burst (the decoder's FPS; `fps` is its BURST_FPS). */
  const regularFps = Math.min(options.fps, fps);
  /** ffmpeg's input while the camera's feed writes to its stdin. */
  const fedInput = { input: FED_INPUT.input, inputOptions: ["-threads", "1", ...FED_INPUT.options] };
  const isRegular = regularFrames(regularFps);
  /** Outside a burst, a frame in between goes on only when its picture changed (Vigil's decoder sends no other). */
  const pictureChange = createPictureChange(width, height);
  const frameBytes = yuv420Size(width, height);
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const stallTimeoutMs = options.stallTimeoutMs ?? Math.max(5000, 5000 / fps);
  const replay = options.replay ?? false;

  // A frame the consumer never saw goes straight back for the next one (a busy machine drops many).
  const slot = createFrameSlot({ lossless: replay, onDrop: (frame) => recycle(frame.data) });
  let state: SourceStatus["state"] = "starting";
  let framesIn = 0;
  let framesDecoded = 0;
  let burst = false;
  let restarts = 0;
  let lastFrameAt = 0;
  let lastError: string | undefined;
  const arrivals: number[] = [];
  /** Frame buffers the consumer gave back (`recycle`), for the next frames. */
  const spare: Buffer[] = [];
  let started = false;
  const startedAt = now();
  /** The camera's feed while the frames are read (a fed stream only, until it falls back to ffmpeg's input). */
  let activeFeed: FeedSubscription | undefined;
  /** Set by the feed when the camera changed its stream: the running decoder is stopped and started again at once. */
  let newStream: (() => void) | undefined;
  /** Vigil's own decoder's switch for the frames in between, while one runs: it then sends only the frames asked for. */
  let switchBurst: ((on: boolean) => void) | undefined;
  /** The last picture before the stream broke off; undefined while it flows. */
  let downSince: number | undefined;

  function recycle(data: Buffer): void {
    if (spare.length < MAX_SPARE && data.length === frameBytes) spare.push(data);
  }
  /** The buffer ffmpeg's next frame is read into: one given back, or a new one in shared memory (the detector's worker threads read it where it is, with no copy). */
  const frameBuffer = () => spare.pop() ?? Buffer.from(new SharedArrayBuffer(frameBytes));

  /**
   * A frame from the decoder, in a buffer of its own (`frameBuffer`). Live: outside a
   * burst, a frame in between goes on only when its picture changed and the consumer
   * waits for a frame, so it never takes the slot from a regular one; replay delivers
   * them all and the consumer's side decides (below), so a replay does not depend on
   * timing. Returns false when the decoder must wait (replay, the consumer is behind):
   * `resume` is called once it has caught up.
   */
  function publish(data: Buffer, resume: () => void): boolean {
    const seq = framesDecoded++;
    const at = replay ? startedAt + (seq * 1000) / fps : now();
    lastFrameAt = at;
    state = "running";
    const extra = !isRegular(at);
    // While Vigil's decoder runs (switchBurst), it has already left out the unchanged pictures.
    if (extra && !burst && !replay && (!slot.idle || (!switchBurst && !pictureChange.changed(data)))) {
      recycle(data);
      return true;
    }
    if (!replay && !switchBurst) pictureChange.through(data);
    framesIn++;
    arrivals.push(performance.now());
    if (arrivals.length > 16) arrivals.shift();
    const frame: Frame = { width, height, data, at, seq, ...(extra ? { extra } : {}) };
    if (!replay) {
      slot.put(frame);
      if (options.onNewer) queueMicrotask(options.onNewer);
      return true;
    }
    let returned = false;
    let caughtUp = false;
    slot.put(frame, () => {
      caughtUp = true;
      if (returned) resume();
    });
    returned = true;
    return caughtUp;
  }

  /** The feed's sentence while it has no pictures to give (undefined while they flow, or for a stream ffmpeg opens itself). */
  function feedDown(feed: FeedSubscription | undefined): string | undefined {
    const status = feed?.status();
    return status && status.state !== "running" && status.state !== "fallback" ? status.lastError : undefined;
  }

  async function supervise(signal: AbortSignal): Promise<void> {
    let failures = 0;
    /** Whether this URL has ever given a picture (then a missing stream is a stalled source, not a wrong URL). */
    let hadPictures = false;
    let previousSentence: string | undefined;
    while (!signal.aborted) {
      let attemptFrames = 0;
      let lastActivity = performance.now();
      let stalled: "start" | "gap" | undefined;
      let socket: string;
      try {
        socket = await frameSocketPath();
      } catch (error) {
        if (replay) throw error;
        // Not the camera's fault, and nothing a camera setting can fix: said in /status and the log, tried again.
        lastError = error instanceof Error ? error.message.replace(/\.$/, "") : String(error);
        state = "retrying";
        logger.error({ camera: options.camera }, lastError);
        await waitBeforeRetry(options.url, retryPlan("rejected", ++failures, options.backoff), signal, options.backoff);
        continue;
      }
      if (signal.aborted) return;
      if (activeFeed?.status().state === "fallback") {
        // The feed cannot read this camera (said once in the log): ffmpeg opens it from now on.
        const leaving = activeFeed;
        activeFeed = undefined;
        await leaving.close();
      }
      const feed = activeFeed;
      const { input, inputOptions: inputArgs } = feed ? fedInput : direct;
      const output = socketOutput(socket);
      const receiver = receiveFrames(socket, frameBytes, frameBuffer, (raw) => {
        if (attemptFrames++ === 0) {
          failures = 0;
          hadPictures = true;
          previousSentence = undefined;
          // Old news now: a later drop must not be explained by it.
          lastError = undefined;
        }
        // The soak measures how soon a camera is back from this line (a fed camera comes back under the same decoder).
        if (downSince !== undefined) logger.info({ camera: options.camera, downMs: now() - downSince }, "camera stream: pictures again");
        downSince = undefined;
        lastActivity = performance.now();
        return publish(raw, () => receiver.resume());
      });
      const graceMs = options.graceMs ?? 1000;
      const child =
        feed && options.decoder
          ? spawnDecoder(options.decoder, [String(width), String(height), String(regularFps), String(fps), socket], { logger, graceMs })
          : spawnFfmpeg({
              input,
              inputOptions: inputArgs,
              outputOptions: [...outputArgs, ...output.options],
              output: output.target,
              ffmpegPath: options.ffmpegPath ?? "ffmpeg",
              logger,
              graceMs,
              stdinInput: feed !== undefined,
            });
      if (feed) {
        void child.started.then((stdin) => {
          if (stdin && !signal.aborted) feed.attach(stdin);
        });
      }
      const onAbort = () => {
        receiver.close();
        void child.stop();
      };
      switchBurst = feed && options.decoder ? (on) => receiver.send(on ? 1 : 0) : undefined;
      if (burst) switchBurst?.(true);
      let restart: "new-stream" | "fallback" | undefined;
      newStream = () => {
        restart = "new-stream";
        void child.stop();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      // Replay never stalls on its own: a slow consumer pauses ffmpeg on purpose.
      const watchdog = replay
        ? undefined
        : setInterval(() => {
            if (feed && feed.status().state === "fallback" && !restart) {
              restart = "fallback";
              void child.stop();
            }
            // No pictures from the camera's feed: nothing for this decoder to decode, so no fault of it.
            if (feed && feed.status().state !== "running") {
              lastActivity = performance.now();
              if (attemptFrames > 0 && downSince === undefined) downSince = lastFrameAt;
            }
            const limit = attemptFrames === 0 ? startTimeoutMs : stallTimeoutMs;
            if (!stalled && performance.now() - lastActivity > limit) {
              stalled = attemptFrames === 0 ? "start" : "gap";
              logger.warn({ camera: options.camera, url: masked, pid: child.pid(), silentMs: Math.round(performance.now() - lastActivity) }, "no frames from ffmpeg: killing it");
              void child.stop();
            }
          }, Math.min(500, startTimeoutMs / 4, stallTimeoutMs / 4));
      let exit: FfmpegExit;
      try {
        exit = await child.exited;
        // What ffmpeg wrote before it exited may still be on its way (the end of a replayed file).
        await receiver.finish();
      } finally {
        newStream = undefined;
        switchBurst = undefined;
        feed?.detach();
        receiver.close();
        clearInterval(watchdog);
        signal.removeEventListener("abort", onAbort);
      }
      if (signal.aborted) return;
      if (restart) {
        // Not a failure: a decoder for the camera's new stream, or ffmpeg's own input, at once.
        if (restart === "new-stream") logger.info({ camera: options.camera }, "camera stream: the camera changed its stream; decoding it afresh");
        restarts++;
        continue;
      }
      const described = describeExit(exit, stalled, startTimeoutMs, hadPictures, streamKind(options.url) === "device" ? options.url : undefined);
      // The camera's feed knows better why there are no pictures.
      const fromFeed = feedDown(feed);
      const { sentence, failure } = fromFeed ? { sentence: fromFeed, failure: "silent" as const } : described;
      if (replay) {
        state = "ended";
        if (exit.code === 0 && !exit.spawnError) return;
        const explained = explainFfmpegFailure(exit.stderr);
        const why = exit.spawnError ? sentence : explained.reason === "not-found" ? "the file does not exist" : "it is not a video ffmpeg can read";
        throw new CameraConnectError(`Could not read ${options.camera}: ${why}.`, options.camera, masked, explained.reason);
      }
      lastError = sentence;
      if (attemptFrames === 0) failures++;
      else downSince = lastFrameAt;
      const plan = retryPlan(failure, failures, options.backoff);
      const log = sentence === previousSentence ? logger.debug.bind(logger) : logger.warn.bind(logger);
      log({ camera: options.camera, url: masked, code: exit.code, signal: exit.signal, stderr: exit.stderr || undefined, frames: attemptFrames, retryInMs: plan.delayMs, watchPort: plan.watchPort || undefined }, `camera stream: ${sentence}`);
      previousSentence = sentence;
      state = "retrying";
      await waitBeforeRetry(options.url, plan, signal, options.backoff);
      restarts++;
    }
  }

  return {
    async *frames(signal) {
      if (started) throw new Error("A frame source has one consumer; frames() was called twice.");
      started = true;
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) controller.abort();
      // A fed stream: joined for as long as the frames are read (the first consumer starts the camera).
      // An RTSP camera without feeds is read by ffmpeg's RTSP input; the Pi camera has no other way.
      if (isFedStream(options.url, options.transport ?? "tcp") && !replay && (options.feeds || streamKind(options.url) === "picam")) {
        if (!options.feeds) throw new Error(`${options.camera} is read through a feed (${masked}), and no feeds were given.`);
        activeFeed = options.feeds.subscribe(options.url, {
          name: "detection",
          start: "cached",
          onNewStream: () => newStream?.(),
          // The camera's attempts in this camera's log, as ffmpeg's own are (the feed says each sentence once at warn).
          onAttemptEnd: ({ sentence, retryInMs, watchPort, pictures }) => {
            // The camera's session broke off under a decoder that keeps running: its next picture is "pictures again".
            if (framesDecoded > 0 && downSince === undefined) downSince = lastFrameAt;
            logger.debug({ camera: options.camera, url: masked, frames: pictures, retryInMs, watchPort: watchPort || undefined }, `camera stream: ${sentence}`);
          },
        });
      }
      // Ends the generator when the supervisor ends (replay finished, or stopped).
      const supervisor = supervise(controller.signal).then(
        () => slot.close(),
        (error: unknown) => slot.close(error instanceof Error ? error : new Error(String(error))),
      );
      controller.signal.addEventListener("abort", () => slot.close(), { once: true });
      try {
        for (;;) {
          const frame = await slot.take();
          if (!frame) return;
          if (frame.extra && !burst && replay) continue;
          yield frame;
        }
      } finally {
        controller.abort();
        signal?.removeEventListener("abort", onAbort);
        await supervisor;
        await activeFeed?.close();
        if (state !== "ended") state = "stopped";
      }
    },
    burst(on) {
      if (on !== burst) switchBurst?.(on);
      burst = on;
    },
    newer() {
      const frame = slot.poll();
      if (!frame?.extra || burst) return frame;
      recycle(frame.data);
      return undefined;
    },
    recycle,
    status() {
      const reason = feedDown(activeFeed) ?? lastError;
      const recent = arrivals.length > 1 && performance.now() - arrivals[arrivals.length - 1]! < 5000;
      const span = recent ? (arrivals[arrivals.length - 1]! - arrivals[0]!) / 1000 : 0;
      return {
        state,
        framesIn,
        framesDropped: slot.dropped,
        // The camera's session reopened counts too: the decoder reading a feed keeps running through it.
        restarts: restarts + (activeFeed?.status().restarts ?? 0),
        lastFrameAt,
        fps: span > 0 ? Math.round(((arrivals.length - 1) / span) * 10) / 10 : 0,
        ...(reason ? { lastError: reason } : {}),
      };
    },
  };
}
