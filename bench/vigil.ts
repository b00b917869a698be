/**
 * `npm run bench` (`npm run bench -- --quick` for a short smoke run): Vigil end to
 * end, as a user runs it, beside the physical floor, in one run.
 *
 * Everything is real and separate: the RTSP server (gst-rtsp-server, a feeder
 * ffmpeg per camera looping footage in real time), the Bot API stand-in, and
 * Vigil itself, the compiled `vigil start` in its own process, set up by its own
 * `vigil init` and by chat commands (/claim, /addcamera, /set, /arm) in a private
 * chat with the bot. It writes its live figures with `--stats-file`; CPU and
 * memory come from /proc (Vigil's Node process and every ffmpeg it runs).
 *
 * 1. Idle: cameras on a still scene with sensor noise. Vigil's CPU against bare
 *    ffmpeg decoding the same streams with the pipeline's own arguments, side by
 *    side (target: within 1.3x).
 * 2. Alert latency: cameras looping wallflower (a swaying tree, a person walking in
 *    at 24.2 s), out of step. The time from that frame leaving the RTSP server to the
 *    photo alert arriving at the stand-in, and every alert outside a visit.
 * 3. Capacity: 1, 2, 4 … 64 cameras of mixed footage at 640x360, 5 fps detection,
 *    one loop of the clip per step: Vigil's CPU (its ffmpeg children included), RSS,
 *    p95 frame age at decision, frames dropped, alert p95; the ramp stops at the
 *    first step over 1 s on either. The server and feeders' own CPU is reported apart.
 * 4. The floor: bare ffmpeg per camera on the capacity mix, bare `session.run`.
 *
 * Prints a table (and a markdown table for the README) with the load average, and
 * writes bench/out/results.json (the issue's keys, to compare versions) and
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
import { BotApiStandIn } from "../test/support/bot-api/index.js";
import { addCameraByChat, createChatDriver, type ChatDriver } from "../test/support/chat.js";
import { startVigil, vigil, type RunningVigil } from "../test/support/cli.js";
import { startRtspServer, type MountSpec, type RtspTestServer } from "../test/support/rtsp-server.js";
import { until } from "../test/support/wait.js";
import { bareInferenceMs, footageFrames, median, quantile, startBareDecoders } from "./floor.js";
import { footage, idleClip, OUT_DIR } from "./footage.js";
import { commandLine, cpuPercent, groupUsage, treeUsage, type Usage } from "./proc.js";

const run = promisify(execFile);
const QUICK = process.argv.includes("--quick");

const WALLFLOWER = "wallflower_wavingtrees_10fps.mp4";
/** The person walks in at 24.2 s of each loop and is gone by 25.8 s (../shared/footage/FOOTAGE.md). */
const ENTRY_S = 24.2;
/** An alert counts for a visit when it arrives within this of the entry; later ones are outside the visit. */
const MATCH_MS = 10_000;
const LIMIT_MS = 1000;

/** Every camera's sub-stream: 640x360 at 10 fps (wallflower's own rate), H.264, keyframe each second. */
const STREAM = { width: 640, height: 360, fps: 10 };

/**
 * The capacity mix, repeated: one wallflower camera in eight (its alerts are the
 * ones timed), the rest are the camera-like footage: road traffic with trees,
 * a parking lot with exposure swings (any person alert on these is false) and
 * pedestrians (true alerts; `/set timeout 3600` so a busy camera alerts once an
 * hour, as its owner would set it, and does not crowd the chat's one message per
 * second). Motion never stops on any of them, so every camera keeps the
 * detector busy: the worst case, not a typical home.
 */
