/**
 * `vigil replay FILE`: runs a recorded clip through exactly the pipeline a live
 * camera uses (same source, motion, detector, rules and snapshots; only the
 * source reads the file losslessly, in video time), so a user can tune a camera's
 * settings on a clip of it. Option values are parsed by the same function as the
 * chat's /set, so mistakes read the same in both places.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Command } from "commander";
import { defaultSettings, parseSetting, type Camera, type CameraSettings } from "../domain/camera.js";
import type { VisitEvent } from "../domain/events.js";
import type { Env } from "../env.js";
import { InputError } from "../errors.js";
import type { Logger } from "../log.js";
import { findModel, readManifest } from "../models.js";
import { createPipeline } from "../pipeline/index.js";
import { progressBar } from "./progress.js";
import { AWAY_NOW } from "../domain/modes.js";

const run = promisify(execFile);

export interface ReplayOptions {
  classes?: string;
  sensitivity?: string;
  timeout?: string;
  minSize?: string;
  score?: string;
  fps?: string;
  size?: string;
  snapshots?: string;
  json?: boolean;
  realtime?: boolean;
  model?: string;
  threads?: string;
}

interface ClipInfo {
  width: number;
  height: number;
  duration: number;
}

async function probeClip(file: string, ffprobePath: string): Promise<ClipInfo> {
  try {
    const { stdout } = await run(ffprobePath, ["-v", "error", "-protocol_whitelist", "file", "-select_streams", "v:0", "-show_entries", "stream=width,height:format=duration", "-of", "json", `file:${file}`], { timeout: 30_000 });
    const info = JSON.parse(stdout) as { streams?: { width?: number; height?: number }[]; format?: { duration?: string } };
    const stream = info.streams?.[0];
    if (stream?.width && stream.height) return { width: stream.width, height: stream.height, duration: Number(info.format?.duration) || 0 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new InputError(`${ffprobePath} was not found: install ffmpeg (sudo apt install ffmpeg) or set VIGIL_FFPROBE.`);
  }
  throw new InputError(`${path.basename(file)} is not a video ffmpeg can read.`);
}

/** The clip's own shape, shrunk to fit 640x360 (never enlarged), even sides: the default detection size. */
export function fitSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, 640 / width, 360 / height);
  const even = (n: number) => Math.max(16, 2 * Math.round((n * scale) / 2));
  return { width: even(width), height: even(height) };
}

function settingsFrom(opts: ReplayOptions, clip: ClipInfo): CameraSettings {
  const settings: CameraSettings = { ...defaultSettings(), ...fitSize(clip.width, clip.height) };
  const given: [string, string | undefined][] = [
    ["classes", opts.classes],
    ["sensitivity", opts.sensitivity],
    ["timeout", opts.timeout],
    ["minsize", opts.minSize],
    ["score", opts.score],
    ["fps", opts.fps],
    ["size", opts.size],
  ];
  for (const [key, value] of given) if (value !== undefined) Object.assign(settings, parseSetting(key, value));
  return settings;
}

/** Seconds into the clip, to the hundredth. */
function seconds(at: number, clipStart: number): number {
  return Math.round((at - clipStart) / 10) / 100;
}

/** `2 people, 1 dog` in the text output; the JSON has the counts. */
function countsOf(visit: VisitEvent): string {
  return Object.entries(visit.counts).map(([label, n]) => `${n} ${label}`).join(", ") || visit.label;
}

export interface ReplayContext {
  env: Env;
  logger: Logger;
  /** Results (stdout). */
  out: (line: string) => void;
  /** Warnings (stderr). */
  err: (line: string) => void;
  /** Ends the replay early, stopping ffmpeg cleanly (Ctrl-C, stdout closed). */
  signal?: AbortSignal;
}

