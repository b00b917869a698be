/**
 * One ffmpeg process, started through fluent-ffmpeg, with a known end. fluent-ffmpeg
 * reports `end` for exit code 0 and `error` for everything else, and may race an
 * "output stream closed" error against the real exit; so the exit is read from the
 * child process itself. Stopping is Scrypted's sequence: `q` on stdin (ffmpeg
 * finishes cleanly), then SIGTERM, then SIGKILL, each after a grace period, and
 * `stop()` resolves only once the process is gone: no orphan, no zombie. When
 * stdin is the video itself (a camera's feed), closing it takes the place of `q`.
 * Vigil's own decoder (`spawnDecoder`) is supervised the same way.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Writable } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import type { Logger } from "../../log.js";
import { maskUrl } from "../../redact.js";

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines ffmpeg wrote to stderr, credentials masked. */
  stderr: string;
  /** Set when ffmpeg could not be started at all (binary missing). */
  spawnError?: string;
}

export interface FfmpegChildOptions {
  input: string;
  inputOptions: string[];
  outputOptions: string[];
  /**
   * Receives stdout (never ended by the child: attempts come and go, the consumer
   * stays), or a target ffmpeg opens itself (a URL such as `unix:PATH`).
   */
  output: Writable | string;
  ffmpegPath?: string;
  logger: Logger;
  /** Grace period for each step of the stop sequence. Default 1000 ms. */
  graceMs?: number;
  /**
   * The input is ffmpeg's stdin (`input` "pipe:0"), written by the caller once
   * {@link FfmpegChild.started} gives it. Stopping closes it (ffmpeg finishes
   * what it has and exits) instead of sending `q`, which would be read as video.
   * Default false.
   */
  stdinInput?: boolean;
}

export interface FfmpegChild {
  readonly exited: Promise<FfmpegExit>;
  /** ffmpeg's stdin once it runs; undefined when it never started. */
  readonly started: Promise<Writable | undefined>;
  /** q, then SIGTERM, then SIGKILL; resolves when the process has exited. */
  stop(): Promise<void>;
  pid(): number | undefined;
}

const STDERR_LINES = 12;

/**
 * Whether `binary` (a path, or a name looked up on PATH) is an executable file.
 * fluent-ffmpeg 2.1.3 (archived) throws an uncaught TypeError from its own
 * `error` handler when the spawn itself fails, so a missing ffmpeg must never
 * reach it: that would take the whole process down instead of one camera.
 */
export function isExecutable(binary: string, searchPath = process.env.PATH ?? ""): boolean {
  const candidates = binary.includes("/") ? [binary] : searchPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, binary));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The exit, the stderr tail and the stop sequence of one child, however it was started. */
function supervision(grace: number, stdinInput: boolean) {
  const lines: string[] = [];
  let proc: ChildProcess | undefined;
  let stopRequested = false;
  let resolveExit!: (exit: FfmpegExit) => void;
  let done = false;
  const exited = new Promise<FfmpegExit>((resolve) => (resolveExit = resolve));
  let resolveStart!: (stdin: Writable | undefined) => void;
  const started = new Promise<Writable | undefined>((resolve) => (resolveStart = resolve));
  const finish = (exit: Omit<FfmpegExit, "stderr">) => {
    if (done) return;
    done = true;
    resolveStart(undefined);
    resolveExit({ ...exit, stderr: lines.join("\n") });
  };
  const wait = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);

  async function sequence(): Promise<void> {
    const child = proc;
    if (!child || done) return;
    if (stdinInput) child.stdin?.end();
    else if (child.stdin?.writable) child.stdin.write("q");
    if (await wait(grace)) return;
    child.kill("SIGTERM");
    if (await wait(grace)) return;
    child.kill("SIGKILL");
    await exited;
  }

  const child: FfmpegChild = {
    exited,
    started,
    pid: () => proc?.pid,
    async stop() {
      stopRequested = true;
      if (proc) await sequence();
      // Not spawned yet: the start runs the sequence; wait for the exit either way.
      await exited;
    },
  };
  return {
    child,
    /** The process runs. */
    running(spawned: ChildProcess): void {
      proc = spawned;
      spawned.stdin?.on("error", () => undefined); // it may exit before reading `q` or the rest of the video
      spawned.once("close", (code: number | null, signal: NodeJS.Signals | null) => finish({ code, signal }));
      resolveStart(spawned.stdin ?? undefined);
      if (stopRequested) void sequence();
    },
    stderr(line: string): void {
      lines.push(maskUrl(line));
      if (lines.length > STDERR_LINES) lines.shift();
    },
    /** It never ran. */
    failed(message: string): void {
      if (proc?.pid === undefined) finish({ code: null, signal: null, spawnError: maskUrl(message) });
    },
  };
}

const missing = (binary: string): FfmpegChild => {
  const exited = Promise.resolve<FfmpegExit>({ code: null, signal: null, stderr: "", spawnError: `spawn ${binary} ENOENT` });
  return { exited, started: Promise.resolve(undefined), pid: () => undefined, stop: async () => void (await exited) };
};

export function spawnFfmpeg(options: FfmpegChildOptions): FfmpegChild {
  const binary = options.ffmpegPath ?? "ffmpeg";
  if (!isExecutable(binary)) return missing(binary);
  const watch = supervision(options.graceMs ?? 1000, options.stdinInput ?? false);
  const command = ffmpeg(options.input)
    .setFfmpegPath(binary)
    // Errors only, no progress lines: stderr stays quiet, so an idle camera costs Node nothing.
    .inputOptions(["-hide_banner", "-nostats", "-loglevel", "error", ...options.inputOptions])
    .outputOptions(options.outputOptions)
    .on("start", (commandLine: string) => {
      const proc = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      options.logger.debug({ pid: proc?.pid, command: maskUrl(commandLine) }, "ffmpeg started");
      if (proc) watch.running(proc);
    })
    .on("stderr", (line: string) => watch.stderr(line))
    // Exits are read from the process; this only matters when it never started.
    .on("error", (error: Error) => watch.failed(error.message));
  if (typeof options.output === "string") command.save(options.output);
  else command.pipe(options.output, { end: false });
  return watch.child;
}

/**
 * Vigil's own decoder (lean-decoder.ts), supervised as ffmpeg is. Its stdin is
 * the video, so stopping closes it; it writes nothing to stdout.
 */
export function spawnDecoder(binary: string, args: string[], options: { logger: Logger; graceMs?: number }): FfmpegChild {
  if (!isExecutable(binary)) return missing(binary);
  const watch = supervision(options.graceMs ?? 1000, true);
  const proc = spawn(binary, args, { stdio: ["pipe", "ignore", "pipe"] });
  proc.once("spawn", () => {
    options.logger.debug({ pid: proc.pid, command: [binary, ...args].join(" ") }, "decoder started");
    watch.running(proc);
  });
  proc.once("error", (error) => watch.failed(error.message));
  createInterface({ input: proc.stderr }).on("line", (line) => watch.stderr(line));
  return watch.child;
}
