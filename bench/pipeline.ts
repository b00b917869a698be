/**
 * `npm run bench:pipeline`: what the pipeline costs, beside floors measured in the
 * same run on the same input.
 *
 * 1. Idle cameras (a static 640x360 scene with sensor noise, decoded at 5 fps):
 *    CPU of a pipeline process (bench/idle-worker.js on the compiled dist/, as
 *    `vigil start` runs; Node + its ffmpeg children, from /proc) against
 *    the same number of bare ffmpeg processes decoding the same input with the
 *    same arguments to the same raw format. Target: within 1.3x.
 * 2. Active footage (vtest, people everywhere) replayed through the pipeline with
 *    one and with four cameras: per-frame decode (ffmpeg CPU), motion, detection
 *    (time inside the detector, and waiting for it) and snapshot costs.
 * 3. Bare `session.run` on tensors made from the same frames, against the time
 *    the pipeline's detector takes per run. Target: within 1.5x.
 * 4. The detector pool: runs a second through the detection service with 1, 2 and
 *    3 detector worker threads (and 1 worker of 2 onnxruntime threads), 6 cameras
 *    asking again the moment they are answered and 2 confirming a visit (a frame
 *    every 100 ms): CPU, the main thread's event-loop delay, and how long each
 *    kind of frame waited.
 *
 * BENCH_WINDOW_MS sets each of the three idle windows (default 20 s); BENCH_ONLY=idle
 * runs only part 1, BENCH_ONLY=pool only part 4 (under a minute). Other engineers
 * share this machine: the load average is printed with the results; re-run when
 * it is quiet. Results: a table on stdout, JSON in bench/out/.
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { defaultSettings, type Camera } from "../src/domain/camera.js";
import { silentLogger } from "../src/log.js";
import { findModel, readManifest } from "../src/models.js";
import { PROJECT_ROOT } from "../src/env.js";
import { createPipeline, loadDetector, type CameraStats } from "../src/pipeline/index.js";
import { createDetectionService, type DetectionRequest } from "../src/pipeline/detect/detection-service.js";
import { createWorkerDetector } from "../src/pipeline/detect/worker-detector.js";
import { frameToTensor } from "../src/pipeline/detect/tensor.js";
import { YOLOX_LAYOUT } from "../src/pipeline/detect/yolox.js";
import { wholeFrame, type Frame } from "../src/pipeline/frame.js";
import { bareSession, footageFrames, median, quantile, startBareDecoders } from "./floor.js";
import { footage, idleClip, OUT_DIR } from "./footage.js";
import { childProcesses } from "../test/support/process-info.js";
import { readStat } from "./proc.js";
import { AWAY_NOW } from "../src/domain/modes.js";

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "idle-worker.js");
// Long enough for V8 to have compiled the per-frame code: a camera runs for days, its first seconds are not its cost.
const WARMUP_MS = 15_000;
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 20_000);
const WINDOWS = 3;
const MANY = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds (user + system, all threads) of the given processes. */
async function totalCpu(pids: number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) sum += (await readStat(pid))?.cpuSeconds ?? 0;
  return sum;
}

const childPids = async (pid: number) => (await childProcesses(pid)).map((c) => c.pid);

interface IdleResult {
  cameras: number;
  /** CPU in cores, median over the windows: the pipeline process with its ffmpeg children, and the bare ffmpeg processes. */
  pipelineCores: number;
  ffmpegCores: number;
  ratio: number;
  /** Every window's ratio, to show the spread. */
  ratios: number[];
}

/**
 * `n` idle cameras in one pipeline process and, at the same time, `n` bare ffmpeg
 * processes decoding the same input with the same arguments (output discarded):
 * measured side by side, so both see the same load from the rest of the machine.
 */
async function measureIdle(n: number, clip: string): Promise<IdleResult> {
  const bare = startBareDecoders(Array.from({ length: n }, () => ({ url: clip, width: 640, height: 360, fps: 5, realtimeFile: true })));
  const worker = spawn(process.execPath, [WORKER, String(n), clip], { stdio: ["ignore", "pipe", "inherit"], cwd: PROJECT_ROOT });
  let out = "";
  worker.stdout.on("data", (d: Buffer) => (out += d.toString()));
  try {
    while (!out.includes("ready")) await sleep(100);
    await sleep(WARMUP_MS);
    const pipelinePids = async () => [worker.pid!, ...(await childPids(worker.pid!))];
    const barePids = bare.children.map((c) => c.pid()!);
    const samples: { pipeline: number; ffmpeg: number }[] = [];
    for (let w = 0; w < WINDOWS; w++) {
      const [p0, f0] = [await totalCpu(await pipelinePids()), await totalCpu(barePids)];
      await sleep(WINDOW_MS);
      const [p1, f1] = [await totalCpu(await pipelinePids()), await totalCpu(barePids)];
      samples.push({ pipeline: (p1 - p0) / (WINDOW_MS / 1000), ffmpeg: (f1 - f0) / (WINDOW_MS / 1000) });
    }
    const ratios = samples.map((x) => x.pipeline / x.ffmpeg);
    return { cameras: n, pipelineCores: median(samples.map((x) => x.pipeline)), ffmpegCores: median(samples.map((x) => x.ffmpeg)), ratio: median(ratios), ratios };
  } finally {
    worker.kill("SIGTERM");
    await new Promise((resolve) => worker.once("exit", resolve));
    await bare.stop();
  }
}

