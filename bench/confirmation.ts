/**
 * Which confirmation rule? Replays the footage once per clip through the real
 * pipeline with a recording wrapper around the real detector, then runs the
 * recorded detections through the tracker (the pure updateTracks) with each
 * candidate rule, at several minimum scores. Prints nuisance confirmations
 * (tracks confirmed on clips or stretches without a person) beside the latency
 * of the first true one; DEFAULT_CONFIRMATION and docs/detection.md's trade-off come
 * from this table.
 *
 *   npx tsx bench/confirmation.ts
 */
import fs from "node:fs/promises";
import path from "node:path";
import { defaultSettings, type Camera } from "../src/domain/camera.js";
import type { DetectedObject } from "../src/domain/events.js";
import { findModel, readManifest } from "../src/models.js";
import { PROJECT_ROOT } from "../src/env.js";
import { createPipeline, loadDetector, type ConfirmationRule, type ObjectDetector } from "../src/pipeline/index.js";
import type { Region } from "../src/pipeline/frame.js";
import { DEFAULT_TRACKER_OPTIONS, INITIAL_TRACKER_STATE, updateTracks } from "../src/pipeline/track/tracker.js";
import { footage, OUT_DIR } from "./footage.js";
import { AWAY_NOW } from "../src/domain/modes.js";

interface Clip {
  file: string;
  /** Seconds at which a person first appears; undefined: never (every alert is a nuisance). */
  appearsAt?: number;
  /** Alerts before this are nuisance alerts. */
  nuisanceBefore?: number;
}

const CLIPS: Clip[] = [
  { file: "wallflower_wavingtrees_10fps.mp4", appearsAt: 24.2, nuisanceBefore: 24.2 },
  { file: "opencv-vtest_480x360_10fps.mp4", appearsAt: 0 },
  { file: "bgslibrary_video03_road-traffic-trees.avi" },
  { file: "intel_car-detection.mp4" },
  { file: "pet_cat_handheld.mp4" },
  { file: "pet_dog_handheld.mp4" },
];

const RULES: [string, ConfirmationRule][] = [
  ["1 of 1", { hits: 1, window: 1, maxAgeMs: 4000 }],
  ["2 of 2", { hits: 2, window: 2, maxAgeMs: 4000 }],
  ["2 of 3", { hits: 2, window: 3, maxAgeMs: 4000 }],
  ["3 of 4", { hits: 3, window: 4, maxAgeMs: 4000 }],
  ["3 of 5", { hits: 3, window: 5, maxAgeMs: 4000 }],
];
const SCORES = [0.5, 0.4, 0.3];
const LOWEST = Math.min(...SCORES);

interface RecordedFrame {
  t: number;
  objects: DetectedObject[];
  looked: Region[];
}

/** Every processed frame of the clip: its time (s), where the detector looked and everything it found at ≥ LOWEST. */
async function record(clip: Clip, detector: ObjectDetector): Promise<{ frames: RecordedFrame[]; size: { width: number; height: number } }> {
  const byFrame = new Map<number, { objects: DetectedObject[]; looked: Region[] }>();
  let size = { width: 0, height: 0 };
  const recording: ObjectDetector = {
    model: detector.model,
    inputSize: detector.inputSize,
    async detect(frame, options) {
      const found = await detector.detect(frame, options);
      size = { width: frame.width, height: frame.height };
      const seen = byFrame.get(frame.at) ?? { objects: [], looked: [] };
      seen.objects.push(...found);
      seen.looked.push(options?.region ?? { x: 0, y: 0, width: frame.width, height: frame.height });
      byFrame.set(frame.at, seen);
      return found;
    },
    close: () => Promise.resolve(),
  };
  const start = 0;
  const pipeline = await createPipeline({ mode: "replay", now: () => start, detector: recording });
  try {
    const camera: Camera = { id: "c", name: "c", url: footage(clip.file), armed: true, mutedUntil: null, settings: { ...defaultSettings(), score: LOWEST } };
    pipeline.reconcile([camera], AWAY_NOW);
    await pipeline.ended("c");
  } finally {
    await pipeline.stop();
  }
  return { frames: [...byFrame].map(([at, seen]) => ({ t: (at - start) / 1000, ...seen })).sort((a, b) => a.t - b.t), size };
}

const detector = await loadDetector({ entry: findModel(await readManifest()), modelsDir: path.join(PROJECT_ROOT, "models") });
const recorded = [];
for (const clip of CLIPS) recorded.push({ clip, ...(await record(clip, detector)) });
await detector.close();

const rows: Record<string, unknown>[] = [];
for (const score of SCORES) {
  for (const [name, rule] of RULES) {
    let nuisance = 0;
    const latencies: string[] = [];
    for (const { clip, frames, size } of recorded) {
      // Every track the rule confirms would open a visit: the count measures how often it lets a mistake through.
      let state = INITIAL_TRACKER_STATE;
      const times: number[] = [];
      for (const { t, objects, looked } of frames) {
        const before = new Set(state.tracks.filter((tr) => tr.confirmed).map((tr) => tr.id));
        const people = objects.filter((o) => o.label === "person");
        state = updateTracks(state, { at: t * 1000, frame: size, objects: people, looked, survey: false, minScore: score }, { ...DEFAULT_TRACKER_OPTIONS, confirmation: rule }).state;
        for (const tr of state.tracks) if (tr.confirmed && !before.has(tr.id)) times.push(t);
      }
      const limit = clip.appearsAt === undefined ? Infinity : (clip.nuisanceBefore ?? -1);
      nuisance += times.filter((t) => t < limit).length;
      if (clip.appearsAt !== undefined) {
        const first = times.find((t) => t >= clip.appearsAt!);
        latencies.push(`${clip.file.split(/[_-]/)[0]} +${first === undefined ? "none" : (first - clip.appearsAt).toFixed(1)} s`);
      }
    }
    rows.push({ score, rule: name, nuisanceConfirmations: nuisance, firstTrueAlert: latencies });
    console.log(`score ${score}  ${name}  nuisance tracks confirmed: ${String(nuisance).padStart(3)}   first true alert: ${latencies.join(", ")}`);
  }
}
await fs.mkdir(OUT_DIR, { recursive: true });
await fs.writeFile(path.join(OUT_DIR, "confirmation.json"), JSON.stringify(rows, null, 2));
