/**
 * `npm run bench` (`npm run bench -- --quick` for a short smoke run): Vigil end to
 * end, as a user runs it, beside the physical floor, in one run.
 *
 * Everything is real and separate: the RTSP server (gst-rtsp-server, a feeder
 * ffmpeg per camera looping footage in real time, every loop's start recorded),
 * the Bot API stand-in (every request's arrival recorded), and Vigil itself, the
 * compiled `vigil start` in its own process, set up by its own `vigil init` and by
 * chat commands (/claim, /addcamera, /set, /arm) in a private chat with the bot.
 * It writes its live figures with `--stats-file`; CPU and memory come from /proc
 * (Vigil's Node process and every ffmpeg it runs).
 *
 * 1. Idle: cameras on a still scene with sensor noise. Vigil's CPU against bare
 *    ffmpeg decoding the same streams with the pipeline's own arguments, side by
 *    side (target: within 1.3x).
 * 2. Alert latency: cameras looping wallflower (a swaying tree, a person walking in
 *    at 24.2 s), each from another point of the loop so the visits are spread. The
 *    time from the entry frame leaving the RTSP server to the photo alert arriving
 *    at the stand-in, where that time goes (from Vigil's alert log lines), and every
 *    alert outside a visit.
 * 3. Capacity: 1, 2, 4 … 64 cameras of mixed footage at 640x360, 5 fps detection,
 *    one loop of the clip per step: Vigil's CPU (its ffmpeg children included), RSS,
 *    p95 frame age at decision, frames dropped, alert p95; the ramp stops at the
 *    first step at 1 s or more on either, or before a step that would overrun the
 *    time budget.
 * 4. The floor: bare ffmpeg per camera on the capacity mix, beside the running
 *    Vigil; bare `session.run` on the model.
 *
 * Prints a table (and a markdown table for docs/performance.md) with the load average, and
 * writes bench/out/results.json (the issue's keys, to compare versions, with
 * `memory.rss_mb_per_camera`, Vigil and its children at the largest capacity step
 * per camera beyond the first, and `rtsp.sessions_per_camera`, the RTSP
 * connections open at the test server there, divided by its cameras) and
 * bench/out/details-<time>.json (everything). Every child process is stopped in
 * `finally`, also when the run fails or is interrupted.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Chat, Message, User } from "grammy/types";
import type { StatsSnapshot } from "../src/app/stats-file.js";
import { PROJECT_ROOT } from "../src/env.js";
import { ageQuantile } from "../src/pipeline/age-histogram.js";
import { BotApiStandIn, type RecordedRequest } from "../test/support/bot-api/index.js";
import { addCameraByChat, createChatDriver, type ChatDriver } from "../test/support/chat.js";
import { startVigil, vigil, type RunningVigil } from "../test/support/cli.js";
import { logLines } from "../test/support/process-info.js";
import { prepareClip, startRtspServer, type MountSpec, type RtspTestServer } from "../test/support/rtsp-server.js";
import { until } from "../test/support/wait.js";
import { bareInferenceMs, footageFrames, median, quantile, startBareDecoders } from "./floor.js";
import { footage, idleClip, OUT_DIR, rotatedClip } from "./footage.js";
import { commandLine, cpuPercent, groupUsage, treeUsage, type Usage } from "./proc.js";

const run = promisify(execFile);
const QUICK = process.argv.includes("--quick");
/**
 * `--only latency` (or idle, capacity): that phase alone, its details printed as
 * JSON (and, for latency, Vigil's log in bench/out/latency-vigil.log); results.json
 * is left alone.
 */
const ONLY = process.argv[process.argv.indexOf("--only") + 1];

const WALLFLOWER = "wallflower_wavingtrees_10fps.mp4";
/** The person walks in at 24.2 s of the clip and is gone by 25.8 s (../shared/footage/FOOTAGE.md). */
const ENTRY_S = 24.2;
/** An alert counts for a visit when it arrives within this of the entry; later ones are outside the visit. */
const MATCH_MS = 10_000;
/** Telegram's one message per second per chat: an alert sent sooner after another may have been held. */
const LIMIT_MS = 1000;
/** A capacity step is over the limit at this frame age p95 or alert p95. */
const BREAK_MS = 1000;

/** Every camera's sub-stream: 640x360 at 10 fps (wallflower's own rate), H.264, keyframe each second. */
const STREAM = { width: 640, height: 360, fps: 10 };

type Kind = "wallflower" | "nuisance" | "people" | "idle";

/** The pedestrians' zone: the top left corner (the building), where no one in that footage stands. */
const QUIET_ZONE = "0,0 0.1,0 0.1,0.1 0,0.1";

/**
 * The capacity mix, repeated: one wallflower camera in eight (its alerts are the
 * ones timed), the rest are the camera-like footage: road traffic with trees,
 * a parking lot with exposure swings (any person alert on these is false) and
 * pedestrians (people come and go all the time; their owner would alert only on a
 * zone by the door, here a corner of the picture nobody walks to, so they do not
 * crowd the chat's one message per second: tracked, never alerted). Motion never stops on any of them, so every camera keeps the
 * detector busy: the worst case, not a typical home.
 */
const MIX: { clip: string; kind: Kind }[] = [
  { clip: WALLFLOWER, kind: "wallflower" },
  { clip: "bgslibrary_video03_road-traffic-trees.avi", kind: "nuisance" },
  { clip: "intel_car-detection.mp4", kind: "nuisance" },
  { clip: "opencv-vtest_480x360_10fps.mp4", kind: "people" },
  { clip: "bgslibrary_video03_road-traffic-trees.avi", kind: "nuisance" },
  { clip: "intel_car-detection.mp4", kind: "nuisance" },
  { clip: "opencv-vtest_480x360_10fps.mp4", kind: "people" },
  { clip: "intel_car-detection.mp4", kind: "nuisance" },
];

/**
 * What runs, and for how long. The full run fits in 10 minutes on 2 cores: the
 * ramp stops at the first step over the limit, or before a step that would not
 * finish within `budgetS`. --quick is a smoke test of every part in under 2.
 *
 * - Latency: every camera loops wallflower from another point of the loop, so
 *   the visits are spread evenly (`firstEntryS` after the server starts, then
 *   every loop / cameras seconds) and two alerts never compete for the chat's
 *   one message per second. `loops` full loops are timed, in `rounds` fresh
 *   sessions: cameras × loops × rounds visits. Five cameras: the swaying tree keeps
 *   each one's detector busy all the time, and eight of them need more than the one
 *   detector thread has (how alerts fare under load is the capacity ramp's
 *   business). Two rounds of two loops rather than one of four: with motion that
 *   never stops, every camera's two-minute clip (`maxclip`'s limit) is cut and
 *   uploaded about 120 s after it starts, and an alert that meets the upload waits
 *   for it (counted as "behind a clip upload" when it happens).
 * - Capacity: a full run's window is one loop, so every wallflower camera has one
 *   visit in it; a quick window is `minWindowS`, stretched to a visit due soon.
 */