interface ActiveResult {
  cameras: number;
  frames: number;
  wallMs: number;
  decodeMsPerFrame: number;
  motionMsPerFrame: number;
  detectorRuns: number;
  /** Inside the detector per run: crop to tensor, session.run, decoding. */
  detectMsPerRun: number;
  /** From asking the shared detector to its answer, per run (includes waiting for other cameras). */
  detectWallMsPerRun: number;
  snapshotMsPerAlert: number;
  alerts: number;
}

/** Replays vtest at 640x360 through `n` cameras at once, as fast as possible. */
async function measureActive(n: number): Promise<ActiveResult> {
  const start = Date.now();
  const pipeline = await createPipeline({ mode: "replay", now: () => start, logger: silentLogger });
  const cameras = Array.from({ length: n }, (_, i): Camera => ({ id: `cam${i}`, name: `cam${i}`, url: footage("opencv-vtest_480x360_10fps.mp4"), armed: true, mutedUntil: null, settings: { ...defaultSettings(), width: 640, height: 360, timeout: 5 } }));
  // ffmpeg CPU, sampled while it runs (a finished child's /proc entry is gone).
  const decodeCpu = new Map<number, number>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const child of await childProcesses(process.pid)) {
        if (!child.argv.includes("rawvideo")) continue;
        const stat = await readStat(child.pid);
        if (stat) decodeCpu.set(child.pid, stat.cpuSeconds);
      }
      await sleep(50);
    }
  })();
  const t0 = performance.now();
  pipeline.reconcile(cameras, AWAY_NOW);
  await Promise.all(cameras.map((c) => pipeline.ended(c.id)));
  const wallMs = performance.now() - t0;
  sampling = false;
  await sampler;
  const stats = pipeline.stats();
  const detector = pipeline.detectorStats();
  await pipeline.stop();
  const sum = (f: (s: CameraStats) => number) => stats.reduce((acc, s) => acc + f(s), 0);
  const frames = sum((s) => s.frames);
  return {
    cameras: n,
    frames,
    wallMs,
    decodeMsPerFrame: ([...decodeCpu.values()].reduce((a, b) => a + b, 0) * 1000) / frames,
    motionMsPerFrame: sum((s) => s.motionMs) / frames,
    detectorRuns: detector.runs,
    detectMsPerRun: detector.busyMs / detector.runs,
    detectWallMsPerRun: sum((s) => s.detectMs) / sum((s) => s.detectorRuns),
    snapshotMsPerAlert: sum((s) => s.snapshotMs) / Math.max(1, sum((s) => s.snapshots)),
    alerts: sum((s) => s.alerts),
  };
}

/** Bare session.run on tensors made from the same frames the pipeline sees, and the detector's own time on them. */
async function measureInference(): Promise<{ bareRunMs: number; detectorMs: number; tensorMs: number }> {
  const entry = findModel(await readManifest());
  const frames = await footageFrames(footage("opencv-vtest_480x360_10fps.mp4"));
  const { session, tensors: toTensors } = await bareSession();
  const tensors = toTensors(frames);
  const detector = await loadDetector({ entry, modelsDir: path.join(PROJECT_ROOT, "models") });
  const bare: number[] = [];
  const inDetector: number[] = [];
  const tensor: number[] = [];
  const scratch = new Float32Array(3 * 416 * 416);
  // Interleaved, so both see the same machine load; the first round warms up.
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < frames.length; i++) {
      let t = performance.now();
      await session.run({ images: tensors[i]! });
      if (round) bare.push(performance.now() - t);
      t = performance.now();
      await detector.detect(frames[i]!, { minScore: 0.5 });
      if (round) inDetector.push(performance.now() - t);
      t = performance.now();
      frameToTensor(frames[i]!, wholeFrame(frames[i]!), YOLOX_LAYOUT, scratch);
      if (round) tensor.push(performance.now() - t);
    }
  }
  await session.release();
  await detector.close();
  return { bareRunMs: median(bare), detectorMs: median(inDetector), tensorMs: median(tensor) };
}

