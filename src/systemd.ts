/**
 * systemd integration for `Type=notify` units: READY=1 once Vigil is serving,
 * WATCHDOG=1 pings at half the unit's WatchdogSec while the event loop is alive,
 * STOPPING=1 on shutdown. Node cannot write to a unix datagram socket itself, so
 * this calls `systemd-notify` (hence `NotifyAccess=all` in the unit). Outside
 * systemd (no NOTIFY_SOCKET) every call is a no-op.
 */
import { execFile } from "node:child_process";
import type { Logger } from "./log.js";

export interface SystemdNotifier {
  ready(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  stopping(): Promise<void>;
  /** Pings the watchdog until `signal` aborts. */
  startWatchdog(signal: AbortSignal): void;
}

export interface SystemdOptions {
  notifySocket: string | undefined;
  watchdogMs: number | undefined;
  logger: Logger;
  /** The notify binary. Default `systemd-notify`. */
  command?: string;
}

export function createSystemdNotifier(options: SystemdOptions): SystemdNotifier {
  const enabled = Boolean(options.notifySocket);
  const send = (...assignments: string[]) =>
    new Promise<void>((resolve) => {
      if (!enabled) return resolve();
      // --pid names this process as the sender; the helper exits before systemd reads the message.
      execFile(options.command ?? "systemd-notify", [`--pid=${process.pid}`, ...assignments], { env: { NOTIFY_SOCKET: options.notifySocket } }, (error) => {
        if (error) options.logger.warn({ err: error }, "systemd-notify failed");
        resolve();
      });
    });
  return {
    ready: (status) => send("--ready", ...(status ? [`--status=${status}`] : [])),
    status: (text) => send(`--status=${text}`),
    stopping: () => send("STOPPING=1"),
    startWatchdog(signal) {
      if (!enabled || !options.watchdogMs) return;
      const timer = setInterval(() => void send("WATCHDOG=1"), Math.max(1000, options.watchdogMs / 2));
      signal.addEventListener("abort", () => clearInterval(timer), { once: true });
    },
  };
}