export async function runReplay(file: string, opts: ReplayOptions, context: ReplayContext): Promise<void> {
  const { env, logger, out, err, signal } = context;
  const absolute = path.resolve(file);
  const stat = await fs.stat(absolute).catch(() => undefined);
  if (!stat?.isFile()) throw new InputError(`There is no video file at ${absolute}.`);
  const clip = await probeClip(absolute, env.ffprobePath);
  const settings = settingsFrom(opts, clip);
  const threads = opts.threads === undefined ? undefined : Number(opts.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 16)) throw new InputError("--threads must be a whole number from 1 to 16.");
  const model = findModel(await readManifest(), opts.model);
  if (opts.snapshots) {
    const dir = opts.snapshots;
    await fs.mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      throw new InputError(`Could not create the snapshots folder ${dir} (${error.code ?? error.message}).`);
    });
  }

  const name = path.basename(absolute);
  const camera: Camera = { id: "replay", name, url: absolute, armed: true, mutedUntil: null, settings };
  // A frozen clock: every timestamp is the clip start plus video time, so `t` is exact and repeatable.
  const clipStart = Date.now();
  const pipeline = await createPipeline({
    mode: "replay",
    realtime: opts.realtime ?? false,
    now: () => clipStart,
    model,
    modelsDir: env.modelsDir,
    ...(threads ? { threads } : {}),
    ffmpegPath: env.ffmpegPath,
    // Per-alert info lines would drown the replay's own output; warnings and errors still show.
    logger: env.logLevel === "info" ? logger.child({}, { level: "warn" }) : logger,
  });
  const expectedFrames = Math.max(1, Math.ceil(clip.duration * settings.fps));
  const bar = opts.json ? undefined : progressBar(`Replaying ${name}`);
  const writes: Promise<void>[] = [];
  let writeError: Error | undefined;
  let alerts = 0;
  let visits = 0;
  const alertTimes = new Map<string, number>();
  const unsubscribe = pipeline.subscribe((event) => {
    if (event.type === "detector-status" && !event.ok) err(`The detector is unavailable (${event.reason ?? "unknown reason"}); alerts are from motion alone.`);
    if (event.type === "visit" && event.phase === "end") {
      visits++;
      const [start, end, alertT] = [seconds(event.startedAt, clipStart), seconds(event.lastSeenAt, clipStart), alertTimes.get(event.id)];
      const peak = Math.max(1, ...Object.values(event.counts));
      if (opts.json) out(JSON.stringify({ type: "visit", start, end, label: event.label, peak, counts: event.counts, alert: alertT ?? null, ...(event.reason === "stopped" ? { open: true } : {}) }));
      else out(`${start.toFixed(1).padStart(7)} s  visit of ${countsOf(event)} until ${end.toFixed(1)} s${event.reason === "stopped" ? " (still there when the clip ended)" : ""}${event.stationary ? ", standing still" : ""}`);
      return;
    }
    if (event.type !== "alert") return;
    alerts++;
    const t = seconds(event.at, clipStart);
    alertTimes.set(event.id, t);
    const box = event.box.map((v) => Math.round(v)) as [number, number, number, number];
    const score = Math.round(event.score * 100) / 100;
    let saved = "";
    if (opts.snapshots) {
      const target = path.join(opts.snapshots, `${t.toFixed(1).padStart(6, "0")}s-${event.label}.jpg`);
      // Caught at once (a rejection waiting for the end of the replay would be unhandled), reported after.
      writes.push(fs.writeFile(target, event.snapshot).catch((error: Error) => void (writeError ??= error)));
      saved = `  → ${target}`;
    }
    if (opts.json) out(JSON.stringify({ type: "alert", t, label: event.label, score, box }));
    else out(`${t.toFixed(1).padStart(7)} s  ${event.motionOnly ? "motion (no detector)" : `${event.label} ${score.toFixed(2)}`}  box ${box[0]},${box[1]} ${box[2]},${box[3]}${saved}`);
  });
  const progress = setInterval(() => bar?.update(Math.min(expectedFrames, pipeline.stats()[0]?.frames ?? 0), expectedFrames), 250);
  const started = performance.now();
  let stats = { frames: 0, motionFrames: 0, detectorRuns: 0 };
  const onAbort = () => void pipeline.stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    pipeline.reconcile([camera], AWAY_NOW);
    await pipeline.ended(camera.id);
    if (signal?.aborted) return;
    await Promise.all(writes);
    if (writeError) throw new InputError(`Could not save snapshots in ${opts.snapshots} (${writeError.message}).`);
    stats = pipeline.stats()[0] ?? stats;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    clearInterval(progress);
    unsubscribe();
    bar?.update(expectedFrames, expectedFrames);
    bar?.stop();
    await pipeline.stop();
  }
  const elapsed = performance.now() - started;
  const frames = stats.frames;
  const msPerFrame = frames ? Math.round((elapsed / frames) * 100) / 100 : 0;
  if (opts.json) {
    out(JSON.stringify({ type: "summary", frames, motionFrames: stats.motionFrames, detectorRuns: stats.detectorRuns, alerts, visits, msPerFrame }));
    return;
  }
  out(`${name}: ${alerts} alert${alerts === 1 ? "" : "s"} (${visits} visit${visits === 1 ? "" : "s"}) in ${(frames / settings.fps).toFixed(1)} s of video (${frames} frames at ${settings.fps} fps, ${settings.width}x${settings.height}, ${msPerFrame} ms per frame).`);
  out(`Motion in ${stats.motionFrames} frames; the detector looked at ${stats.detectorRuns}. Settings: classes ${settings.classes.join(",")}, sensitivity ${settings.sensitivity}, score ${settings.score}, timeout ${settings.timeout} s, min size ${settings.minSize.value}${settings.minSize.unit}.`);
  if (alerts === 0 && stats.motionFrames === 0) out(`No motion was found: try a lower --sensitivity (now ${settings.sensitivity}; lower is more sensitive).`);
  else if (alerts === 0) out(`There was motion but no ${settings.classes.join(" or ")} was confirmed: try a lower --score (now ${settings.score}), other --classes, or a smaller --min-size.`);
}

