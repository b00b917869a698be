import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { until } from "./wait.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface VigilRunOptions {
  /**
   * Run the compiled `bin/vigil.js` (dist/, as `npm start` and a user run it; `npm test` builds it
   * first) instead of the sources through tsx. Default false.
   */
  compiled?: boolean;
}

/** Spawns the `vigil` command with exactly the given VIGIL_* environment (none inherited). */
function spawnVigil(args: string[], env: Record<string, string>, options: VigilRunOptions, stdin: "pipe" | "ignore"): ChildProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGIL_")));
  const entry = options.compiled ? [path.join(ROOT, "bin", "vigil.js")] : ["--import", "tsx", path.join(ROOT, "src", "cli.ts")];
  return spawn(process.execPath, [...entry, ...args], { env: { ...clean, ...env }, stdio: [stdin, "pipe", "pipe"], cwd: ROOT });
}

/** Runs a `vigil` command to its end (from source unless `compiled`). */
export function vigil(args: string[], env: Record<string, string>, input?: string, options: VigilRunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnVigil(args, env, options, "pipe");
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end(input ?? "");
  });
}

/** A running `vigil start`. */
export interface RunningVigil {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  exited: Promise<number | null>;
  /** The code of the claim line it prints on a first start. */
  claimCode(timeoutMs?: number): Promise<string>;
  /** SIGTERM (a clean stop), then SIGKILL if it is still there after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts `vigil start [args]` as a separate process. */
export function startVigil(env: Record<string, string>, options: VigilRunOptions & { args?: string[] } = {}): RunningVigil {
  const child = spawnVigil(["start", ...(options.args ?? [])], env, options, "ignore");
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async claimCode(timeoutMs = 120_000) {
      await until(() => /\/claim \S+/.test(output) || child.exitCode !== null, timeoutMs, "the claim line is printed");
      const code = /\/claim (\S+)/.exec(output)?.[1];
      if (!code) throw new Error(`vigil start printed no claim line before exiting (${child.exitCode}):\n${output.slice(-2000)}`);
      return code;
    },
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