const PLAN = QUICK
  ? { budgetS: 105, idleCameras: 2, idleWindowS: 5, idleWindows: 1, latencyCameras: 3, latencyLoops: 0, latencyRounds: 1, firstEntryS: 17, steps: [1, 2, 4], floorStep: 2, floorWindowS: 4, warmS: 1, minWindowS: 5, fullLoopWindows: false }
  : { budgetS: 570, idleCameras: 8, idleWindowS: 12, idleWindows: 2, latencyCameras: 5, latencyLoops: 2, latencyRounds: 2, firstEntryS: 20, steps: [1, 2, 4, 8, 16, 32, 48, 64], floorStep: 8, floorWindowS: 12, warmS: 4, minWindowS: 10, fullLoopWindows: true };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const runStartedAt = Date.now();
const elapsedS = () => (Date.now() - runStartedAt) / 1000;
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} +${Math.round(elapsedS())} s] ${line}\n`);
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
const round = (v: number | undefined | null, digits = 0) => (v === undefined || v === null || !Number.isFinite(v) ? null : Number(v.toFixed(digits)));

/** Everything started, stopped in reverse order by {@link cleanUp}. */
const cleanups: (() => Promise<unknown>)[] = [];
function owned<T>(thing: T, stop: (thing: T) => Promise<unknown>): T {
  cleanups.push(() => stop(thing));
  return thing;
}
async function cleanUp(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch((error: unknown) => log(`clean-up: ${(error as Error).message}`));
}

// --- Vigil, as a user sets it up ----------------------------------------------

interface Session {
  tg: BotApiStandIn;
  vigil: RunningVigil;
  chat: Chat;
  user: User;
  drive: ChatDriver;
  statsFile: string;
  stop(): Promise<void>;
}

/** Alert captions: `Person on cam1 · 91% · 14:30:05`, or `Motion on cam1 · …` without the detector. */
const ALERT_CAPTION = /^\p{L}[\p{L} ]* on (\S+) · /u;

/** The camera of an alert photo, or undefined for any other request (the add-camera conversation's pictures are photos too). */
function alertCamera(r: RecordedRequest): string | undefined {
  return r.method === "sendPhoto" ? ALERT_CAPTION.exec((r.result as Message | undefined)?.caption ?? "")?.[1] : undefined;
}

/**
 * A fresh Vigil: `vigil init` (key file), `vigil start --stats-file`, claimed from
 * a private chat (one message per second; a group would add Telegram's 20 a minute),
 * where the user then talks to it while alerts come in.
 */
async function startSession(label: string, logLevel = "warn"): Promise<Session> {
  const tg = owned(await BotApiStandIn.start(), (t) => t.close());
  const dir = owned(await fs.mkdtemp(path.join(os.tmpdir(), `vigil-bench-${label}-`)), (d) => fs.rm(d, { recursive: true, force: true }));
  const keyFile = path.join(dir, "key");
  // The bench adds dozens of cameras through /addcamera: without the 3 s camera search for each (nothing would answer it here).
  const env = { VIGIL_DATA_DIR: path.join(dir, "data"), VIGIL_KEY_FILE: keyFile, VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: logLevel, VIGIL_ONVIF_TIMEOUT: "0" };
  const init = await vigil(["init", "--non-interactive", "--key-file", keyFile], { ...env, VIGIL_BOT_TOKEN: tg.token }, undefined, { compiled: true });
  if (init.code !== 0) throw new Error(`vigil init failed: ${init.stderr}`);
  const statsFile = path.join(dir, "stats.json");
  const running = startVigil(env, { compiled: true, args: ["--stats-file", statsFile] });
  const stop = async () => {
    const code = await running.stop(15_000);
    if (code !== 0) log(`vigil (${label}) exited with ${code}:\n${running.output().slice(-3000)}`);
  };
  cleanups.push(stop);
  const code = await running.claimCode();
  const user = tg.user({ firstName: "Bench" });
  const chat = tg.privateChat(user);
  const drive = createChatDriver(tg, { timeoutMs: 90_000, ignore: (r) => alertCamera(r) !== undefined });
  await tg.waitFor((r) => r.method === "getUpdates", { arrived: true, timeoutMs: 60_000 });
  const claimed = await drive.ask(user, chat, `/claim ${code}`);
  if (!claimed.text?.startsWith("Vigil is yours")) throw new Error(`claim failed: ${claimed.text}`);
  return { tg, vigil: running, chat, user, drive, statsFile, stop };
}

async function command(s: Session, text: string): Promise<string> {
  return (await s.drive.ask(s.user, s.chat, text)).text ?? "";
}

async function readStats(s: Session): Promise<StatsSnapshot> {
  for (;;) {
    try {
      return JSON.parse(await fs.readFile(s.statsFile, "utf8")) as StatsSnapshot;
    } catch {
      await sleep(200); // not written yet
    }
  }
}

async function waitOnline(s: Session, names: readonly string[]): Promise<void> {
  const online = async () => {
    const stats = await readStats(s);
    return names.every((n) => stats.cameras.some((c) => c.name === n && c.state === "online" && c.framesIn > 0));
  };
  await until(online, 90_000, `cameras ${names.join(", ")} online`);
}

// --- Measuring ----------------------------------------------------------------

const rtspUsage = () => groupUsage(async (p) => p.ppid === process.pid && (p.comm === "python3" || (p.comm === "ffmpeg" && (await commandLine(p.pid)).includes(" -f rtp "))));

interface Reading {
  at: number;
  vigil: Usage;
  rtsp: Usage;
  stats: StatsSnapshot;
}

/** Vigil's processes: Node itself, the detection decoders (its own, or ffmpeg), the recorder's stream copies. */
function vigilRole(stat: { comm: string }, commandLine: string): string {
  if (stat.comm === "vigil-decode") return "decode";
  if (stat.comm !== "ffmpeg") return "node";
  if (commandLine.includes("rawvideo")) return "decode";
  if (commandLine.includes("mpegts")) return "record";
  return "other ffmpeg";
}

async function reading(s: Session): Promise<Reading> {
  const [vigilUsage, rtsp, stats] = await Promise.all([treeUsage(s.vigil.pid, vigilRole, { pss: true }), rtspUsage(), readStats(s)]);
  return { at: Date.now(), vigil: vigilUsage, rtsp, stats };
}

interface Window {
  seconds: number;
  vigilCpuPct: number;
  /** Vigil's CPU by process role (node, decode, record), % of one core. */
  vigilCpuPctByRole: Record<string, number>;
  rssMb: number;
  /** RSS by process role (node, decode, record), MB. */
  rssMbByRole: Record<string, number>;
  /** Proportional set size: shared library pages counted once for all processes, not once per process. */
  pssMb: number;
  rtspCpuPct: number;
  frames: number;
  dropped: number;
  /** Frames the detector ran on, and frames whose motion lay only on stationary objects (the detector spared). */
  detectorRuns: number;
  stationarySkips: number;
  frameAgeP95Ms: number | undefined;
  frameAgeP50Ms: number | undefined;
  detectorMsPerInference: number | undefined;
}

/** What happened between two readings, over the cameras in `names`. */
function between(a: Reading, b: Reading, names: readonly string[]): Window {
  const seconds = (b.at - a.at) / 1000;
  const pick = (r: Reading) => r.stats.cameras.filter((c) => names.includes(c.name));
  const before = new Map(pick(a).map((c) => [c.name, c]));
  let frames = 0;
  let dropped = 0;
  let detectorRuns = 0;
  let stationarySkips = 0;
  const ages = new Array<number>(b.stats.ageBucketsMs.length + 1).fill(0);
  for (const cam of pick(b)) {
    const old = before.get(cam.name);
    frames += cam.framesIn - (old?.framesIn ?? 0);
    dropped += cam.framesDropped + cam.superseded - (old ? old.framesDropped + old.superseded : 0);
    detectorRuns += cam.detectorRuns - (old?.detectorRuns ?? 0);
    stationarySkips += cam.stationarySkips - (old?.stationarySkips ?? 0);
    cam.frameAges.forEach((n, i) => (ages[i]! += n - (old?.frameAges[i] ?? 0)));
  }
  const inferences = b.stats.detector.inferences - a.stats.detector.inferences;
  return {
    seconds,
    vigilCpuPct: cpuPercent(a.vigil, b.vigil, seconds),
    vigilCpuPctByRole: Object.fromEntries(Object.entries(b.vigil.byRole ?? {}).map(([role, cpu]) => [role, Number((((cpu - (a.vigil.byRole?.[role] ?? 0)) / seconds) * 100).toFixed(2))])),
    rssMb: b.vigil.rssBytes / 1e6,
    rssMbByRole: Object.fromEntries(Object.entries(b.vigil.rssByRole ?? {}).map(([role, bytes]) => [role, Math.round(bytes / 1e6)])),
    pssMb: (b.vigil.pssBytes ?? 0) / 1e6,
    rtspCpuPct: cpuPercent(a.rtsp, b.rtsp, seconds),
    frames,
    dropped,
    detectorRuns,
    stationarySkips,
    frameAgeP95Ms: ageQuantile(ages, 0.95),
    frameAgeP50Ms: ageQuantile(ages, 0.5),
    detectorMsPerInference: inferences > 0 ? (b.stats.detector.busyMs - a.stats.detector.busyMs) / inferences : undefined,
  };
}

interface CameraSpec {
  name: string;
  clip: string;
  kind: Kind;
  /** Wallflower: when the person walks in, in seconds into this camera's loop. */
  entryS?: number;
}

/** A wallflower camera whose loop starts `rotationS` into the clip: the person walks in `entryS` into each of its loops. */
async function wallflowerCamera(name: string, rotationS: number, loopS: number): Promise<CameraSpec> {
  const rotation = Number((((rotationS % loopS) + loopS) % loopS).toFixed(1));
  return { name, clip: rotation === 0 ? footage(WALLFLOWER) : await rotatedClip(WALLFLOWER, rotation), kind: "wallflower", entryS: Number((((ENTRY_S - rotation) % loopS) + loopS) % loopS) };
}

/** Wall-clock times (ms) of a camera's visits entering in [from, to]. */
function entries(rtsp: RtspTestServer, cam: CameraSpec, from: number, to: number): number[] {
  return cam.entryS === undefined ? [] : rtsp.frameTimes(cam.name, cam.entryS, to).filter((t) => t >= from);
}

interface Photo {
  /** When the whole request (the photo included) had arrived at the stand-in. */
  at: number;
  camera: string;
}

interface Visit {
  camera: string;
  /** The entry frame left the RTSP server. */
  entry: number;
  photo?: Photo;
  /** Photo arrival − entry, ms. */
  latencyMs?: number;
  /** Entry → the alert leaving Vigil's pipeline for the outbox, from Vigil's log (at info or lower). */
  readyMs?: number;
  /** Entry → the frame the visitor was first seen in reaching Vigil (the rest, to `readyMs`, is confirming and the alert's snapshot). */
  firstSeenMs?: number;
  /**
   * Another message (not an edit) went to the chat less than a second before the alert was ready
   * (before the photo arrived, without Vigil's log): Telegram's per-chat limit held this one.
   */
  heldByChatLimit?: boolean;
  /** A clip (seconds of video) was being uploaded to the chat between the entry and this photo: the photo waited for it. */
  behindClip?: boolean;
}

interface AlertCount {
  visits: Visit[];
  /** ms from the entry frame leaving the server to the photo arriving, one per visit that alerted. */
  latencies: number[];
  /** Visits without an alert. */
  missed: number;
  heldByChatLimit: number;
  behindClip: number;
}

/** Photo alerts in the chat since `mark`, when every message (not edits) was sent, and the clip uploads (video edits). */
function photosSince(s: Session, mark: number): { photos: Photo[]; sends: { at: number; bodyAt: number }[]; clips: { from: number; to: number }[] } {
  const sent = s.tg.outputs(s.chat, mark);
  const photos = sent.flatMap((r) => {
    const camera = alertCamera(r);
    return camera ? [{ at: r.bodyAt, camera }] : [];
  });
  const clips = sent.filter((r) => r.method === "editMessageMedia" || r.method === "sendVideo").map((r) => ({ from: r.at, to: r.bodyAt }));
  return { photos, sends: sent.filter((r) => !r.method.startsWith("edit")), clips };
}

/** The visits entering in [from, to], and the photo alert each brought (sent since `mark`). */
function timeVisits(s: Session, rtsp: RtspTestServer, cameras: readonly CameraSpec[], mark: number, from: number, to: number): AlertCount {
  const { photos, sends, clips } = photosSince(s, mark);
  const lines = alertLogLines(s);
  const visits: Visit[] = [];
  for (const cam of cameras) {
    for (const entry of entries(rtsp, cam, from, to)) {
      const photo = photos.find((p) => p.camera === cam.name && p.at >= entry && p.at < entry + MATCH_MS);
      if (!photo) {
        visits.push({ camera: cam.name, entry });
        continue;
      }
      const line = alertLine(lines, cam.name, entry, photo.at);
      const readyAt = line?.time;
      // When the frame the visitor was first seen in reached Vigil: the first look, before the looks that confirmed it.
      const seenAt = line?.seenMs === undefined ? undefined : line.time - line.frameAgeMs - line.seenMs;
      const previous = sends.filter((r) => r.bodyAt < photo.at).at(-1)?.at;
      const behindClip = clips.some((c) => c.to > entry && c.from < photo.at);
      const heldByChatLimit = previous !== undefined && (readyAt ?? photo.at) - previous < LIMIT_MS;
      visits.push({ camera: cam.name, entry, photo, latencyMs: photo.at - entry, ...(readyAt === undefined ? {} : { readyMs: readyAt - entry }), ...(seenAt === undefined ? {} : { firstSeenMs: seenAt - entry }), heldByChatLimit, behindClip });
    }
  }
  const latencies = visits.flatMap((v) => (v.latencyMs === undefined ? [] : [v.latencyMs]));
  return { visits, latencies, missed: visits.length - latencies.length, heldByChatLimit: visits.filter((v) => v.heldByChatLimit).length, behindClip: visits.filter((v) => v.behindClip).length };
}

/** Waits until every visit entering in [from, to] has its alert, or is MATCH_MS old. */
async function visitsSettled(s: Session, rtsp: RtspTestServer, cameras: readonly CameraSpec[], mark: number, from: number, to: number): Promise<void> {
  const due = cameras.flatMap((c) => entries(rtsp, c, from, to).map((entry) => ({ camera: c.name, entry })));
  const settled = () => {
    const { photos } = photosSince(s, mark);
    return due.every(({ camera, entry }) => Date.now() >= entry + MATCH_MS || photos.some((p) => p.camera === camera && p.at >= entry));
  };
  while (!settled()) await sleep(200);
}

/**
 * When a window from `start` ends: full-loop windows, when every wallflower
 * camera has had one visit in it (and 2 s for its alert), within one loop; quick
 * windows after `minWindowS`, stretched to a visit due within 10 s more.
 */
function windowEnd(rtsp: RtspTestServer, cameras: readonly CameraSpec[], start: number, loopMs: number): number {
  const next = cameras.flatMap((c) => entries(rtsp, c, start + 1000, start + 1000 + loopMs).slice(0, 1)).map((t) => t + 2000);
  const minEnd = start + PLAN.minWindowS * 1000;
  if (PLAN.fullLoopWindows) return Math.min(start + loopMs, Math.max(minEnd, ...next));
  return Math.max(minEnd, ...next.filter((t) => t <= minEnd + 10_000));
}

/**
 * Alerts that no person explains, since `mark`: on footage without people, and
 * on wallflower outside the visits (an alert counts for a visit when it arrives
 * within MATCH_MS of the entry).
 */
function falseAlerts(s: Session, rtsp: RtspTestServer, cameras: readonly CameraSpec[], mark: number): Photo[] {
  return photosSince(s, mark).photos.filter((p) => {
    const cam = cameras.find((c) => c.name === p.camera);
    if (cam?.kind === "people") return false;
    if (cam?.kind !== "wallflower") return true; // a person on footage without people
    return !entries(rtsp, cam, 0, p.at).some((entry) => p.at >= entry && p.at < entry + MATCH_MS);
  });
}

/** Vigil's `alert` log lines (pino JSON on stderr): which camera, when, how long after its frame reached Vigil, and how long after the frame the visitor was first seen in. */
type AlertLine = { camera: string; time: number; frameAgeMs: number; seenMs?: number };

function alertLogLines(s: Session): AlertLine[] {
  return logLines(s.vigil.output()).flatMap((l) => (l.msg === "alert" && typeof l.camera === "string" && typeof l.frameAgeMs === "number" ? [{ camera: l.camera, time: l.time, frameAgeMs: l.frameAgeMs, ...(typeof l.seenMs === "number" ? { seenMs: l.seenMs } : {}) }] : []));
}

/** The log line of the alert that left the pipeline for a visit's photo. */
function alertLine(lines: readonly AlertLine[], camera: string, entry: number, photoAt: number): AlertLine | undefined {
  return lines.filter((l) => l.camera === camera && l.time <= photoAt && l.time >= entry - 1000).at(-1);
}

/**
 * Where a photo alert's time goes, per visit, from Vigil's alert log line: the
 * entry frame leaving the server → the frame that confirmed the person reaching
 * Vigil (the frames needed to confirm, plus the trip through the server and
 * ffmpeg) → the alert leaving the pipeline (detector, annotated snapshot) →
 * the photo arriving (the outbox written to disk, the upload).
 */
interface Breakdown {
  toConfirmingFrameMs: number[];
  pipelineMs: number[];
  deliveryMs: number[];
}

function breakdown(s: Session, visits: readonly Visit[]): Breakdown {
  const lines = alertLogLines(s);
  const out: Breakdown = { toConfirmingFrameMs: [], pipelineMs: [], deliveryMs: [] };
  for (const v of visits) {
    if (!v.photo) continue;
    const line = alertLine(lines, v.camera, v.entry, v.photo.at);
    if (!line) continue;
    out.toConfirmingFrameMs.push(line.time - line.frameAgeMs - v.entry);
    out.pipelineMs.push(line.frameAgeMs);
    out.deliveryMs.push(v.photo.at - line.time);
  }
  return out;
}

// --- Phases ---------------------------------------------------------------------

async function startServer(cameras: readonly CameraSpec[], paused: boolean): Promise<RtspTestServer> {
  const mounts: MountSpec[] = cameras.map((c) => ({ name: c.name, clip: c.clip, clipOptions: STREAM, paused }));
  return owned(await startRtspServer({ mounts }), (server) => server.close());
}

/** Each time the bot could not open a camera being added and "Try again" was pressed: the camera and the bot's sentence. */
const addFailures: string[] = [];

/** Adds cameras through the /addcamera conversation, pressing "Try again" up to twice a camera; resolves with the seconds each took. */
async function addCameras(s: Session, server: RtspTestServer, cameras: readonly CameraSpec[]): Promise<number> {
  const started = performance.now();
  for (const cam of cameras) {
    const onFailure = (sentence: string) => {
      addFailures.push(`${cam.name}: ${sentence}`);
      log(`/addcamera ${cam.name}: the bot could not open it (${sentence}); trying again`);
    };
    await addCameraByChat(s.tg, s.drive, s.user, s.chat, { name: cam.name, url: server.url(cam.name) }, 90_000, { retries: 2, onFailure });
  }
  return (performance.now() - started) / 1000 / Math.max(1, cameras.length);
}

/** Clip edits share the chat's one message per second with alerts: push them past the measurements. */
async function keepClipsOutOfTheWay(s: Session): Promise<void> {
  await command(s, "/set maxclip 120");
  await command(s, "/set postroll 60");
}

interface IdleResult {
  cameras: number;
  vigilCpuPct: number;
  vigilCpuPctByRole: Record<string, number>;
  bareFfmpegCpuPct: number;
  ratio: number;
  ratios: number[];
  rtspCpuPct: number;
  rssMb: number;
  pssMb: number;
  frameAgeP95Ms: number | undefined;
}

async function idlePhase(): Promise<IdleResult> {
  const clip = await idleClip();
  const cameras: CameraSpec[] = Array.from({ length: PLAN.idleCameras }, (_, i) => ({ name: `idle${i + 1}`, clip, kind: "idle" }));
  const server = await startServer(cameras, false);
  const s = await startSession("idle");
  await addCameras(s, server, cameras);
  await command(s, "/arm");
  const names = cameras.map((c) => c.name);
  await waitOnline(s, names);
  const bare = owned(startBareDecoders(cameras.map((c) => ({ url: server.url(c.name), width: 640, height: 360, fps: 5 }))), (b) => b.stop());
  await sleep(PLAN.warmS * 1000);
  const barePids = new Set(bare.children.map((c) => c.pid()));
  const bareUsage = () => groupUsage((p) => barePids.has(p.pid));
  const windows: { vigil: Window; bare: number }[] = [];
  for (let w = 0; w < PLAN.idleWindows; w++) {
    const [a, b0] = [await reading(s), await bareUsage()];
    await sleep(PLAN.idleWindowS * 1000);
    const [b, b1] = [await reading(s), await bareUsage()];
    const vigilWindow = between(a, b, names);
    windows.push({ vigil: vigilWindow, bare: cpuPercent(b0, b1, vigilWindow.seconds) });
  }
  await bare.stop();
  await s.stop();
  await server.close();
  const ratios = windows.map((w) => w.vigil.vigilCpuPct / w.bare);
  return {
    cameras: cameras.length,
    vigilCpuPct: median(windows.map((w) => w.vigil.vigilCpuPct)),
    vigilCpuPctByRole: windows.at(-1)!.vigil.vigilCpuPctByRole,
    bareFfmpegCpuPct: median(windows.map((w) => w.bare)),
    ratio: median(ratios),
    ratios,
    rtspCpuPct: median(windows.map((w) => w.vigil.rtspCpuPct)),
    rssMb: windows.at(-1)!.vigil.rssMb,
    pssMb: windows.at(-1)!.vigil.pssMb,
    frameAgeP95Ms: windows.at(-1)!.vigil.frameAgeP95Ms,
  };
}

interface LatencyResult extends AlertCount {
  cameras: number;
  falseAlerts: Photo[];
  window: Window;
  breakdown: Breakdown;
  addSecondsPerCamera: number;
}

async function latencyPhase(loopS: number): Promise<LatencyResult> {
  const n = PLAN.latencyCameras;
  // Camera i's person walks in firstEntryS + i·spacing after the server starts, and every loop after.
  const spacing = PLAN.fullLoopWindows ? loopS / n : 2.5;
  const cameras = await Promise.all(Array.from({ length: n }, (_, i) => wallflowerCamera(`wall${i + 1}`, ENTRY_S - (PLAN.firstEntryS + i * spacing), loopS)));
  const server = await startServer(cameras, false);
  const loopMs = loopS * 1000;
  const s = await startSession("latency", "info");
  const addSeconds = await addCameras(s, server, cameras);
  await keepClipsOutOfTheWay(s);
  await command(s, "/arm");
  const names = cameras.map((c) => c.name);
  await waitOnline(s, names);
  const mark = s.tg.mark();
  const from = Date.now() + 1000;
  const to = PLAN.latencyLoops > 0 ? from + PLAN.latencyLoops * loopMs : windowEnd(server, cameras, from, loopMs);
  await sleep(from - Date.now());
  const a = await reading(s);
  await sleep(to - Date.now());
  const b = await reading(s);
  await visitsSettled(s, server, cameras, mark, from, to);
  const visits = timeVisits(s, server, cameras, mark, from, to);
  const wrong = falseAlerts(s, server, cameras, 0);
  const parts = breakdown(s, visits.visits);
  if (ONLY) await fs.writeFile(path.join(OUT_DIR, "latency-vigil.log"), s.vigil.output());
  await s.stop();
  await server.close();
  return { cameras: cameras.length, ...visits, falseAlerts: wrong, window: between(a, b, names), breakdown: parts, addSecondsPerCamera: addSeconds };
}

/** Rounds of the latency phase as one. */
function mergeRounds(rounds: readonly LatencyResult[]): LatencyResult {
  const all = <T>(pick: (r: LatencyResult) => readonly T[]) => rounds.flatMap(pick);
  const sum = (pick: (r: LatencyResult) => number) => rounds.reduce((total, r) => total + pick(r), 0);
  return {
    cameras: rounds[0]!.cameras,
    visits: all((r) => r.visits),
    latencies: all((r) => r.latencies),
    missed: sum((r) => r.missed),
    heldByChatLimit: sum((r) => r.heldByChatLimit),
    behindClip: sum((r) => r.behindClip),
    falseAlerts: all((r) => r.falseAlerts),
    window: rounds[0]!.window,
    breakdown: { toConfirmingFrameMs: all((r) => r.breakdown.toConfirmingFrameMs), pipelineMs: all((r) => r.breakdown.pipelineMs), deliveryMs: all((r) => r.breakdown.deliveryMs) },
    addSecondsPerCamera: sum((r) => r.addSecondsPerCamera) / rounds.length,
  };
}

interface Step {
  cameras: number;
  wallflowerCameras: number;
  window: Window;
  alerts: AlertCount;
  alertP95Ms: number | undefined;
  /** Entry → the alert leaving the pipeline, p95 (before the outbox, the upload and the chat's limit). */
  readyP95Ms: number | undefined;
  ok: boolean;
  why?: string;
  /** RTSP connections open at the test server while the step was measured (before the floor's own decoders). */
  rtspSessions: number;
}

interface CapacityResult {
  steps: Step[];
  maxCameras: number;
  /** Why the ramp ended before its last step, if it did. */
  stopped?: string;
  /** Bare ffmpeg per camera on the mix, measured beside the running Vigil at `floorStep`. */
  bareFfmpegCpuPctPerCamera: number | undefined;
  floorCameras: number;
  detectorMsPerInference: number | undefined;
  falseAlerts: Photo[];
}

async function capacityPhase(loopS: number): Promise<CapacityResult> {
  const total = PLAN.steps.at(-1)!;
  const loopMs = loopS * 1000;
  const wallflowers = Math.ceil(total / MIX.length);
  const cameras: CameraSpec[] = [];
  for (let i = 0; i < total; i++) {
    const { clip, kind } = MIX[i % MIX.length]!;
    const name = `c${String(i + 1).padStart(2, "0")}`;
    // Wallflower cameras loop from different points, so that started close together their visits still fall apart.
    cameras.push(kind === "wallflower" ? await wallflowerCamera(name, ((i / MIX.length) * loopS) / wallflowers, loopS) : { name, clip: footage(clip), kind });
  }
  const server = await startServer(cameras, true);
  // At info, for the moment each alert leaves the pipeline (what the chat's limit then adds is told apart).
  const s = await startSession("capacity", "info");
  const steps: Step[] = [];
  const result: CapacityResult = { steps, maxCameras: 0, bareFfmpegCpuPctPerCamera: undefined, floorCameras: 0, detectorMsPerInference: undefined, falseAlerts: [] };
  let running = 0;
  let armed = false;
  let addSecondsPerCamera = 3;
  for (const n of PLAN.steps) {
    const added = cameras.slice(running, n);
    // A step takes its additions, the warm-up and one window; the floor step measures bare ffmpeg as well.
    const expectedS = added.length * addSecondsPerCamera + PLAN.warmS + (PLAN.fullLoopWindows ? loopS + 10 : PLAN.minWindowS + 6) + (n === PLAN.floorStep ? PLAN.floorWindowS + 3 : 0) + 4;
    if (elapsedS() + expectedS > PLAN.budgetS) {
      result.stopped = `time budget: ${n} cameras would end after ${Math.round(elapsedS() + expectedS)} s (budget ${PLAN.budgetS} s)`;
      log(`capacity: ${result.stopped}`);
      break;
    }
    let step: Step;
    try {
      // Keep each visit 2 s away from the other wallflower cameras' (the chat takes one message a second),
      // those of earlier steps and those this step started before it.
      const phase = (t: number) => (((t % loopMs) + loopMs) % loopMs);
      const entryPhases = cameras.slice(0, running).filter((c) => c.kind === "wallflower").map((c) => phase(server.frameTimes(c.name, c.entryS!)[0]!));
      for (const cam of added) {
        if (cam.kind === "wallflower") {
          const clash = () => entryPhases.some((o) => Math.min(Math.abs(phase(Date.now() + cam.entryS! * 1000) - o), loopMs - Math.abs(phase(Date.now() + cam.entryS! * 1000) - o)) < 2000);
          for (let waited = 0; clash() && waited < 10_000; waited += 250) await sleep(250);
          entryPhases.push(phase(Date.now() + cam.entryS! * 1000));
        }
        server.resume(cam.name);
      }
      if (added.length) addSecondsPerCamera = await addCameras(s, server, added);
      await keepClipsOutOfTheWay(s);
      for (const cam of added.filter((c) => c.kind === "people")) await command(s, `/set ${cam.name} zone ${QUIET_ZONE}`);
      if (!armed) await command(s, "/arm");
      armed = true;
      running = n;
      const inUse = cameras.slice(0, n);
      const names = inUse.map((c) => c.name);
      await waitOnline(s, names);
      await sleep(PLAN.warmS * 1000);
      log(`capacity: ${n} camera(s), measuring (load ${loadAverage()})`);
      // Counted at the server, as a camera would: detection and recording of a camera share one session.
      const rtspSessions = server.connections;
      const mark = s.tg.mark();
      const a = await reading(s);
      await sleep(windowEnd(server, inUse, a.at, loopMs) - Date.now());
      const b = await reading(s);
      const window = between(a, b, names);
      if (n === PLAN.floorStep) {
        const bare = owned(startBareDecoders(names.map((name) => ({ url: server.url(name), width: 640, height: 360, fps: 5 }))), (d) => d.stop());
        await sleep(3000);
        const pids = new Set(bare.children.map((c) => c.pid()));
        const f0 = await groupUsage((p) => pids.has(p.pid));
        await sleep(PLAN.floorWindowS * 1000);
        result.bareFfmpegCpuPctPerCamera = cpuPercent(f0, await groupUsage((p) => pids.has(p.pid)), PLAN.floorWindowS) / n;
        result.floorCameras = n;
        await bare.stop();
      }
      await visitsSettled(s, server, inUse, mark, a.at, b.at);
      const alerts = timeVisits(s, server, inUse, mark, a.at, b.at);
      const alertP95Ms = alerts.missed > 0 ? Infinity : quantile(alerts.latencies, 0.95);
      const problems = [
        window.frameAgeP95Ms === undefined || window.frameAgeP95Ms >= BREAK_MS ? `frame age p95 ${window.frameAgeP95Ms ?? "none"} ms` : undefined,
        alertP95Ms !== undefined && alertP95Ms >= BREAK_MS ? (alerts.missed ? `${alerts.missed} visit(s) without an alert` : `alert p95 ${round(alertP95Ms)} ms`) : undefined,
        PLAN.fullLoopWindows && alerts.visits.length === 0 ? "no visit in the window" : undefined,
      ].filter(Boolean);
      const readyP95Ms = quantile(alerts.visits.flatMap((v) => (v.readyMs === undefined ? [] : [v.readyMs])), 0.95);
      step = { cameras: n, wallflowerCameras: inUse.filter((c) => c.kind === "wallflower").length, window, alerts, alertP95Ms, readyP95Ms, ok: problems.length === 0, ...(problems.length ? { why: problems.join("; ") } : {}), rtspSessions };
      steps.push(step);
      log(`capacity: ${n} camera(s): ${rtspSessions} RTSP session(s), CPU ${window.vigilCpuPct.toFixed(1)} %, RSS ${Math.round(window.rssMb)} MB, frame age p95 ${window.frameAgeP95Ms} ms, alert p95 ${round(alertP95Ms) ?? "– (no visit in the window)"} (out of the pipeline ${round(readyP95Ms) ?? "–"}, ${alerts.heldByChatLimit} held by the chat's limit)${step.ok ? "" : `: over the limit (${step.why})`}`);
    } catch (error) {
      // A step that cannot be set up or measured ends the ramp; what was measured is reported.
      const [first, ...rest] = (error as Error).message.split("\n");
      result.stopped = `${n} cameras: ${first}`;
      const logFile = path.join(OUT_DIR, "capacity-vigil.log");
      // With the state of the bot's connections to the stand-in: a bot gone silent is told apart from one stuck half-way through a request.
      const port = new URL(s.tg.apiRoot).port;
      const sockets = await run("ss", ["-tni", `( sport = :${port} or dport = :${port} )`]).then((r) => r.stdout, (e: Error) => `(ss failed: ${e.message})`);
      await fs.writeFile(logFile, `${s.vigil.output()}\n--- why the step stopped ---\n${first}\n${rest.join("\n")}\n--- connections to the Bot API stand-in (ss -tni) ---\n${sockets}`);
      log(`capacity: ${result.stopped} (Vigil's log: ${logFile})`);
      break;
    }
    if (!step.ok) break;
    result.maxCameras = n;
    if (step.window.detectorMsPerInference !== undefined) result.detectorMsPerInference = step.window.detectorMsPerInference;
  }
  result.falseAlerts = falseAlerts(s, server, cameras, 0);
  if (!result.stopped && (result.falseAlerts.length || steps.some((st) => !st.ok))) await keepEvidence(s, result.falseAlerts);
  await s.stop();
  await server.close();
  return result;
}

