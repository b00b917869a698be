/**
 * One-shot ffmpeg and ffprobe runs that feed stdin from memory and collect stdout
 * (joining clips, probing, transcoding). Long-running children (a camera's
 * stream) go through source/ffmpeg-child.ts instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { VigilError } from "../../errors.js";
import { redact } from "../../redact.js";

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
