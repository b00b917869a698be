/**
 * One camera's H.264, produced once and read by several consumers. Some cameras
 * can be opened by one process only (the Raspberry Pi camera: one rpicam-vid),
 * others should be (an RTSP camera: one session of Vigil's client, rtsp/, where
 * two would load a camera made for few connections), yet detection and
 * recording both read them: the camera's feed runs the one producer and hands
 * each consumer the same access units (the decoder's ffmpeg through its stdin,
 * the recorder's ring through a function, {@link UnitSink}).
 *
 * - One registry ({@link createH264Feeds}) owns every feed. The first consumer
 *   of a source starts its producer, the last one to leave stops it; two feeds
 *   that need the same device never run at once (the second waits for the
 *   first's producer to be gone).
 * - The producer is supervised as ffmpeg is (backoff.ts): no picture within the
 *   start timeout, or none for the stall timeout once they flowed, and it is
 *   stopped; every end is followed by a new attempt after the backoff for its
 *   kind. Why the last attempt ended is one sentence in the feed's status, which
 *   the consumers show in /status; a missing program never throws.
 * - A consumer starts at a keyframe, with SPS and PPS in front of it: the next
 *   one, or (`start: "cached"`) at once from the newest keyframe and the
 *   pictures since, which the feed keeps (one group of pictures, a second at
 *   rpicam-vid's `--intra` of one keyframe a second).
 * - A new SPS at a keyframe (the camera changed its size or profile) restarts
 *   the consumers that asked for it (`onNewStream`), at that keyframe. A
 *   producer that cannot read the camera at all ends the feed as a `fallback`:
 *   its consumers open the camera their own way.
 * - A consumer never holds up the producer or the other consumers: when more
 *   than `maxQueuedBytes` wait in its sink (its ffmpeg is not reading), the
 *   pictures are dropped for it, counted, until the next keyframe, where it
 *   starts again cleanly. Memory stays bounded whatever a consumer does.
 */
import type { Writable } from "node:stream";
import { silentLogger, type Logger } from "../../log.js";
import { maskUrl } from "../../redact.js";
import { ACCESS_UNIT_DELIMITER, parameterSetsOf, withParameterSets, type AccessUnit } from "./annexb.js";
import { retryPlan, waitBeforeRetry, type AttemptFailure, type BackoffOptions } from "./backoff.js";

/** Why a producer attempt ended: one sentence for /status and the log, and the kind of wait before the next (backoff.ts). */
export interface AttemptEnd {
  sentence: string;
  failure: AttemptFailure;
  /** What the log gets beside the sentence (exit code, the program's last words). */
  detail?: Record<string, unknown>;
  /**
   * The producer cannot read this camera at all (an RTSP camera sending H.265): the
   * feed stops trying, and its consumers open the camera their own way
   * ({@link FeedStatus.state} `fallback`).
   */
  fallback?: boolean;
}

/** One run of a producer (one rpicam-vid process). */
export interface ProducerAttempt {
  readonly ended: Promise<AttemptEnd>;
  /** Stops it; resolves once it is gone. */
  stop(): Promise<void>;
  pid(): number | undefined;
}

/** What produces a source's H.264: started again after every end. */
export interface H264Producer {
  /** What two feeds must never hold at once (`picam:0`): the camera itself. */
  device: string;
  /** Names it in the log (no secrets). */
  label: string;
  /** Starts one attempt that calls `onUnit` for each picture. `hadVideo`: an earlier attempt gave pictures. */
  start(onUnit: (unit: AccessUnit) => void, context: { hadVideo: boolean }): ProducerAttempt;
}

export interface FeedConsumerOptions {
  /** For the log: `detection`, `recording`. */
  name: string;
  /**
   * `next`: from the next keyframe (the recorder: each picture is stamped when it
   * arrives, so pictures from the past would carry the wrong time). `cached`: at
   * once, from the newest keyframe and the pictures since (the detector: a picture
   * now rather than up to a second later). Default `next`.
   */
  start?: "next" | "cached";
  /**
   * The camera changed its stream (a new SPS: another size or profile): the
   * consumer's sink is detached, and its ffmpeg must be restarted to attach a
   * new one, which starts at the new stream's keyframe. Without it the sink
   * stays and simply gets the new keyframe.
   */
  onNewStream?: () => void;
  /** After each producer attempt that ends (not when stopped): why, and the wait before the next, for the consumer's own log. */
  onAttemptEnd?: (end: { sentence: string; failure: AttemptFailure; retryInMs: number; watchPort: boolean; pictures: number }) => void;
}

