/**
 * Waiting between ffmpeg attempts. The delay doubles from 0.5 s to 30 s so a dead
 * camera costs almost nothing; but a camera that was refusing connections is
 * watched with a cheap TCP connect every second, and the wait ends as soon as its
 * port opens again, so a rebooted camera is back within seconds, not half a minute.
 */
import net from "node:net";
import { streamKind } from "../../domain/stream-url.js";

export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialMs?: number;
  /** Longest delay. Default 30 s. */
  maxMs?: number;
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
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