/**
 * After a step over the limit (a visit missed or alerted late, frames too old) or a false alert:
 * Vigil's log (its `alert` lines name the camera, when the visitor was first seen and the looks
 * that found him, with their rank and wait at the detector) and the photo of each false alert, to
 * see what the detector saw.
 */
async function keepEvidence(s: Session, wrong: readonly Photo[]): Promise<void> {
  const logFile = path.join(OUT_DIR, "capacity-vigil.log");
  await fs.writeFile(logFile, s.vigil.output());
  const photos: string[] = [];
  for (const p of wrong) {
    const request = s.tg.outputs(s.chat, 0).find((r) => r.bodyAt === p.at && alertCamera(r) === p.camera);
    const file = request && Object.values(request.files)[0];
    if (!file) continue;
    const name = path.join(OUT_DIR, `false-alert-${p.camera}-${new Date(p.at).toISOString().replaceAll(":", "-")}.jpg`);
    await fs.writeFile(name, file.data);
    photos.push(name);
  }
  log(`capacity: a step was over the limit or an alert was false; Vigil's log: ${logFile}${photos.length ? `; the false alerts' photos: ${photos.join(", ")}` : ""}`);
}

// --- Report -----------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n");
}

function markdown(rows: string[][]): string {
  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => "---")), ...rows.slice(1).map(line)].join("\n");
}