export interface FeedStatus {
  /**
   * `waiting`: for another feed to release the device; `retrying`: between attempts;
   * `fallback`: the producer cannot read this camera, consumers open it themselves
   * (`lastError` says why).
   */
  state: "waiting" | "starting" | "running" | "retrying" | "stopped" | "fallback";
  /** Producer restarts since the feed started. */
  restarts: number;
  /** Pictures produced. */
  units: number;
  /** Epoch ms of the newest picture, 0 before the first. */
  lastUnitAt: number;
  /** Why the last attempt ended, one sentence; cleared when pictures flow again. */
  lastError?: string;
  consumers: number;
}

/**
 * A consumer in this process (the recorder's ring): each picture as a call,
 * with nothing queued, every keyframe with the SPS and PPS in front of it.
 */
export type UnitSink = (data: Buffer, keyframe: boolean) => void;

export interface FeedSubscription {
  /** Where pictures go from now on (a new ffmpeg's stdin, or a function): it starts at a keyframe. Replaces the previous sink. */
  attach(sink: Writable | UnitSink): void;
  /** No sink for now (its ffmpeg has gone); the subscription stays and keeps the producer running. */
  detach(): void;
  /** The feed's status, with the pictures dropped for this consumer. */
  status(): FeedStatus & { dropped: number };
  /** Leaves the feed: the last consumer to leave stops the producer. Resolves once it has (or others still read). */
  close(): Promise<void>;
}

export interface H264Feeds {
  /** Joins the feed of `source`, starting its producer when it is the first consumer. */
  subscribe(source: string, consumer: FeedConsumerOptions): FeedSubscription;
  /** Every running feed, by source. */
  status(): Map<string, FeedStatus>;
  /** Stops every feed and waits for their producers to be gone. Subscribing afterwards is a bug and throws. */
  stop(): Promise<void>;
}

export interface H264FeedsOptions {
  /** The producer for a source (the Pi camera: rpicam.ts). Throws for a source it cannot produce. */
  producer: (source: string) => H264Producer;
  logger?: Logger;
  /** An attempt that gives no picture within this is stopped. Default 10 s (rpicam-vid starts in 1 to 2 s on a Pi). */
  startTimeoutMs?: number;
  /** Once pictures flowed, a gap this long stops the producer. Default 3 s: before a consumer's own watchdog (5 s) blames its ffmpeg. */
  stallTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Bytes that may wait in one consumer's sink before it skips to the next keyframe. Default 4 MiB (seconds of 1080p). */
  maxQueuedBytes?: number;
  /** Most bytes of the newest group of pictures kept for `start: "cached"`. Default 4 MiB. */
  maxCachedBytes?: number;
  now?: () => number;
}

interface Consumer {
  name: string;
  start: "next" | "cached";
  onNewStream: (() => void) | undefined;
  onAttemptEnd: FeedConsumerOptions["onAttemptEnd"];
  sink: Writable | UnitSink | undefined;
  /** Pictures go to it: it has started at a keyframe and has not fallen behind since. */
  synced: boolean;
  /** Fell behind and waits for a keyframe; the pictures it misses count as dropped. */
  behind: boolean;
  dropped: number;
  /** When falling behind was last a warning (then it is debug for a minute: a Pi that stays busy fills no log). */
  warnedAt: number;
}

interface Feed {
  source: string;
  producer: H264Producer;
  consumers: Set<Consumer>;
  controller: AbortController;
  loop: Promise<void>;
  status: Omit<FeedStatus, "consumers">;
  /** The newest keyframe and every picture since, for consumers that start at once. */
  cache: AccessUnit[];
  cacheBytes: number;
  sps: Buffer | undefined;
  pps: Buffer | undefined;
}