const MIX: { clip: string; kind: "wallflower" | "nuisance" | "people" }[] = [
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
 * The full run takes about 10 minutes on 2 cores (less when the ramp stops early); --quick checks that
 * everything works in about 2. `minWindowS`: a capacity window lasts one loop of the clip (every
 * wallflower camera's visit falls in it once), or in a quick run only until each has had its visit.
 */
const PLAN = QUICK
  ? { idleCameras: 2, idleWindowS: 8, idleWindows: 1, latencyCameras: 3, latencyLoops: 1, maxStaggerS: 3, steps: [2], floorStep: 2, floorWindowS: 6, warmS: 3, minWindowS: 6 }
  : { idleCameras: 8, idleWindowS: 15, idleWindows: 2, latencyCameras: 8, latencyLoops: 3, maxStaggerS: 30, steps: [1, 2, 4, 8, 16, 32, 48, 64], floorStep: 8, floorWindowS: 15, warmS: 6, minWindowS: 30 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
const round = (v: number | undefined, digits = 0) => (v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(digits)));

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

/** A fresh Vigil: `vigil init` (key file), `vigil start --stats-file`, claimed from a private chat. */
async function startSession(label: string): Promise<Session> {
  const tg = owned(await BotApiStandIn.start(), (t) => t.close());
  const dir = owned(await fs.mkdtemp(path.join(os.tmpdir(), `vigil-bench-${label}-`)), (d) => fs.rm(d, { recursive: true, force: true }));
  const keyFile = path.join(dir, "key");
  const env = { VIGIL_DATA_DIR: path.join(dir, "data"), VIGIL_KEY_FILE: keyFile, VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "warn" };
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
  const drive = createChatDriver(tg, { timeoutMs: 90_000 });
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

/** Vigil's processes: Node itself, the detection decoders, the recorder's stream copies. */
function vigilRole(stat: { comm: string }, commandLine: string): string {
  if (stat.comm !== "ffmpeg") return "node";
  if (commandLine.includes("rawvideo")) return "decode";
  if (commandLine.includes("mpegts")) return "record";
  return "other ffmpeg";
}

async function reading(s: Session): Promise<Reading> {
  const [vigilUsage, rtsp, stats] = await Promise.all([treeUsage(s.vigil.child.pid!, vigilRole), rtspUsage(), readStats(s)]);
  return { at: Date.now(), vigil: vigilUsage, rtsp, stats };
}

interface Window {
  seconds: number;
  vigilCpuPct: number;
  /** Vigil's CPU by process role (node, decode, record), % of one core. */
  vigilCpuPctByRole: Record<string, number>;
  rssMb: number;
  rtspCpuPct: number;
  frames: number;
  dropped: number;
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
  const ages = new Array<number>(b.stats.ageBucketsMs.length + 1).fill(0);
  for (const cam of pick(b)) {
    const old = before.get(cam.name);
    frames += cam.framesIn - (old?.framesIn ?? 0);
    dropped += cam.framesDropped + cam.superseded - (old ? old.framesDropped + old.superseded : 0);
    cam.frameAges.forEach((n, i) => (ages[i]! += n - (old?.frameAges[i] ?? 0)));
  }
  const inferences = b.stats.detector.inferences - a.stats.detector.inferences;
  return {
    seconds,
    vigilCpuPct: cpuPercent(a.vigil, b.vigil, seconds),
    vigilCpuPctByRole: Object.fromEntries(Object.entries(b.vigil.byRole ?? {}).map(([role, cpu]) => [role, Number((((cpu - (a.vigil.byRole?.[role] ?? 0)) / seconds) * 100).toFixed(2))])),
    rssMb: b.vigil.rssBytes / 1e6,
    rtspCpuPct: cpuPercent(a.rtsp, b.rtsp, seconds),
    frames,
    dropped,
    frameAgeP95Ms: ageQuantile(ages, 0.95),
    frameAgeP50Ms: ageQuantile(ages, 0.5),
    detectorMsPerInference: inferences > 0 ? (b.stats.detector.busyMs - a.stats.detector.busyMs) / inferences : undefined,
  };
}

interface CameraSpec {
  name: string;
  clip: string;
  kind: "wallflower" | "nuisance" | "people" | "idle";
}

interface AlertCount {
  /** ms from the entry frame leaving the server to the photo arriving, one per visit that alerted. */
  latencies: number[];
  /** Visits without an alert. */
  missed: number;
  /** Alerts that arrived less than a second after another message to the chat: Telegram's per-chat limit may have held them. */
  heldByChatLimit: number;
}

interface Photo {
  at: number;
  camera: string;
}

/** Alert captions: `Person on cam1 · 91% · 14:30:05`, or `Motion on cam1 · …` without the detector. */
const ALERT_CAPTION = /^\p{L}[\p{L} ]* on (\S+) · /u;

/** Photo alerts in the chat since `mark` (the add-camera conversation's pictures are photos too, not alerts). */
function photosSince(s: Session, mark: number): { photos: Photo[]; sends: number[] } {
  const sent = s.tg.outputs(s.chat, mark);
  const photos = sent.flatMap((r) => {
    const camera = r.method === "sendPhoto" ? ALERT_CAPTION.exec((r.result as Message).caption ?? "")?.[1] : undefined;
    return camera ? [{ at: r.at, camera }] : [];
  });
  return { photos, sends: sent.map((r) => r.at) };
}

/** The wallflower cameras' visits with an entry in [from, to], and the photo alert each brought (sent since `mark`). */
function timeVisits(s: Session, rtsp: RtspTestServer, cameras: readonly CameraSpec[], mark: number, from: number, to: number): AlertCount {
  const { photos, sends } = photosSince(s, mark);
  const result: AlertCount = { latencies: [], missed: 0, heldByChatLimit: 0 };
  for (const cam of cameras.filter((c) => c.kind === "wallflower")) {
    for (const entry of rtsp.frameTimes(cam.name, ENTRY_S, to).filter((t) => t >= from)) {
      const photo = photos.find((p) => p.camera === cam.name && p.at >= entry && p.at < entry + MATCH_MS);
      if (!photo) {
        result.missed++;
        continue;
      }
      result.latencies.push(photo.at - entry);
      const previous = sends.filter((at) => at < photo.at).at(-1);
      if (previous !== undefined && photo.at - previous < LIMIT_MS) result.heldByChatLimit++;
    }
  }
  return result;
}

/** Waits until every visit with an entry in [from, to] has its alert, or is MATCH_MS old. */
async function visitsSettled(s: Session, rtsp: RtspTestServer, cameras: readonly CameraSpec[], mark: number, from: number, to: number): Promise<void> {
  const entries = cameras.filter((c) => c.kind === "wallflower").flatMap((c) => rtsp.frameTimes(c.name, ENTRY_S, to).filter((t) => t >= from).map((entry) => ({ camera: c.name, entry })));
  const settled = () => {
    const { photos } = photosSince(s, mark);
    return entries.every(({ camera, entry }) => Date.now() >= entry + MATCH_MS || photos.some((p) => p.camera === camera && p.at >= entry));
  };
  while (!settled()) await sleep(200);
}

/** When a window from `start` has seen one visit of every wallflower camera (plus time for the alert), within one loop. */
function windowEnd(rtsp: RtspTestServer, cameras: readonly CameraSpec[], start: number, loopMs: number): number {
  const nextEntries = cameras.filter((c) => c.kind === "wallflower").map((c) => rtsp.frameTimes(c.name, ENTRY_S).find((t) => t > start + 1000) ?? start);
  return Math.min(start + loopMs, Math.max(start + PLAN.minWindowS * 1000, ...nextEntries.map((t) => t + 2000)));
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
    return !rtsp.frameTimes(cam.name, ENTRY_S, p.at).some((entry) => p.at >= entry && p.at < entry + MATCH_MS);
  });
}

// --- Phases ---------------------------------------------------------------------

async function startServer(cameras: readonly CameraSpec[], paused: boolean): Promise<RtspTestServer> {
  const mounts: MountSpec[] = cameras.map((c) => ({ name: c.name, clip: c.clip, clipOptions: STREAM, paused }));
  return owned(await startRtspServer({ mounts }), (server) => server.close());
}

/** Adds cameras through the /addcamera conversation; resolves with the seconds each took. */
async function addCameras(s: Session, server: RtspTestServer, cameras: readonly CameraSpec[]): Promise<number> {
  const started = performance.now();
  for (const cam of cameras) await addCameraByChat(s.tg, s.drive, s.user, s.chat, { name: cam.name, url: server.url(cam.name) }, 90_000);
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
    frameAgeP95Ms: windows.at(-1)!.vigil.frameAgeP95Ms,
  };
}