interface PoolResult {
  workers: number;
  /** onnxruntime intra-op threads of each worker. */
  intraOp: number;
  runsPerS: number;
  /** CPU of this process (main thread and every worker), in cores. */
  cores: number;
  /** Main thread's event-loop delay while the pool works, ms. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  /** From asking to the answer, ms: frames that would confirm a visit, and the rest. */
  confirmWaitP50Ms: number;
  confirmWaitP95Ms: number;
  routineWaitP50Ms: number;
  routineWaitP95Ms: number;
}

const POOL_CAMERAS = 8;
const POOL_CONFIRMING = 2;
const POOL_WINDOW_MS = 8000;
/** The event-loop probe's timer interval; its histogram holds interval + delay, so the interval is taken out. */
const LOOP_RESOLUTION_MS = 10;

/**
 * The detection service saturated by POOL_CAMERAS cameras (whole 640x360 frames of
 * vtest, one model run each), for a window after every worker has started and
 * warmed up: POOL_CONFIRMING of them confirming a visit, a frame every 100 ms,
 * the others asking again the moment they are answered.
 */
async function measurePool(workers: number, intraOp: number, frames: Frame[]): Promise<PoolResult> {
  const entry = findModel(await readManifest());
  const modelsDir = path.join(PROJECT_ROOT, "models");
  const load = intraOp === 1 ? () => loadDetector({ entry, modelsDir }) : () => createWorkerDetector({ path: path.join(modelsDir, entry.file), format: entry.format, name: entry.name, inputSize: entry.inputSize, threads: intraOp });
  const service = await createDetectionService({ model: entry.name, load, size: workers });
  let phase: "warm" | "measure" | "stop" = "warm";
  const waits = { confirm: [] as number[], routine: [] as number[] };
  const cameras = Array.from({ length: POOL_CAMERAS }, async (_, c) => {
    const priority = c < POOL_CONFIRMING ? "confirm" : "routine";
    for (let i = c; phase !== "stop"; i++) {
      const frame = frames[i % frames.length]!;
      const request: DetectionRequest = { cameraId: `cam${c}`, frame, regions: [wholeFrame(frame)], minScore: 0.3, priority };
      const t = performance.now();
      const outcome = await service.detect(request);
      if (outcome.status !== "done") throw new Error(`detection ${outcome.status}`);
      if (phase === "measure") waits[priority].push(performance.now() - t);
      // A camera confirming a visit sends a frame every 100 ms (its burst rate at 5 fps); the others ask as fast as they are answered.
      if (priority === "confirm") await sleep(Math.max(0, t + 100 - performance.now()));
    }
  });
  try {
    while (service.stats().workers < workers) await sleep(100);
    await sleep(2000);
    const delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    const runs0 = service.stats().runs;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    delay.enable();
    phase = "measure";
    await sleep(POOL_WINDOW_MS);
    phase = "stop";
    delay.disable();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const runs = service.stats().runs - runs0;
    await Promise.all(cameras);
    const q = (values: number[], p: number) => quantile(values, p) ?? Number.NaN;
    return {
      workers,
      intraOp,
      runsPerS: runs / seconds,
      cores: (cpu.user + cpu.system) / 1e6 / seconds,
      loopDelayP50Ms: delay.percentile(50) / 1e6 - LOOP_RESOLUTION_MS,
      loopDelayP99Ms: delay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS,
      confirmWaitP50Ms: q(waits.confirm, 0.5),
      confirmWaitP95Ms: q(waits.confirm, 0.95),
      routineWaitP50Ms: q(waits.routine, 0.5),
      routineWaitP95Ms: q(waits.routine, 0.95),
    };
  } finally {
    phase = "stop";
    await Promise.allSettled(cameras);
    await service.close();
  }
}

async function measurePools(): Promise<PoolResult[]> {
  const frames = await footageFrames(footage("opencv-vtest_480x360_10fps.mp4"));
  const results: PoolResult[] = [];
  for (const [workers, intraOp] of [[1, 1], [2, 1], [3, 1], [1, 2]] as const) results.push(await measurePool(workers, intraOp, frames));
  return results;
}

function printPools(pools: PoolResult[]): void {
  const base = pools[0]!.runsPerS;
  const f = (v: number) => v.toFixed(1);
  process.stdout.write(`detector pool, ${POOL_CAMERAS} busy cameras (${POOL_CONFIRMING} confirming, 10 frames/s each), whole 640x360 frames, ${POOL_WINDOW_MS / 1000} s each:\n`);
  for (const p of pools) {
    process.stdout.write(
      `  ${p.workers} worker(s) x ${p.intraOp} onnxruntime thread(s): ${f(p.runsPerS)} runs/s (${(p.runsPerS / base).toFixed(2)}x), CPU ${(p.cores * 100).toFixed(0)} %, ` +
        `event-loop delay p50/p99 ${f(p.loopDelayP50Ms)}/${f(p.loopDelayP99Ms)} ms, wait confirm p50/p95 ${f(p.confirmWaitP50Ms)}/${f(p.confirmWaitP95Ms)} ms, routine ${f(p.routineWaitP50Ms)}/${f(p.routineWaitP95Ms)} ms\n`,
    );
  }
}