/** Adds `vigil replay` to the program. `context` is read when the command runs (after the environment is parsed). */
export function registerReplayCommand(cli: Command, context: () => { env: Env; logger: Logger }): void {
  cli
    .command("replay <file>")
    .description("run a video file through the detection pipeline, as fast as possible, to tune a camera's settings")
    .option("--classes <list>", "objects that alert, comma-separated (default person)")
    .option("--sensitivity <pixels>", "changed pixels (at 640x360) needed to call it motion; lower is more sensitive (default 2000)")
    .option("--timeout <seconds>", "seconds someone who vanishes inside the picture is still the same visit if seen again there (default 5)")
    .option("--min-size <size>", "smallest object: pixels of its longer side at 640x360, or a percentage like 5% (default 0)")
    .option("--score <score>", "minimum detector confidence, 0.1 to 0.99 (default 0.5)")
    .option("--fps <fps>", "frames per second analysed (default 5)")
    .option("--size <WxH>", "detection frame size (default: the clip's shape, fitted into 640x360)")
    .option("--snapshots <dir>", "save each alert's annotated snapshot in this folder")
    .option("--json", "one JSON line per alert and per visit on stdout, then a summary line")
    .option("--realtime", "play the clip at its own speed instead of as fast as possible")
    .option("--model <name>", "detector model from models/manifest.json (default yolox-nano-416)")
    .option("--threads <n>", "detector threads (default 1)")
    .action(async (file: string, opts: ReplayOptions) => {
      const controller = new AbortController();
      const stop = () => controller.abort();
      // `vigil replay x --json | head -1`: a closed stdout ends the replay quietly, ffmpeg stopped cleanly.
      const onStdoutError = (error: NodeJS.ErrnoException) => (error.code === "EPIPE" ? stop() : undefined);
      process.stdout.on("error", onStdoutError);
      process.once("SIGINT", stop);
      try {
        const out = (line: string) => void (controller.signal.aborted || process.stdout.write(`${line}\n`));
        await runReplay(file, opts, { ...context(), out, err: (line) => process.stderr.write(`${line}\n`), signal: controller.signal });
      } finally {
        process.stdout.off("error", onStdoutError);
        process.off("SIGINT", stop);
      }
    });
}