interface LatencyResult extends AlertCount {
  cameras: number;
  falseAlerts: Photo[];
  window: Window;
  addSecondsPerCamera: number;
}

async function latencyPhase(): Promise<LatencyResult> {
  const cameras: CameraSpec[] = Array.from({ length: PLAN.latencyCameras }, (_, i) => ({ name: `wall${i + 1}`, clip: footage(WALLFLOWER), kind: "wallflower" }));
  const server = await startServer(cameras, true);
  const loopMs = server.clip(cameras[0]!.name).duration * 1000;
  const s = await startSession("latency");
  // Out of step, so that no two people walk in at once (and two alerts never share a second of the chat).
  const stagger = Math.min(loopMs / cameras.length, PLAN.maxStaggerS * 1000);
  const t0 = Date.now();
  let addSeconds = 0;
  for (const [i, cam] of cameras.entries()) {
    await sleep(t0 + i * stagger - Date.now());
    server.resume(cam.name);
    addSeconds += await addCameras(s, server, [cam]);
  }
  await keepClipsOutOfTheWay(s);
  await command(s, "/arm");
  const names = cameras.map((c) => c.name);
  await waitOnline(s, names);
  const mark = s.tg.mark();
  const from = Date.now() + 3000;
  const to = PLAN.latencyLoops === 1 ? windowEnd(server, cameras, from, loopMs) : from + PLAN.latencyLoops * loopMs;
  const a = await reading(s);
  await sleep(to - Date.now());
  const b = await reading(s);
  await visitsSettled(s, server, cameras, mark, from, to);
  const visits = timeVisits(s, server, cameras, mark, from, to);
  const wrong = falseAlerts(s, server, cameras, 0);
  await s.stop();
  await server.close();
  return { cameras: cameras.length, ...visits, falseAlerts: wrong, window: between(a, b, names), addSecondsPerCamera: addSeconds / cameras.length };
}

