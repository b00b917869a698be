/**
 * `vigil start --stats-file PATH`: the pipeline's live figures, written to a
 * file every second (the benchmark reads them; so can anyone wondering how busy
 * the machine is). A file rather than a port, because Vigil listens on nothing.
 * Camera names and counters only: no URL, no secret. Each write replaces the
 * file whole (rename), so a reader never sees half of one.
 */
import fs from "node:fs/promises";
import type { Logger } from "../log.js";
import { AGE_BUCKETS_MS } from "../pipeline/age-histogram.js";
import type { Pipeline } from "../pipeline/index.js";

export interface StatsSnapshot {
  /** Epoch ms of the reading. */
  at: number;
  pid: number;
  /** Upper bounds of the `frameAges` buckets, ms (the last count is for anything older). */
  ageBucketsMs: readonly number[];
  cameras: {
    name: string;
    state: string;
    fps: number;
    framesIn: number;
    /** Frames in between the regular ones, analysed while something was being confirmed. */
    extraFrames: number;
    /** Frames ffmpeg delivered while the camera was still busy with an older one (the newest wins). */
    framesDropped: number;
    /** Frames that waited for the shared detector until a newer frame of the camera replaced them. */
    superseded: number;
    motionFrames: number;
    detectorRuns: number;
    /** Frames whose motion lay only on stationary objects, so the detector was spared. */
    stationarySkips: number;
    alerts: number;
    visits: number;
    /** Cumulative counts of frame ages at decision time (see pipeline/age-histogram.ts). */
    frameAges: number[];
  }[];
  detector: ReturnType<Pipeline["detectorStats"]>;
}

export interface StatsFileOptions {
  file: string;
  pipeline: Pick<Pipeline, "stats" | "status" | "detectorStats">;
  logger: Logger;
  /** Default 1000 ms. */
  intervalMs?: number;
  now?: () => number;
}

export function readStats(pipeline: StatsFileOptions["pipeline"], now: () => number): StatsSnapshot {
  const status = new Map(pipeline.status().map((s) => [s.cameraId, s]));
  return {
    at: now(),
    pid: process.pid,
    ageBucketsMs: AGE_BUCKETS_MS,
    cameras: pipeline.stats().map((s) => {
      const live = status.get(s.cameraId);
      return {
        name: live?.cameraName ?? s.cameraId,
        state: live?.state ?? "stopped",
        fps: live?.fps ?? 0,
        framesIn: s.frames,
        extraFrames: s.extraFrames,
        framesDropped: s.framesDropped,
        superseded: s.superseded,
        motionFrames: s.motionFrames,
        detectorRuns: s.detectorRuns,
        stationarySkips: s.stationarySkips,
        alerts: s.alerts,
        visits: s.visits,
        frameAges: s.frameAges,
      };
    }),
    detector: pipeline.detectorStats(),
  };
}

/** Writes a snapshot now and every interval until `stop()`, which writes a last one. */
export function startStatsFile(options: StatsFileOptions): { stop(): Promise<void> } {
  const now = options.now ?? Date.now;
  const tmp = `${options.file}.${process.pid}.tmp`;
  let failed = false;
  let writing: Promise<void> = Promise.resolve();
  const write = () => {
    writing = writing.then(async () => {
      try {
        await fs.writeFile(tmp, JSON.stringify(readStats(options.pipeline, now)), { mode: 0o600 });
        await fs.rename(tmp, options.file);
        failed = false;
      } catch (error) {
        // Once per failure spell: a full disk must not fill the log as well.
        if (!failed) options.logger.warn({ err: error, file: options.file }, "could not write the stats file");
        failed = true;
      }
    });
  };
  write();
  const timer = setInterval(write, options.intervalMs ?? 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      write();
      await writing;
    },
  };
}
