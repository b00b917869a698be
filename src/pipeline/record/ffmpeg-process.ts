/**
 * ffmpeg children for recording: how they are stopped (`q`, then SIGTERM, then
 * SIGKILL, always awaited so no zombie is left), and one-shot runs that feed
 * stdin from memory and collect stdout (joining clips, probing, transcoding).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { VigilError } from "../../errors.js";
import { redact } from "../../redact.js";

export interface StopOptions {
  /** How long ffmpeg gets to finish after `q`. Default 2 s. */
  quitMs?: number;
  /** How long after SIGTERM before SIGKILL. Default 2 s. */
  termMs?: number;
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when the child has exited and its pipes are closed. */
export function exited(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => child.once("close", () => resolve()));
}

/**
 * Stops ffmpeg the way it likes best: `q` on stdin lets it finish the file it
 * writes; SIGTERM interrupts a blocked network read; SIGKILL is for a process
 * that ignores both. Resolves once the process is gone.
 */
export async function stopFfmpeg(child: ChildProcess, options: StopOptions = {}): Promise<void> {
  if (hasExited(child)) return;
  const gone = exited(child);
  const wait = (ms: number) => Promise.race([gone.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);
  if (child.stdin && !child.stdin.destroyed) {
    child.stdin.on("error", () => undefined); // EPIPE when it is already going
    child.stdin.end("q");
  }
  if (await wait(options.quitMs ?? 2000)) return;
  child.kill("SIGTERM");
  if (await wait(options.termMs ?? 2000)) return;
  child.kill("SIGKILL");
  await gone;
}

/** A one-shot ffmpeg or ffprobe run failed. `detail` is ffmpeg's stderr tail, credentials masked. */
export class FfmpegRunError extends VigilError {
  constructor(
    message: string,
    readonly detail: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}

export interface RunOptions {
  /** Written to stdin, then stdin is closed. */
  input?: readonly Buffer[];
  signal?: AbortSignal;
  /** Kill it after this long. Default 120 s. */
  timeoutMs?: number;
  /** What it was doing, for the error sentence ("joining the clip"). */
  what: string;
}

/** Runs a binary to completion; resolves with its stdout. Any failure is a {@link FfmpegRunError}. */
export function runFfmpeg(binary: string, args: readonly string[], options: RunOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    let stderr = "";
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `it took longer than ${Math.round((options.timeoutMs ?? 120_000) / 1000)} s`;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 120_000);
    const onAbort = () => {
      failure = "it was cancelled";
      child.kill("SIGKILL");
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.stdin.on("error", () => undefined); // EPIPE if ffmpeg stops reading early; its exit code tells the story
    child.on("error", (error) => {
      failure = (error as NodeJS.ErrnoException).code === "ENOENT" ? `${binary} is not installed` : error.message;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (code === 0 && failure === undefined) {
        resolve(Buffer.concat(stdout));
        return;
      }
      const detail = redact(stderr.trim().split("\n").slice(-3).join(" | "));
      reject(new FfmpegRunError(`ffmpeg failed ${options.what}: ${failure ?? (detail || `exit code ${code}`)}.`, detail, code));
    });
    void writeAll(child, options.input ?? []);
  });
}

async function writeAll(child: ChildProcess, input: readonly Buffer[]): Promise<void> {
  const stdin = child.stdin;
  if (!stdin) return;
  for (const chunk of input) {
    if (stdin.destroyed) return;
    if (!stdin.write(chunk)) await new Promise<void>((resolve) => {
      const done = () => {
        stdin.off("drain", done);
        stdin.off("close", done);
        resolve();
      };
      stdin.on("drain", done);
      stdin.on("close", done);
    });
  }
  stdin.end();
}
