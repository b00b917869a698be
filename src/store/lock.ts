/**
 * One Vigil process per data directory. Two writers with the same store would
 * overwrite each other's changes, and `rekey` under a running Vigil would leave
 * files encrypted with a key that no longer exists.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { VigilError } from "../errors.js";

export const LOCK_FILE = "vigil.lock";

export class StoreLockedError extends VigilError {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`Vigil is already running on ${dataDir} (process ${pid}); stop it first.`);
  }
}

/** Whether a process with this id exists (EPERM: it does, under another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** How often a running Vigil touches its lock file, so `vigil health` can tell it is alive. */
export const LOCK_HEARTBEAT_MS = 30_000;

/**
 * Whether a Vigil process holds the lock and touched it recently. Used by
 * `vigil health` (Docker HEALTHCHECK): a hung event loop stops the touches.
 */
export async function lockHealth(dataDir: string, now = Date.now()): Promise<{ healthy: boolean; reason: string }> {
  const file = path.join(dataDir, LOCK_FILE);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return { healthy: false, reason: `Vigil is not running on ${dataDir}.` };
  const pid = Number((await fs.readFile(file, "utf8").catch(() => "")).trim());
  if (!alive(pid)) return { healthy: false, reason: `Vigil (process ${pid}) is no longer running.` };
  const age = now - stat.mtimeMs;
  if (age > 3 * LOCK_HEARTBEAT_MS) return { healthy: false, reason: `Vigil (process ${pid}) has not reported for ${Math.round(age / 1000)} s; it may be stuck.` };
  return { healthy: true, reason: `Vigil (process ${pid}) is running.` };
}

/**
 * When the previous Vigil on this data directory died without releasing its lock
 * (a crash, SIGKILL, power loss), when it was last seen alive. Call before
 * {@link acquireLock}, which clears the stale lock.
 */
export async function previousCrash(dataDir: string): Promise<{ pid: number; lastSeenAt: number } | undefined> {
  const file = path.join(dataDir, LOCK_FILE);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return undefined;
  const pid = Number((await fs.readFile(file, "utf8").catch(() => "")).trim());
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) return undefined;
  return { pid, lastSeenAt: stat.mtimeMs };
}

/** Takes the data directory's lock; returns the function that releases it. */
export async function acquireLock(dataDir: string): Promise<() => Promise<void>> {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: "wx", mode: 0o600 });
      const heartbeat = setInterval(() => {
        const now = new Date();
        fs.utimes(file, now, now).catch(() => undefined);
      }, LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return async () => {
        clearInterval(heartbeat);
        await fs.rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number((await fs.readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new StoreLockedError(dataDir, pid);
      await fs.rm(file, { force: true }); // left by a process that died
    }
  }
  throw new StoreLockedError(dataDir, 0);
}