export function createH264Feeds(options: H264FeedsOptions): H264Feeds {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const stallTimeoutMs = options.stallTimeoutMs ?? 3000;
  const maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
  const maxCached = options.maxCachedBytes ?? 4 * 1024 * 1024;
  const feeds = new Map<string, Feed>();
  /** Per device: settles when the feed holding it has let it go. */
  const devices = new Map<string, Promise<void>>();
  const closing = new Set<Promise<void>>();
  let stopped = false;

  function write(consumer: Consumer, feed: Feed, unit: AccessUnit, first: boolean): void {
    const sink = consumer.sink;
    if (typeof sink === "function") {
      sink(unit.keyframe ? withParameterSets(unit, feed.sps, feed.pps) : unit.data, unit.keyframe);
      return;
    }
    if (!sink || !sink.writable) return;
    // The delimiter after each picture lets ffmpeg's parser finish it at once (annexb.ts). One write: a
    // pipe write costs more than copying a picture.
    const data = first ? withParameterSets(unit, feed.sps, feed.pps) : unit.data;
    sink.write(data === unit.data && unit.delimited ? unit.delimited : Buffer.concat([data, ACCESS_UNIT_DELIMITER]));
  }

  function deliver(feed: Feed, unit: AccessUnit): void {
    if (unit.keyframe) {
      const sets = parameterSetsOf(unit);
      if (sets.sps && feed.sps && !sets.sps.equals(feed.sps)) {
        // A new stream (another size, profile or level): each decoder starts again from this keyframe.
        logger.info({ source: maskUrl(feed.source), producer: feed.producer.label }, "feed: the camera changed its stream (new SPS); its consumers start again");
        for (const consumer of feed.consumers) {
          if (!consumer.onNewStream || !consumer.sink) continue;
          consumer.sink = undefined;
          consumer.synced = false;
          consumer.onNewStream();
        }
      }
      if (sets.sps) feed.sps = sets.sps;
      if (sets.pps) feed.pps = sets.pps;
      feed.cache = [unit];
      feed.cacheBytes = unit.data.length;
    } else if (feed.cache.length) {
      feed.cache.push(unit);
      feed.cacheBytes += unit.data.length;
      // No keyframe for this long: the cache cannot start anyone; wait for the next.
      if (feed.cacheBytes > maxCached) {
        feed.cache = [];
        feed.cacheBytes = 0;
      }
    }
    for (const consumer of feed.consumers) {
      if (!consumer.sink) continue;
      if (!consumer.synced) {
        if (!unit.keyframe) {
          if (consumer.behind) consumer.dropped++;
          continue;
        }
        if (consumer.behind) logger.debug({ source: maskUrl(feed.source), consumer: consumer.name, dropped: consumer.dropped }, "feed: consumer caught up at a keyframe");
        consumer.synced = true;
        consumer.behind = false;
        write(consumer, feed, unit, true);
        continue;
      }
      if (typeof consumer.sink !== "function" && consumer.sink.writableLength > maxQueued) {
        // Its ffmpeg is not keeping up: drop, for it alone, until the next keyframe.
        consumer.synced = false;
        consumer.behind = true;
        consumer.dropped++;
        const quiet = performance.now() - consumer.warnedAt < 60_000;
        if (!quiet) consumer.warnedAt = performance.now();
        (quiet ? logger.debug : logger.warn).call(logger, { source: maskUrl(feed.source), consumer: consumer.name, queuedBytes: consumer.sink.writableLength, dropped: consumer.dropped }, "feed: a consumer fell behind; skipping it to the next keyframe");
        continue;
      }
      write(consumer, feed, unit, false);
    }
  }

  async function supervise(feed: Feed, device: Promise<void>): Promise<void> {
    const { signal } = feed.controller;
    const { status, producer } = feed;
    await Promise.race([device, new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
    let failures = 0;
    let hadVideo = false;
    let previousSentence: string | undefined;
    while (!signal.aborted) {
      status.state = "starting";
      // A new run is a new stream: every consumer starts again at a keyframe of it.
      feed.cache = [];
      feed.cacheBytes = 0;
      for (const consumer of feed.consumers) consumer.synced = false;
      let units = 0;
      let lastActivity = performance.now();
      let stalled: "start" | "gap" | undefined;
      const attempt: ProducerAttempt = producer.start(
        (unit) => {
          if (signal.aborted) return;
          if (units++ === 0) {
            failures = 0;
            hadVideo = true;
            previousSentence = undefined;
            status.state = "running";
            delete status.lastError;
            // Pictures come only after start() has returned: `attempt` is set.
            logger.info({ source: maskUrl(feed.source), producer: producer.label, pid: attempt.pid() }, "feed: pictures flowing");
          }
          lastActivity = performance.now();
          status.units++;
          status.lastUnitAt = now();
          deliver(feed, unit);
        },
        { hadVideo },
      );
      const watchdog = setInterval(() => {
        const limit = units === 0 ? startTimeoutMs : stallTimeoutMs;
        if (!stalled && performance.now() - lastActivity > limit) {
          stalled = units === 0 ? "start" : "gap";
          logger.warn({ source: maskUrl(feed.source), pid: attempt.pid(), silentMs: Math.round(performance.now() - lastActivity) }, `feed: no pictures from ${producer.label}; stopping it`);
          void attempt.stop();
        }
      }, Math.min(500, startTimeoutMs / 4, stallTimeoutMs / 4));
      const onAbort = () => void attempt.stop();
      signal.addEventListener("abort", onAbort, { once: true });
      let end: AttemptEnd;
      try {
        end = await attempt.ended;
      } finally {
        clearInterval(watchdog);
        signal.removeEventListener("abort", onAbort);
      }
      if (signal.aborted) break;
      const sentence = stalled === "gap" ? "the camera stopped sending video" : stalled === "start" ? `the camera sent no picture within ${Math.round(startTimeoutMs / 1000)} s` : end.sentence;
      if (end.fallback && !stalled) {
        status.state = "fallback";
        status.lastError = end.sentence;
        logger.debug({ source: maskUrl(feed.source), producer: producer.label }, `feed: ${end.sentence}; its consumers read the camera themselves`);
        return;
      }
      const failure: AttemptFailure = stalled ? "silent" : end.failure;
      if (units === 0) failures++;
      status.lastError = sentence;
      status.state = "retrying";
      const plan = retryPlan(failure, Math.max(1, failures), options.backoff);
      // The same sentence again (a camera that stays away) goes to debug: the log says it once.
      const log = sentence === previousSentence ? logger.debug.bind(logger) : logger.warn.bind(logger);
      log({ source: maskUrl(feed.source), producer: producer.label, pictures: units, retryInMs: plan.delayMs, ...end.detail }, `feed: ${sentence}`);
      previousSentence = sentence;
      for (const consumer of feed.consumers) consumer.onAttemptEnd?.({ sentence, failure, retryInMs: plan.delayMs, watchPort: plan.watchPort, pictures: units });
      await waitBeforeRetry(feed.source, plan, signal, options.backoff);
      if (!signal.aborted) status.restarts++;
    }
    status.state = "stopped";
  }

  function open(source: string): Feed {
    const producer = options.producer(source);
    const previous = devices.get(producer.device) ?? Promise.resolve();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = previous.then(() => released);
    devices.set(producer.device, held);
    const feed: Feed = {
      source,
      producer,
      consumers: new Set(),
      controller: new AbortController(),
      loop: Promise.resolve(),
      status: { state: "waiting", restarts: 0, units: 0, lastUnitAt: 0 },
      cache: [],
      cacheBytes: 0,
      sps: undefined,
      pps: undefined,
    };
    feed.loop = supervise(feed, previous)
      .catch((error: unknown) => logger.error({ err: error, source: maskUrl(source) }, "feed: supervision failed"))
      .finally(() => {
        if (feed.status.state !== "fallback") feed.status.state = "stopped";
        release();
        if (devices.get(producer.device) === held) devices.delete(producer.device);
      });
    return feed;
  }

  async function leave(feed: Feed, consumer: Consumer): Promise<void> {
    feed.consumers.delete(consumer);
    if (feed.consumers.size > 0) return;
    if (feeds.get(feed.source) === feed) feeds.delete(feed.source);
    feed.controller.abort();
    await feed.loop;
  }

  return {
    subscribe(source, consumerOptions) {
      if (stopped) throw new Error("The H.264 feeds are stopped; nothing can subscribe any more.");
      let feed = feeds.get(source);
      if (!feed) {
        feed = open(source);
        feeds.set(source, feed);
      }
      const joined = feed;
      const consumer: Consumer = { name: consumerOptions.name, start: consumerOptions.start ?? "next", onNewStream: consumerOptions.onNewStream, onAttemptEnd: consumerOptions.onAttemptEnd, sink: undefined, synced: false, behind: false, dropped: 0, warnedAt: -Infinity };
      joined.consumers.add(consumer);
      let closed: Promise<void> | undefined;
      return {
        attach(sink) {
          if (closed) return;
          consumer.sink = sink;
          consumer.synced = false;
          consumer.behind = false;
          if (consumer.start === "cached" && joined.cache.length && joined.status.state === "running") {
            joined.cache.forEach((unit, i) => write(consumer, joined, unit, i === 0));
            consumer.synced = true;
          }
        },
        detach() {
          consumer.sink = undefined;
          consumer.synced = false;
        },
        status() {
          return { ...joined.status, consumers: joined.consumers.size, dropped: consumer.dropped };
        },
        close() {
          consumer.sink = undefined;
          if (!closed) {
            closed = leave(joined, consumer);
            closing.add(closed);
            void closed.finally(() => closing.delete(closed!));
          }
          return closed;
        },
      };
    },
    status() {
      return new Map([...feeds].map(([source, feed]) => [source, { ...feed.status, consumers: feed.consumers.size }]));
    },
    async stop() {
      stopped = true;
      const running = [...feeds.values()];
      feeds.clear();
      for (const feed of running) feed.controller.abort();
      await Promise.all([...running.map((feed) => feed.loop), ...closing]);
    },
  };
}