interface Step {
  cameras: number;
  wallflowerCameras: number;
  window: Window;
  alerts: AlertCount;
  alertP95Ms: number | undefined;
  ok: boolean;
  why?: string;
}

interface CapacityResult {
  steps: Step[];
  maxCameras: number;
  /** Bare ffmpeg per camera on the mix, measured beside the running Vigil at `floorStep`. */
  bareFfmpegCpuPctPerCamera: number | undefined;
  floorCameras: number;
  detectorMsPerInference: number | undefined;
  falseAlerts: Photo[];
}

async function capacityPhase(): Promise<CapacityResult> {
  const total = PLAN.steps.at(-1)!;
  const cameras: CameraSpec[] = Array.from({ length: total }, (_, i) => {
    const { clip, kind } = MIX[i % MIX.length]!;
    return { name: `c${String(i + 1).padStart(2, "0")}`, clip: footage(clip), kind };
  });
  const server = await startServer(cameras, true);
  const loopMs = server.clip(cameras[0]!.name).duration * 1000;
  const s = await startSession("capacity");
  const slots = Math.ceil(total / MIX.length);
  const taken = new Set<number>();
  const t0 = Date.now();
  const steps: Step[] = [];
  const result: CapacityResult = { steps, maxCameras: 0, bareFfmpegCpuPctPerCamera: undefined, floorCameras: 0, detectorMsPerInference: undefined, falseAlerts: [] };
  let running = 0;
  let armed = false;
  for (const n of PLAN.steps) {
    const added = cameras.slice(running, n);
    for (const cam of added) {
      if (cam.kind === "wallflower") {
        // Each wallflower camera gets its own slot of the loop for its visit: visits never overlap.
        const phaseOf = (slot: number) => t0 + (slot * loopMs) / slots - ENTRY_S * 1000;
        const nextStart = (slot: number) => phaseOf(slot) + Math.ceil((Date.now() - phaseOf(slot)) / loopMs) * loopMs;
        const slot = [...Array(slots).keys()].filter((k) => !taken.has(k)).sort((x, y) => nextStart(x) - nextStart(y))[0]!;
        taken.add(slot);
        await sleep(nextStart(slot) - Date.now());
      }
      server.resume(cam.name);
    }
    await addCameras(s, server, added);
    await keepClipsOutOfTheWay(s);
    for (const cam of added.filter((c) => c.kind === "people")) await command(s, `/set ${cam.name} timeout 3600`);
    if (!armed) await command(s, "/arm");
    armed = true;
    running = n;
    const names = cameras.slice(0, n).map((c) => c.name);
    await waitOnline(s, names);
    await sleep(PLAN.warmS * 1000);
    log(`capacity: ${n} camera(s), measuring (load ${loadAverage()})`);
    const mark = s.tg.mark();
    const a = await reading(s);
    await sleep(windowEnd(server, cameras.slice(0, n), a.at, loopMs) - Date.now());
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
    const inUse = cameras.slice(0, n);
    await visitsSettled(s, server, inUse, mark, a.at, b.at);
    const alerts = timeVisits(s, server, inUse, mark, a.at, b.at);
    const alertP95Ms = alerts.missed > 0 ? Infinity : quantile(alerts.latencies, 0.95);
    const problems = [
      window.frameAgeP95Ms === undefined || window.frameAgeP95Ms >= 1000 ? `frame age p95 ${window.frameAgeP95Ms ?? "none"} ms` : undefined,
      alertP95Ms === undefined || alertP95Ms >= 1000 ? (alerts.missed ? `${alerts.missed} visit(s) without an alert` : `alert p95 ${round(alertP95Ms)} ms`) : undefined,
    ].filter(Boolean);
    const step: Step = { cameras: n, wallflowerCameras: inUse.filter((c) => c.kind === "wallflower").length, window, alerts, alertP95Ms, ok: problems.length === 0, ...(problems.length ? { why: problems.join("; ") } : {}) };
    steps.push(step);
    log(`capacity: ${n} camera(s): CPU ${window.vigilCpuPct.toFixed(1)} %, frame age p95 ${window.frameAgeP95Ms} ms, alert p95 ${round(alertP95Ms)} ms${step.ok ? "" : `: over the limit (${step.why})`}`);
    if (!step.ok) break;
    result.maxCameras = n;
    if (window.detectorMsPerInference !== undefined) result.detectorMsPerInference = window.detectorMsPerInference;
  }
  result.falseAlerts = falseAlerts(s, server, cameras, 0);
  await s.stop();
  await server.close();
  return result;
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

  log("floor: bare session.run on wallflower frames");
  const inferenceMs = await bareInferenceMs(await footageFrames(footage(WALLFLOWER), 20));
  log(`idle: ${PLAN.idleCameras} cameras on a still scene beside bare ffmpeg`);
  const idle = await idlePhase();
  log(`latency: ${PLAN.latencyCameras} wallflower cameras, ${PLAN.latencyLoops} loop(s)`);
  const latency = await latencyPhase();
  log(`capacity: ramp ${PLAN.steps.join(", ")}`);
  const capacity = await capacityPhase();
  const loadAtEnd = loadAverage();

  const wrong = [...latency.falseAlerts, ...capacity.falseAlerts];
  const results = {
    machine,
    commit: commit.trim(),
    latency: { events: latency.latencies.length, photo_p50_ms: round(quantile(latency.latencies, 0.5)), photo_p95_ms: round(quantile(latency.latencies, 0.95)), false_alerts: wrong.length },
    capacity: {
      max_cameras: capacity.maxCameras,
      steps: capacity.steps.map((s) => ({ cameras: s.cameras, cpu_pct: round(s.window.vigilCpuPct, 1), rss_mb: round(s.window.rssMb), frame_age_p95_ms: round(s.window.frameAgeP95Ms), dropped: s.window.dropped, alert_p95_ms: round(s.alertP95Ms) })),
    },
    floor: { ffmpeg_cpu_pct_per_camera: round(capacity.bareFfmpegCpuPctPerCamera, 2), inference_ms_p50: round(inferenceMs, 2) },
    ratios: { cpu_vs_ffmpeg: round(idle.ratio, 2), inference_vs_bare: round(capacity.detectorMsPerInference !== undefined ? capacity.detectorMsPerInference / inferenceMs : undefined, 2) },
  };

  const perCamFloor = capacity.bareFfmpegCpuPctPerCamera;
  const stepRows = [["cameras", "Vigil CPU", "bare ffmpeg (est.)", "RTSP server + feeders", "RSS", "frame age p50 / p95", "dropped", "alert p95", ""]];
  for (const s of capacity.steps) {
    stepRows.push([
      `${s.cameras} (${s.wallflowerCameras} timed)`,
      pct(s.window.vigilCpuPct),
      perCamFloor === undefined ? "–" : `${pct(perCamFloor * s.cameras)} → ${(s.window.vigilCpuPct / (perCamFloor * s.cameras)).toFixed(1)}x`,
      pct(s.window.rtspCpuPct),
      `${Math.round(s.window.rssMb)} MB`,
      `${ms(s.window.frameAgeP50Ms)} / ${ms(s.window.frameAgeP95Ms)}`,
      `${s.window.dropped} of ${s.window.frames + s.window.dropped}`,
      ms(s.alertP95Ms),
      s.ok ? "ok" : `over: ${s.why}`,
    ]);
  }
  const summary = [
    ["", "measured", "target"],
    ["photo alert p50 / p95", `${ms(results.latency.photo_p50_ms ?? undefined)} / ${ms(results.latency.photo_p95_ms ?? undefined)} (${latency.latencies.length} visits, ${latency.missed} missed, ${latency.heldByChatLimit} held by the chat's 1 msg/s)`, "≤ 350 ms / ≤ 600 ms"],
    ["false alerts (whole run)", `${wrong.length}${wrong.length ? ` (${wrong.map((p) => p.camera).join(", ")})` : ""}`, "0"],
    ["capacity", `${capacity.maxCameras} cameras`, "≥ 32"],
    ["idle CPU vs bare ffmpeg", `${idle.ratio.toFixed(2)}x (${idle.cameras} cameras: Vigil ${pct(idle.vigilCpuPct)} = ${Object.entries(idle.vigilCpuPctByRole).map(([role, v]) => `${role} ${v.toFixed(1)}`).join(" + ")}; bare ffmpeg ${pct(idle.bareFfmpegCpuPct)}; windows ${idle.ratios.map((r) => r.toFixed(2)).join(", ")})`, "≤ 1.3x"],
    ["inference vs bare session.run", `${results.ratios.inference_vs_bare ?? "–"}x (in Vigil ${ms(capacity.detectorMsPerInference)}, bare ${inferenceMs.toFixed(1)} ms)`, ""],
    ["bare ffmpeg per camera (mix)", `${pct(perCamFloor)} (${capacity.floorCameras} cameras, beside Vigil)`, ""],
  ];
  const note = `${machine.model}, ${machine.cpus} cores; load average ${loadAtStart} at the start, ${loadAtEnd} at the end; commit ${results.commit}; ${startedAt.toISOString()}${QUICK ? "; --quick" : ""}`;
  process.stdout.write(`\n${table(summary)}\n\n${table(stepRows)}\n\n${note}\n`);
  process.stdout.write(`\nMarkdown for the README:\n\n${markdown(summary)}\n\n${markdown(stepRows)}\n\n${note}\n`);

  await fs.mkdir(OUT_DIR, { recursive: true });
  await fs.writeFile(path.join(OUT_DIR, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  const details = path.join(OUT_DIR, `details-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  await fs.writeFile(details, JSON.stringify({ quick: QUICK, startedAt, loadAtStart, loadAtEnd, plan: PLAN, results, inferenceMs, idle, latency, capacity }, null, 2));
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