const ms = (v: number | undefined) => (v === undefined ? "–" : Number.isFinite(v) ? `${Math.round(v)} ms` : "none");
const pct = (v: number | undefined) => (v === undefined ? "–" : `${v.toFixed(1)} %`);

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  const { stdout: commit } = await run("git", ["describe", "--always", "--dirty"], { cwd: PROJECT_ROOT });
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "unknown" };
  log(`${QUICK ? "quick run" : "full run"} on ${machine.model} ×${machine.cpus}, load ${loadAtStart}; commit ${commit.trim()}`);

  const loopS = (await prepareClip(footage(WALLFLOWER), STREAM)).duration;
  if (process.argv.includes("--only")) {
    const phases: Record<string, () => Promise<unknown>> = { idle: idlePhase, latency: () => latencyPhase(loopS), capacity: () => capacityPhase(loopS) };
    const phase = phases[ONLY ?? ""];
    if (!phase) throw new Error(`--only takes one of ${Object.keys(phases).join(", ")}`);
    log(`${ONLY} only`);
    process.stdout.write(`${JSON.stringify(await phase(), null, 2)}\n`);
    return;
  }
  log("floor: bare session.run on wallflower frames");
  const inferenceMs = await bareInferenceMs(await footageFrames(footage(WALLFLOWER), 20));
  log(`idle: ${PLAN.idleCameras} cameras on a still scene beside bare ffmpeg`);
  const idle = await idlePhase();
  log(`latency: ${PLAN.latencyCameras} wallflower cameras, ${PLAN.latencyLoops ? `${PLAN.latencyLoops} loops` : "one visit each"}${PLAN.latencyRounds > 1 ? `, ${PLAN.latencyRounds} rounds` : ""}`);
  const rounds: LatencyResult[] = [];
  for (let round = 0; round < PLAN.latencyRounds; round++) rounds.push(await latencyPhase(loopS));
  const latency = mergeRounds(rounds);
  log(`capacity: ramp ${PLAN.steps.join(", ")}`);
  const capacity = await capacityPhase(loopS);
  const loadAtEnd = loadAverage();

  const wrong = [...latency.falseAlerts, ...capacity.falseAlerts];
  const first = capacity.steps[0];
  const largest = capacity.steps.at(-1);
  const results = {
    machine,
    commit: commit.trim(),
    latency: { events: latency.latencies.length, photo_p50_ms: round(quantile(latency.latencies, 0.5)), photo_p95_ms: round(quantile(latency.latencies, 0.95)), false_alerts: wrong.length },
    capacity: {
      max_cameras: capacity.maxCameras,
      steps: capacity.steps.map((s) => ({ cameras: s.cameras, cpu_pct: round(s.window.vigilCpuPct, 1), rss_mb: round(s.window.rssMb), frame_age_p95_ms: round(s.window.frameAgeP95Ms), dropped: s.window.dropped, alert_p95_ms: round(s.alertP95Ms), ready_p95_ms: round(s.readyP95Ms), held_by_chat_limit: s.alerts.heldByChatLimit, detector_runs_per_camera_s: round(s.window.detectorRuns / s.cameras / s.window.seconds, 2), stationary_skips: s.window.stationarySkips })),
    },
    floor: { ffmpeg_cpu_pct_per_camera: round(capacity.bareFfmpegCpuPctPerCamera, 2), inference_ms_p50: round(inferenceMs, 2) },
    ratios: { cpu_vs_ffmpeg: round(idle.ratio, 2), inference_vs_bare: round(capacity.detectorMsPerInference !== undefined ? capacity.detectorMsPerInference / inferenceMs : undefined, 2) },
    // Vigil and its children at the largest capacity step, per camera beyond the first (the first step's RSS is the base).
    // PSS beside it: RSS counts the ~35 MB of libraries every ffmpeg maps once per process, the machine holds them once.
    memory: {
      rss_mb_per_camera: largest && first && largest.cameras > first.cameras ? round((largest.window.rssMb - first.window.rssMb) / (largest.cameras - first.cameras), 1) : null,
      pss_mb_per_camera: largest && first && largest.cameras > first.cameras ? round((largest.window.pssMb - first.window.pssMb) / (largest.cameras - first.cameras), 1) : null,
      // The same by process role: Node (the pipeline, the bot, the detector threads), the decoders, the rest.
      rss_mb_per_camera_by_role:
        largest && first && largest.cameras > first.cameras
          ? Object.fromEntries(Object.entries(largest.window.rssMbByRole).map(([role, mb]) => [role, round((mb - (first.window.rssMbByRole[role] ?? 0)) / (largest.cameras - first.cameras), 1)]))
          : null,
    },
    // RTSP sessions the test server saw, per camera, at the largest capacity step (1 when detection and recording share a stream).
    rtsp: { sessions_per_camera: largest ? round(largest.rtspSessions / largest.cameras, 2) : null },
  };

  const perCamFloor = capacity.bareFfmpegCpuPctPerCamera;
  const stepRows = [["cameras", "Vigil CPU", "vs bare ffmpeg", "RSS", "frame age p50 / p95", "dropped", "detector runs per camera·s (spared: still objects)", "alert p95", ""]];
  for (const s of capacity.steps) {
    stepRows.push([
      `${s.cameras} (${s.wallflowerCameras} timed)`,
      pct(s.window.vigilCpuPct),
      perCamFloor === undefined ? "–" : `${(s.window.vigilCpuPct / (perCamFloor * s.cameras)).toFixed(1)}x of ${pct(perCamFloor * s.cameras)}`,
      `${Math.round(s.window.rssMb)} MB`,
      `${ms(s.window.frameAgeP50Ms)} / ${ms(s.window.frameAgeP95Ms)}`,
      `${s.window.dropped} of ${s.window.frames}`,
      `${(s.window.detectorRuns / s.cameras / s.window.seconds).toFixed(2)} (${s.window.stationarySkips})`,
      s.alerts.visits.length ? `${ms(s.alertP95Ms)} (${s.alerts.visits.length} visit${s.alerts.visits.length === 1 ? "" : "s"}; out of the pipeline ${ms(s.readyP95Ms)}; ${s.alerts.heldByChatLimit} held by the chat's limit)` : "– (no visit)",
      s.ok ? "ok" : `over: ${s.why}`,
    ]);
  }
  const median0 = (v: number[]) => (v.length ? `${Math.round(median(v))} ms` : "–");
  const parts = latency.breakdown;
  const summary = [
    ["", "measured", "target"],
    ["photo alert p50 / p95", `${ms(results.latency.photo_p50_ms ?? undefined)} / ${ms(results.latency.photo_p95_ms ?? undefined)} (${latency.latencies.length} visits on ${latency.cameras} cameras${rounds.length > 1 ? ` × ${rounds.length} rounds` : ""}, ${latency.missed} missed, ${latency.heldByChatLimit} held by the chat's limit, ${latency.behindClip} behind a clip upload)`, "≤ 300 ms / ≤ 450 ms"],
    ["  where it goes (medians)", `entry → confirming frame in Vigil ${median0(parts.toConfirmingFrameMs)}; → alert out of the pipeline ${median0(parts.pipelineMs)}; → photo at the stand-in ${median0(parts.deliveryMs)}`, ""],
    ["false alerts (whole run)", `${wrong.length}${wrong.length ? ` (${wrong.map((p) => p.camera).join(", ")})` : ""}`, "0"],
    ["capacity", `${capacity.maxCameras} cameras${capacity.stopped ? ` (ramp stopped: ${capacity.stopped})` : ""}`, "≥ 32"],
    ["/addcamera tried again (whole run)", `${addFailures.length}${addFailures.length ? ` (${addFailures.join("; ")})` : ""}`, "0"],
    ["idle CPU vs bare ffmpeg", `${idle.ratio.toFixed(2)}x (${idle.cameras} still cameras: Vigil ${pct(idle.vigilCpuPct)} = ${Object.entries(idle.vigilCpuPctByRole).filter(([, v]) => v > 0).map(([role, v]) => `${role} ${v.toFixed(1)}`).join(" + ")}; bare ffmpeg ${pct(idle.bareFfmpegCpuPct)}${idle.ratios.length > 1 ? `; windows ${idle.ratios.map((r) => r.toFixed(2)).join(", ")}` : ""})`, "≤ 1.3x"],
    ["inference vs bare session.run", `${results.ratios.inference_vs_bare ?? "–"}x (in Vigil ${ms(capacity.detectorMsPerInference)} per model run, bare ${inferenceMs.toFixed(1)} ms)`, ""],
    ["bare ffmpeg per camera (mix)", `${pct(perCamFloor)} (${capacity.floorCameras} cameras, beside Vigil)`, ""],
    ["memory per camera beyond the first", results.memory.rss_mb_per_camera === null ? "–" : `${results.memory.rss_mb_per_camera} MB RSS (Vigil and its children, ${first!.cameras} → ${largest!.cameras} cameras: ${Math.round(first!.window.rssMb)} → ${Math.round(largest!.window.rssMb)} MB); by role ${Object.entries(results.memory.rss_mb_per_camera_by_role ?? {}).map(([role, mb]) => `${role} ${mb}`).join(" + ")} MB; PSS ${results.memory.pss_mb_per_camera} MB (${Math.round(first!.window.pssMb)} → ${Math.round(largest!.window.pssMb)} MB)`, "≤ 60 MB"],
    ["RTSP sessions per camera", results.rtsp.sessions_per_camera === null ? "–" : `${results.rtsp.sessions_per_camera} (${largest!.rtspSessions} at the server for ${largest!.cameras} cameras)`, "1"],
  ];
  const note = `${machine.model}, ${machine.cpus} cores; load average ${loadAtStart} at the start, ${loadAtEnd} at the end (other work shares this machine); commit ${results.commit}; ${startedAt.toISOString()}; ${Math.round(elapsedS())} s${QUICK ? "; --quick" : ""}`;
  process.stdout.write(`\n${table(summary)}\n\n${table(stepRows)}\n\n${note}\n`);
  process.stdout.write(`\nMarkdown for docs/performance.md:\n\n${markdown(summary)}\n\n${markdown(stepRows)}\n\n${note}\n`);

  await fs.mkdir(OUT_DIR, { recursive: true });
  await fs.writeFile(path.join(OUT_DIR, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  const details = path.join(OUT_DIR, `details-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  await fs.writeFile(details, JSON.stringify({ quick: QUICK, startedAt, loadAtStart, loadAtEnd, plan: PLAN, results, inferenceMs, idle, latency, capacity, addFailures }, null, 2));
  process.stdout.write(`\nbench/out/results.json, ${path.relative(PROJECT_ROOT, details)}\n`);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything`);
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  await main();
} finally {
  await cleanUp();
}
