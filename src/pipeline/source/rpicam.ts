/**
 * The Raspberry Pi camera (`picam:N`), read through rpicam-vid from rpicam-apps
 * (called libcamera-vid before Raspberry Pi OS bookworm): on current Raspberry
 * Pi OS the camera is a libcamera device, not a /dev/video0 that ffmpeg could
 * open. One rpicam-vid per camera writes H.264 to stdout; its feed
 * (h264-feed.ts) hands the pictures to detection and to the recorder, since
 * libcamera lets one process at a time open the camera.
 *
 * What rpicam-vid says when it fails comes from its sources (rpicam-apps
 * core/rpicam_app.cpp and apps/rpicam_vid.cpp): `ERROR: *** <what> *** ` on
 * stderr and exit code 255. It quits cleanly on SIGINT at its next frame, but
 * while the sensor is stalled its loop never gets there, so SIGTERM follows.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { parsePicamUrl, type PicamStream } from "../../domain/stream-url.js";
import { CameraConnectError } from "../../errors.js";
import { silentLogger, type Logger } from "../../log.js";
import { AccessUnitSplitter } from "./annexb.js";
import type { AttemptFailure } from "./backoff.js";
import { isExecutable } from "./ffmpeg-child.js";
import { createH264Feeds, type AttemptEnd, type H264Producer, type ProducerAttempt } from "./h264-feed.js";

/** Tried in this order on PATH when VIGIL_RPICAM is not set. */
export const RPICAM_PROGRAMS = ["rpicam-vid", "libcamera-vid"] as const;

export interface RpicamOptions {
  /** The program (VIGIL_RPICAM): a path or a name on PATH. Default: rpicam-vid, else libcamera-vid, found on PATH at each start. */
  binary?: string | undefined;
  logger?: Logger;
  /** Grace period of each step of the stop sequence (SIGINT, SIGTERM, SIGKILL). Default 1500 ms. */
  graceMs?: number;
}

const STDERR_LINES = 12;

/**
 * rpicam-vid's command line for a stream: run until stopped (`-t 0`, its default
 * is 5 s), no preview window, H.264 with SPS and PPS before every keyframe
 * (`--inline`, so a consumer can start at any keyframe) and a keyframe every
 * second (`--intra` = the frame rate: clips are cut at keyframes), each picture
 * written out as soon as it is encoded (`--flush`: without it stdio holds a
 * pipe's output in 4 KiB blocks), to stdout.
 */
export function rpicamArgs(stream: PicamStream): string[] {
  const fps = String(stream.fps);
  return ["--camera", String(stream.camera), "-t", "0", "--nopreview", "--codec", "h264", "--inline", "--width", String(stream.width), "--height", String(stream.height), "--framerate", fps, "--intra", String(Math.max(1, Math.round(stream.fps))), "--flush", "-o", "-"];
}

/** The program to run: the configured one if it is executable, else the first of {@link RPICAM_PROGRAMS} on PATH. */
export function findRpicam(configured?: string, searchPath?: string): string | undefined {
  if (configured) return isExecutable(configured, searchPath) ? configured : undefined;
  return RPICAM_PROGRAMS.find((name) => isExecutable(name, searchPath));
}

/** The one sentence for a program that cannot be found. */
export function missingRpicam(configured?: string): string {
  return configured ? `VIGIL_RPICAM names ${configured}, which is not a program this machine can run` : "rpicam-vid is not installed; sudo apt install rpicam-apps installs it";
}

export interface RpicamExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Why rpicam-vid ended, as one sentence and a kind of wait (backoff.ts). `hadVideo`:
 * this camera gave pictures before, so an unexplained failure is the camera
 * stalling, not a setting that can never work.
 */
export function explainRpicamExit(exit: RpicamExit, camera: number, program = "rpicam-vid", hadVideo = false): { sentence: string; failure: AttemptFailure } {
  const error = /ERROR: \*\*\* (.*?) \*\*\*/.exec(exit.stderr)?.[1];
  if (error === "no cameras available") return { sentence: `${program} finds no camera on this Raspberry Pi; check the camera's ribbon cable, then reboot`, failure: "rejected" };
  if (error === "selected camera is not available") return { sentence: `there is no camera ${camera} on this Raspberry Pi; picam:0 is the first`, failure: "rejected" };
  if (error?.startsWith("failed to acquire camera")) return { sentence: "the Pi camera is in use by another program; only one at a time can open it", failure: "rejected" };
  if (error) return { sentence: `${program} failed: ${error}`, failure: hadVideo ? "silent" : "rejected" };
  if (exit.code === 0) return { sentence: `${program} stopped`, failure: "ended" };
  const how = exit.signal ? `was ended by ${exit.signal}` : `exited with code ${exit.code}`;
  return { sentence: `${program} ${how}`, failure: hadVideo ? "silent" : "rejected" };
}

