/**
 * Waiting between ffmpeg attempts, so that a camera is back within seconds of
 * coming back, whatever took it away, without hammering one that is broken:
 *
 * - It did not take the connection (refused, unreachable, timed out): the delay
 *   doubles from 0.5 s to 30 s, but its port is tried with a cheap TCP connect
 *   four times a second and the wait ends as soon as it opens (a rebooted camera, a
 *   restarted RTSP server, a cable plugged back in).
 * - It took the connection but sent no picture, or stopped sending (a stalled
 *   encoder, a dropped Wi-Fi link), or, having sent pictures from this URL
 *   before, now answers without a usable stream (a server whose source stalled
 *   says "invalid data" or offers no stream): the port is open, so watching it
 *   tells nothing; the next attempt starts after at most 1 s and waits
 *   connected for the first picture, which costs one idle ffmpeg start per
 *   start timeout.
 * - Its stream ended (ffmpeg exits 0 when an RTSP server goes away): at most 1 s,
 *   then the cases above.
 * - It refused what was asked (wrong password, no such path, not a video): the
 *   plain doubling to 30 s, because retrying faster cannot help and many cameras
 *   lock an account after a few failed logins.
 */
import { sleep } from "../../sleep.js";
import net from "node:net";
import { streamKind } from "../../domain/stream-url.js";
import type { FfmpegFailureReason } from "./input-options.js";

export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialMs?: number;
  /** Longest delay. Default 30 s. */
  maxMs?: number;
  /** Longest delay after a camera went silent or its stream ended. Default 1000 ms. */
  quickMs?: number;
  /** How often a camera that did not take the connection is tried with a TCP connect. Default 250 ms. */
  watchMs?: number;
}

/** Why an attempt ended, as far as waiting for the next one goes (see the top of this file). */
export type AttemptFailure = "connect" | "silent" | "ended" | "rejected";

/**
 * The retry kind of a failure ffmpeg explained on stderr. `hadPictures`: this
 * URL has given pictures before, so a stream that is not there or not readable
 * is a stalled source, not a wrong URL. A rejected login or a missing path
 * stays rejected either way.
 */
export function failureOf(reason: FfmpegFailureReason, hadPictures = false): AttemptFailure {
  if (reason === "refused" || reason === "unreachable" || reason === "timeout") return "connect";
  if (hadPictures && (reason === "invalid" || reason === "unknown")) return "silent";
  return "rejected";
}

export interface RetryPlan {
  delayMs: number;
  /** Ends the wait early as soon as the camera's port takes a TCP connection. */
  watchPort: boolean;
}

/** How long to wait after `failures` consecutive attempts without a picture (at least 1) that ended with `failure`. Pure. */
export function retryPlan(failure: AttemptFailure, failures: number, options: BackoffOptions = {}): RetryPlan {
  const delay = backoffDelay(Math.max(1, failures), options);
  switch (failure) {
    case "connect":
      return { delayMs: delay, watchPort: true };
    case "silent":
    case "ended":
      return { delayMs: Math.min(delay, options.quickMs ?? 1000), watchPort: false };
    case "rejected":
      return { delayMs: delay, watchPort: false };
  }
}

/** Waits as `plan` says for a camera at `url`; resolves early when `signal` aborts. */
export function waitBeforeRetry(url: string, plan: RetryPlan, signal: AbortSignal, options: BackoffOptions = {}): Promise<void> {
  const endpoint = plan.watchPort ? streamEndpoint(url) : undefined;
  return pause(plan.delayMs, signal, endpoint ? () => canConnect(endpoint) : undefined, options.watchMs ?? 250);
}

/** The delay after `failures` consecutive attempts without a frame (1 → initial). Pure. */
export function backoffDelay(failures: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  return Math.min(max, initial * 2 ** Math.max(0, failures - 1));
}

const DEFAULT_PORTS: Record<string, number> = { "rtsp:": 554, "rtsps:": 322, "http:": 80, "https:": 443 };

/** host and port of a network stream URL; undefined for files and devices. */
export function streamEndpoint(url: string): { host: string; port: number } | undefined {
  const kind = streamKind(url);
  if (kind !== "rtsp" && kind !== "http") return undefined;
  const parsed = new URL(url);
  const port = parsed.port ? Number(parsed.port) : DEFAULT_PORTS[parsed.protocol];
  return port ? { host: parsed.hostname.replace(/^\[|\]$/g, ""), port } : undefined;
}

/** Whether a TCP connection to host:port opens within `timeoutMs`. */
export function canConnect(endpoint: { host: string; port: number }, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Waits `ms`, or less: until `signal` aborts, or until `wake()` (polled every
 * `pollMs`) says the reason for waiting is gone.
 */
export async function pause(ms: number, signal: AbortSignal, wake?: () => Promise<boolean>, pollMs = 1000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!signal.aborted) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) return;
    await sleep(wake ? Math.min(pollMs, remaining) : remaining, signal);
    if (wake && !signal.aborted && (await wake())) return;
  }
}