async function main(): Promise<void> {
  const load = os.loadavg().map((l) => l.toFixed(2)).join(" ");
  if (process.env.BENCH_ONLY === "pool") {
    process.stderr.write(`load average ${load}; detector pool…\n`);
    const pools = await measurePools();
    printPools(pools);
    const at = new Date().toISOString();
    process.stdout.write(`load average ${load} at the start, ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} at the end (${os.cpus().length} CPUs).\n`);
    await fs.mkdir(OUT_DIR, { recursive: true });
    await fs.writeFile(path.join(OUT_DIR, `pool-${at.replace(/[:.]/g, "-")}.json`), JSON.stringify({ at, loadAverageAtStart: load, cpus: os.cpus().length, pools }, null, 2));
    return;
  }
  const clip = await idleClip();
  process.stderr.write(`load average ${load}; idle cameras, ${WINDOWS} windows of ${WINDOW_MS / 1000} s…\n`);
  const idle = [await measureIdle(1, clip), await measureIdle(MANY, clip)];
  if (process.env.BENCH_ONLY === "idle") {
    for (const i of idle) process.stdout.write(`${i.cameras} camera(s): pipeline ${(i.pipelineCores * 100).toFixed(2)} %, ffmpeg alone ${(i.ffmpegCores * 100).toFixed(2)} % → ${i.ratio.toFixed(2)}x (${i.ratios.map((r) => r.toFixed(2)).join(", ")})\n`);
    return;
  }
  process.stderr.write("active footage…\n");
  const active = [await measureActive(1), await measureActive(MANY)];
  process.stderr.write("inference…\n");
  const inference = await measureInference();
  process.stderr.write("detector pool…\n");
  const pools = await measurePools();
  const result = { at: new Date().toISOString(), loadAverageAtStart: load, loadAverageAtEnd: os.loadavg().map((l) => l.toFixed(2)).join(" "), cpus: os.cpus().length, idle, active, inference: { ...inference, ratio: inference.detectorMs / inference.bareRunMs }, pools };

  const pct = (cores: number) => `${(cores * 100).toFixed(2)} %`;
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  const rows: [string, string, string, string][] = [["", "1 camera", `${MANY} cameras`, "floor (same run)"]];
  for (const i of idle) rows.push([`idle 640x360@5fps: CPU per camera`, i.cameras === 1 ? pct(i.pipelineCores) : "", i.cameras === 1 ? "" : pct(i.pipelineCores / i.cameras), `ffmpeg alone ${pct(i.ffmpegCores / i.cameras)} → ${i.ratio.toFixed(2)}x (target ≤ 1.3x)`]);
  const [one, many] = active as [ActiveResult, ActiveResult];
  rows.push(["decode (ffmpeg CPU per frame)", ms(one.decodeMsPerFrame), ms(many.decodeMsPerFrame), ""]);
  rows.push(["motion per frame", ms(one.motionMsPerFrame), ms(many.motionMsPerFrame), ""]);
  rows.push(["detection per run, in the detector", ms(one.detectMsPerRun), ms(many.detectMsPerRun), `session.run alone ${ms(inference.bareRunMs)}`]);
  rows.push(["detection per run, incl. waiting", ms(one.detectWallMsPerRun), ms(many.detectWallMsPerRun), ""]);
  rows.push(["  (detector runs / frames)", `${one.detectorRuns}/${one.frames}`, `${many.detectorRuns}/${many.frames}`, ""]);
  rows.push(["snapshot per alert", ms(one.snapshotMsPerAlert), ms(many.snapshotMsPerAlert), ""]);
  rows.push(["replay wall time per frame", ms(one.wallMs / one.frames), ms(many.wallMs / many.frames), ""]);
  rows.push(["inference on the same frames", ms(inference.detectorMs), "", `session.run ${ms(inference.bareRunMs)} → ${result.inference.ratio.toFixed(2)}x (target ≤ 1.5x); tensor ${ms(inference.tensorMs)}`]);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows) process.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()}\n`);
  printPools(pools);
  process.stdout.write(`load average ${result.loadAverageAtStart} at the start, ${result.loadAverageAtEnd} at the end (${result.cpus} CPUs; other work on the machine inflates every number).\n`);
  await fs.mkdir(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `pipeline-${result.at.replace(/[:.]/g, "-")}.json`);
  await fs.writeFile(file, JSON.stringify(result, null, 2));
  process.stdout.write(`JSON: ${path.relative(PROJECT_ROOT, file)}\n`);
}

await main();
