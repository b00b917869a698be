/**
 * The pipeline: one worker per camera, one pool of detectors shared by all, one ordered
 * stream of events. Implements the domain's {@link PipelineHandle}; `vigil
 * replay` and the benchmark use the same object in `replay` mode.
 */
import os from "node:os";
import path from "node:path";
import type { Camera } from "../domain/camera.js";
import type { CameraStatus, PipelineEvent } from "../domain/events.js";
import type { ModeInForce } from "../domain/modes.js";
import type { DetectorStatus, PipelineHandle } from "../domain/pipeline.js";
import { withCredentials } from "../domain/stream-url.js";
import { InputError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { findModel, readManifest, type ModelEntry } from "../models.js";
import { PROJECT_ROOT } from "../env.js";
import { createCameraWorker, type CameraStats, type CameraWorker, type CameraWorkerOptions } from "./camera-worker.js";
import { createDetectionService, defaultDetectorThreads, type DetectionStats } from "./detect/detection-service.js";
import type { ObjectDetector } from "./detect/object-detector.js";
import { loadDetector } from "./detect/onnx-detector.js";
import { DEFAULT_CONFIRMATION, type ConfirmationRule } from "./events/confirmation.js";
import { createH264Feeds, type H264Feeds } from "./source/h264-feed.js";
import { leanDecoder } from "./source/lean-decoder.js";
import { probeStream } from "./source/probe.js";
import { feedProducers } from "./source/feed-producers.js";

export interface PipelineOptions {
  /** A ready detector (tests, benchmarks), the only one: the pool has one detector. Default: `model` loaded from `modelsDir`. */
  detector?: ObjectDetector;
  /** The model to load. Default: the manifest's default (yolox-nano-416). */
  model?: ModelEntry;
  /** Where the weights are. Default `<project>/models`. */
  modelsDir?: string;
  /**
   * Detector worker threads: how many frames are analysed at once, each by its
   * own model on one core. Default {@link defaultDetectorThreads} of this
   * machine's cores; started one by one as frames wait for a free detector.
   */
  detectorThreads?: number;
  /** Default "ffmpeg" on PATH. */
  ffmpegPath?: string;
  /** Vigil's own decoder for fed cameras (lean-decoder.ts); false: ffmpeg decodes them. Default: the built one, if any. */
  decoder?: string | false;
  /** Default: silent. */
  logger?: Logger;
  /** Clock for every timestamp and decision. Default Date.now. */
  now?: () => number;
  /**
   * `replay`: cameras are files, read losslessly (every frame analysed, as fast as
   * the machine allows) and stamped with video time; a worker ends with its file.
   * Default `live`.
   */
  mode?: "live" | "replay";
  /** Replay only: pace files at their own frame rate. Default false. */
  realtime?: boolean;
  /** Default: 3 of the last 4 processed frames, within 4 s (see events/confirmation.ts). */
  confirmation?: ConfirmationRule;
  /** After a detector failure, try it again after this long. Default 30 s. */
  detectorRetryMs?: number;
  /** Source tuning for tests (watchdog, backoff). */
  source?: CameraWorkerOptions["source"];
  /**
   * The camera feeds: the Pi camera's one rpicam-vid, an RTSP camera's one
   * session, which the recorder reads too, so give both the same registry
   * (src/main.ts does). Default: one of the pipeline's own, finding rpicam-vid on
   * PATH, stopped with the pipeline.
   */
  feeds?: H264Feeds;
}

/** The handle plus what replay and the benchmark read. */
export interface Pipeline extends PipelineHandle {
  stats(): CameraStats[];
  detectorStats(): DetectionStats;
  /** Resolves when the camera's worker ends (replay: the end of the file); rejects when its file could not be read. */
  ended(cameraId: string): Promise<void>;
}

/** Fields that need a new ffmpeg child when they change. */
function streamKey(camera: Camera): string {
  const { url, username, password, settings } = camera;
  return JSON.stringify([url, username, password, settings.transport, settings.width, settings.height, settings.fps]);
}

export async function createPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const ffmpegPath = options.ffmpegPath ?? "ffmpeg";
  const decoder = options.decoder === undefined ? leanDecoder() : options.decoder || undefined;
  logger.info({ decoder: decoder ?? ffmpegPath }, decoder ? "decoding fed cameras with Vigil's own decoder" : "decoding every camera with ffmpeg");
  const listeners = new Set<(event: PipelineEvent) => void>();
  const workers = new Map<string, { worker: CameraWorker; key: string }>();
  const stopping = new Set<Promise<void>>();
  let stopped: Promise<void> | undefined;
  const feeds = options.feeds ?? createH264Feeds({ producer: feedProducers({ logger }), logger });

  const emit = (event: PipelineEvent) => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.error({ err: error, event: event.type }, "a pipeline event listener threw");
      }
    }
  };

  const entry = options.model ?? (options.detector ? undefined : findModel(await readManifest()));
  const given = options.detector;
  const detection = await createDetectionService({
    model: given?.model ?? entry?.name ?? "detector",
    // A given detector is closed once, when the pipeline stops, not each time the pool replaces it after a failure.
    load: async () => (given ? { model: given.model, inputSize: given.inputSize, detect: given.detect.bind(given), close: () => Promise.resolve() } : loadDetector({ entry: entry!, modelsDir: options.modelsDir ?? path.join(PROJECT_ROOT, "models") })),
    size: given ? 1 : (options.detectorThreads ?? defaultDetectorThreads(os.availableParallelism())),
    logger,
    onStatus: (status) => emit({ type: "detector-status", ok: status.ok, ...(status.reason ? { reason: status.reason } : {}) }),
    ...(options.detectorRetryMs !== undefined ? { retryAfterMs: options.detectorRetryMs } : {}),
  });

  function startWorker(camera: Camera, inForce: ModeInForce): void {
    const worker = createCameraWorker({
      camera,
      inForce,
      detection,
      emit,
      logger,
      now,
      ffmpegPath,
      ...(decoder ? { decoder } : {}),
      mode: options.mode ?? "live",
      realtime: options.realtime ?? false,
      confirmation: options.confirmation ?? DEFAULT_CONFIRMATION,
      feeds,
      ...(options.source ? { source: options.source } : {}),
    });
    workers.set(camera.id, { worker, key: streamKey(camera) });
  }

  function retire(worker: CameraWorker): void {
    const stoppingWorker = worker.stop().finally(() => stopping.delete(stoppingWorker));
    stopping.add(stoppingWorker);
  }

  function known(cameraId: string): CameraWorker {
    const found = workers.get(cameraId);
    if (!found) throw new InputError(`There is no running camera with id ${cameraId}.`);
    return found.worker;
  }

  return {
    reconcile(cameras, inForce) {
      if (stopped) return;
      const wanted = new Set(cameras.map((c) => c.id));
      for (const [id, { worker }] of workers) {
        if (!wanted.has(id)) {
          workers.delete(id);
          retire(worker);
        }
      }
      for (const camera of cameras) {
        const current = workers.get(camera.id);
        if (current && current.key === streamKey(camera)) {
          current.worker.update(camera, inForce);
          continue;
        }
        if (current) {
          workers.delete(camera.id);
          retire(current.worker);
        }
        try {
          startWorker(camera, inForce);
        } catch (error) {
          // The store validates URLs, so this is a bug or a hand-edited store: one bad camera must not stop the others.
          logger.error({ err: error, camera: camera.name }, "camera could not be started");
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      // A late subscriber still learns that the detector is down (it went down before it listened).
      const status = detection.status();
      if (!status.ok) listener({ type: "detector-status", ok: false, ...(status.reason ? { reason: status.reason } : {}) });
      return () => listeners.delete(listener);
    },
    snapshot: async (cameraId) => known(cameraId).snapshot(),
    status: (): CameraStatus[] => [...workers.values()].map(({ worker }) => worker.status()),
    detectorStatus: (): DetectorStatus => detection.status(),
    probe: (input, signal) =>
      probeStream(withCredentials(input.url, input.username, input.password), { transport: input.transport ?? "tcp", ffmpegPath, ...(signal ? { signal } : {}) }),
    stats: () => [...workers.values()].map(({ worker }) => worker.stats()),
    detectorStats: () => detection.stats(),
    ended: async (cameraId) => known(cameraId).done,
    stop() {
      // Idempotent: shutdown paths (a signal, a finally) may both ask.
      stopped ??= (async () => {
        for (const { worker } of workers.values()) retire(worker);
        workers.clear();
        await Promise.all([...stopping]);
        if (!options.feeds) await feeds.stop();
        await detection.close();
        await given?.close();
      })();
      return stopped;
    },
  };
}
