/**
 * Door contacts on a Raspberry Pi's GPIO, read through libgpiod's command-line
 * tools (Debian `gpiod`): `gpioget` once for the state at start, then
 * `gpiomon` for every edge. One child per sensor, supervised like a camera's
 * ffmpeg: it is started again after any exit, with the waits of
 * src/pipeline/source/backoff.ts (0.5 s doubling to 30 s, back to the start
 * after a minute of running); a missing program is one sentence in the log,
 * tried again every 30 s; a stop kills the child (SIGTERM, then SIGKILL).
 *
 * A line at 1 (high) reads open: the usual wiring is a reed switch from the
 * pin to ground with the pull-up on, closed by the door's magnet. `--active-low`
 * (gpiomon's and gpioget's `-l`) turns that round.
 */
import { sleep } from "../sleep.js";
import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";
import type { Sensor, SensorReading } from "../domain/sensors.js";
import type { Logger } from "../log.js";
import { backoffDelay } from "../pipeline/source/backoff.js";
import { parseGpiomonLine } from "./readings.js";

export interface GpioOptions {
  sensor: Sensor;
  reading: (reading: SensorReading) => void;
  logger: Logger;
  signal: AbortSignal;
  /** Default `gpiomon` and `gpioget` on PATH. */
  gpiomon?: string;
  gpioget?: string;
  now?: () => number;
}

const MISSING = "gpiomon is not installed, so GPIO door sensors do not work: install it with `sudo apt-get install gpiod`";

/** Runs until `signal` aborts. */
export async function superviseGpio(options: GpioOptions): Promise<void> {
  const { sensor, logger, signal } = options;
  if (sensor.source.type !== "gpio") return;
  const { chip, line, activeLow } = sensor.source;
  const now = options.now ?? Date.now;
  const gpiomon = options.gpiomon ?? "gpiomon";
  const gpioget = options.gpioget ?? "gpioget";
  const flags = activeLow ? ["--active-low"] : [];
  let failures = 0;
  let lastProblem: string | undefined;
  const problem = (sentence: string) => {
    if (sentence !== lastProblem) logger.warn({ sensor: sensor.name, line: `${chip}:${line}` }, sentence);
    lastProblem = sentence;
  };

  while (!signal.aborted) {
    const startedAt = now();
    const initial = await run(gpioget, [...flags, chip, String(line)], signal).catch((error: NodeJS.ErrnoException) => ({ code: error.code === "ENOENT" ? -2 : -1, stdout: "", stderr: String(error.message) }));
    if (initial.code === 0 && /^[01]\s*$/.test(initial.stdout)) options.reading({ sensorId: sensor.id, at: now(), open: initial.stdout.trim() === "1" });
    const outcome = await monitor(gpiomon, [...flags, chip, String(line)], (rising) => options.reading({ sensorId: sensor.id, at: now(), open: rising }), signal);
    if (signal.aborted) return;
    if (outcome.missing) {
      problem(MISSING);
      await sleep(30_000, signal);
      continue;
    }
    failures = now() - startedAt > 60_000 ? 1 : failures + 1;
    problem(`gpiomon stopped reading ${chip}:${line} (${outcome.detail}); starting it again`);
    await sleep(backoffDelay(failures), signal);
  }
}

function run(program: string, args: string[], signal: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], signal });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout = (stdout + d.toString()).slice(0, 1000)));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(0, 1000)));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function monitor(program: string, args: string[], onEdge: (rising: boolean) => void, signal: AbortSignal): Promise<{ missing: boolean; detail: string }> {
  let child: ChildProcess;
  try {
    child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return { missing: true, detail: "not found" };
  }
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
  const lines = readline.createInterface({ input: child.stdout!, crlfDelay: Infinity });
  lines.on("line", (text) => {
    const event = parseGpiomonLine(text.slice(0, 200));
    if (event) onEdge(event.rising);
  });
  const stop = () => {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    timer.unref();
    child.once("exit", () => clearTimeout(timer));
  };
  signal.addEventListener("abort", stop, { once: true });
  try {
    return await new Promise((resolve) => {
      child.once("error", (error: NodeJS.ErrnoException) => resolve({ missing: error.code === "ENOENT", detail: error.message }));
      child.once("close", (code, sig) => resolve({ missing: false, detail: stderr.trim().split("\n").pop()?.slice(0, 160) || (sig ? `killed by ${sig}` : `exit code ${code}`) }));
    });
  } finally {
    signal.removeEventListener("abort", stop);
    lines.close();
  }
}
