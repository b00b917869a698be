/**
 * Opens a stream and grabs its first frame as a JPEG: "does this camera work?"
 * for the add-camera conversation and `vigil doctor`. Nothing is saved.
 */
import type { ChildProcess } from "node:child_process";
import ffmpeg from "fluent-ffmpeg";
import sharp from "sharp";
import type { CameraProbe } from "../../domain/control.js";
import { CameraConnectError } from "../../errors.js";
import { maskUrl } from "../../redact.js";
import { sleep } from "../../sleep.js";
import { isExecutable } from "./ffmpeg-child.js";
import { explainFfmpegFailure, inputOptions, inputUrl } from "./input-options.js";

export interface ProbeOptions {
  /** Camera name for messages. */
  camera?: string;
  transport?: "tcp" | "udp";
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  ffmpegPath?: string;
  signal?: AbortSignal;
}

/** Resolves when fluent-ffmpeg's child has exited (at once when it never started or is gone). */
function childExited(command: ffmpeg.FfmpegCommand): Promise<void> {
  const child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** A camera that answers 503 (busy with other viewers, or still starting up) is asked again this often, until the probe's time is up. */
const BUSY_RETRY_MS = 1000;

/** `url` carries credentials; only its masked form appears in errors. */
export async function probeStream(url: string, options: ProbeOptions = {}): Promise<CameraProbe> {
  const deadline = performance.now() + (options.timeoutMs ?? 10_000);
  const signal = options.signal ?? new AbortController().signal;
  for (;;) {
    try {
      return await probeOnce(url, { ...options, timeoutMs: Math.round(deadline - performance.now()) });
    } catch (error) {
      const busy = error instanceof CameraConnectError && error.reason === "busy";
      if (!busy || signal.aborted || deadline - performance.now() < 2 * BUSY_RETRY_MS) throw error;
      await sleep(BUSY_RETRY_MS, signal);
    }
  }
}

async function probeOnce(url: string, options: ProbeOptions & { timeoutMs: number }): Promise<CameraProbe> {
  const { timeoutMs } = options;
  const masked = maskUrl(url);
  const camera = options.camera ?? "camera";
  const started = performance.now();
  const input = inputUrl(url);
  const binary = options.ffmpegPath ?? "ffmpeg";
  if (!isExecutable(binary)) throw new CameraConnectError(`Could not open ${camera} at ${masked}: ffmpeg is not installed on this machine (sudo apt install ffmpeg).`, camera, masked, "unknown");
  return new Promise<CameraProbe>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let stderr = "";
    let settled = false;
    const command = ffmpeg(input)
      .setFfmpegPath(binary)
      .inputOptions(inputOptions(url, { transport: options.transport ?? "tcp", timeoutMs: Math.min(timeoutMs, 5000) }))
      .outputOptions(["-frames:v", "1", "-an", "-f", "image2pipe", "-vcodec", "mjpeg", "-q:v", "3"])
      .on("stderr", (line: string) => {
        stderr = `${stderr}${line}\n`.slice(-4000);
      });
    const fail = (sentence: string, reason: CameraConnectError["reason"], cause?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      command.kill("SIGKILL");
      const error = new CameraConnectError(`Could not open ${camera} at ${masked}: ${sentence}.`, camera, masked, reason, cause === undefined ? undefined : { cause });
      // Answered once ffmpeg is gone, so nothing outlives the probe (a stop right after finds no child).
      void childExited(command).then(() => reject(error));
    };
    const timer = setTimeout(() => fail(`no picture within ${Math.round(timeoutMs / 1000)} s`, "timeout"), timeoutMs);
    const onAbort = () => fail("cancelled", "unknown");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    command.on("error", (error: Error) => {
      const { reason, sentence } = explainFfmpegFailure(`${stderr}\n${error.message}`);
      fail(sentence, reason, new Error(maskUrl(stderr.split("\n").slice(-4).join(" | "))));
    });
    command.on("end", () => {
      if (settled) return;
      const jpeg = Buffer.concat(chunks);
      if (jpeg.length === 0) {
        const { reason, sentence } = explainFfmpegFailure(stderr);
        fail(sentence === "the stream could not be opened" ? "the stream ended before the first picture" : sentence, reason);
        return;
      }
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      const firstFrameMs = Math.round(performance.now() - started);
      sharp(jpeg)
        .metadata()
        .then((meta) => resolve({ jpeg, firstFrameMs, width: meta.width ?? 0, height: meta.height ?? 0 }))
        .catch((cause: unknown) => reject(new CameraConnectError(`Could not open ${camera} at ${masked}: the picture it sent is not readable.`, camera, masked, "invalid", { cause })));
    });
    const out = command.pipe();
    out.on("data", (chunk: Buffer) => chunks.push(chunk));
    out.on("error", () => undefined); // errors surface through the command's "error" event
  });
}