/** A feed producer for `picam:N` sources: one rpicam-vid at a time, supervised by the feed. */
export function rpicamProducer(options: RpicamOptions = {}): (source: string) => H264Producer {
  const logger = options.logger ?? silentLogger;
  const grace = options.graceMs ?? 1500;
  return (source) => {
    const stream = parsePicamUrl(source);
    return {
      device: `picam:${stream.camera}`,
      label: "rpicam-vid",
      start(onUnit, { hadVideo }): ProducerAttempt {
        const binary = findRpicam(options.binary);
        if (!binary) {
          return { ended: Promise.resolve<AttemptEnd>({ sentence: missingRpicam(options.binary), failure: "rejected" }), stop: () => Promise.resolve(), pid: () => undefined };
        }
        const program = path.basename(binary);
        const args = rpicamArgs(stream);
        const splitter = new AccessUnitSplitter();
        const lines: string[] = [];
        let partial = "";
        const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
        logger.debug({ pid: child.pid, command: [binary, ...args].join(" ") }, "rpicam-vid started");
        child.stdout?.on("data", (chunk: Buffer) => {
          for (const unit of splitter.push(chunk)) onUnit(unit);
        });
        child.stderr?.on("data", (chunk: Buffer) => {
          const text = partial + chunk.toString("utf8");
          const split = text.split("\n");
          partial = split.pop() ?? "";
          lines.push(...split.filter(Boolean));
          lines.splice(0, Math.max(0, lines.length - STDERR_LINES));
        });
        let spawnError: string | undefined;
        const ended = new Promise<AttemptEnd>((resolve) => {
          child.once("error", (error: NodeJS.ErrnoException) => {
            spawnError = error.code ?? error.message;
            // No "close" follows when it never started.
            if (child.pid === undefined) resolve({ sentence: `${program} could not be started (${spawnError})`, failure: "rejected" });
          });
          child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
            for (const unit of splitter.flush()) onUnit(unit);
            if (partial) lines.push(partial);
            const stderr = lines.join("\n");
            if (spawnError) return resolve({ sentence: `${program} could not be started (${spawnError})`, failure: "rejected", detail: { stderr } });
            const { sentence, failure } = explainRpicamExit({ code, signal, stderr }, stream.camera, program, hadVideo);
            resolve({ sentence, failure, detail: { pid: child.pid, code, signal, stderr: stderr || undefined } });
          });
        });
        const gone = () => child.exitCode !== null || child.signalCode !== null;
        const wait = (ms: number) => Promise.race([ended.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);
        let stopping: Promise<void> | undefined;
        return {
          ended,
          pid: () => child.pid,
          stop() {
            stopping ??= (async () => {
              if (child.pid === undefined) return;
              for (const signal of ["SIGINT", "SIGTERM"] as const) {
                if (gone()) break;
                child.kill(signal);
                if (await wait(grace)) break;
              }
              if (!gone()) child.kill("SIGKILL");
              await ended;
            })();
            return stopping;
          },
        };
      },
    };
  };
}

export interface PicamProbe {
  /** The program that ran (rpicam-vid or libcamera-vid). */
  program: string;
  /** How long it took to the first picture. */
  firstPictureMs: number;
}

/**
 * Opens the Pi camera until its first picture and lets it go: "does this camera
 * work?" for `vigil doctor`. Rejects with the one sentence a feed would show
 * (rpicam-vid missing, no camera, the camera in use) after the first failed
 * attempt, or when no picture came within `timeoutMs` (default 15 s).
 */
export async function probePicam(url: string, options: { binary?: string | undefined; timeoutMs?: number } = {}): Promise<PicamProbe> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const started = performance.now();
  const program = path.basename(findRpicam(options.binary) ?? RPICAM_PROGRAMS[0]);
  const feeds = createH264Feeds({ producer: rpicamProducer({ binary: options.binary }), startTimeoutMs: timeoutMs, backoff: { initialMs: timeoutMs, maxMs: timeoutMs } });
  const subscription = feeds.subscribe(url, { name: "probe" });
  try {
    for (;;) {
      const status = subscription.status();
      if (status.units > 0) return { program, firstPictureMs: Math.round(performance.now() - started) };
      if (status.lastError) throw new CameraConnectError(`Could not open the Pi camera at ${url}: ${status.lastError}.`, "Pi camera", url, "unknown");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await subscription.close();
    await feeds.stop();
  }
}
