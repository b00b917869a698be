/**
 * Retention: the event history never outgrows its limits and never fills the
 * disk. Limits are on age, on bytes per camera and on bytes overall, and a floor
 * of free disk space (`minFreeBytes`) that holds whatever the byte limits say;
 * the oldest events always go first. It runs on a timer and before every write
 * of a clip or snapshot ({@link Retention.ensureRoom}), so there is no nightly
 * cron job to forget.
 *
 * The decision is a pure function ({@link planRetention}); the disk is read
 * through an injectable {@link DiskReader} so a test can point it at a real
 * small filesystem.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { DiskStatus } from "../domain/recorder.js";
import { VigilError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { blobsOf, EVENT_BLOB_PREFIX, type EventHistory, type HistoryEntry } from "./event-history.js";
import type { Retention as RetentionLimits } from "./store.js";

const DAY_MS = 24 * 3600 * 1000;

export interface DiskSpace {
  /** Bytes this user may still write. */
  freeBytes: number;
  totalBytes: number;
}

export type DiskReader = (dir: string) => Promise<DiskSpace>;

/** Free space as the filesystem reports it (statfs: blocks available to this user). */
export const readDiskSpace: DiskReader = async (dir) => {
  const stat = await fs.statfs(dir);
  return { freeBytes: stat.bavail * stat.bsize, totalBytes: stat.blocks * stat.bsize };
};

/** There is not enough disk for a clip or snapshot even after deleting every older event. */
export class DiskFullError extends VigilError {
  constructor(
    readonly freeBytes: number,
    readonly minFreeBytes: number,
    readonly neededBytes: number,
  ) {
    super(`The data disk is too full to keep this recording: ${formatBytes(freeBytes)} free, and Vigil always leaves ${formatBytes(minFreeBytes)} free; free some space and recording resumes.`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.max(0, Math.round(bytes / 1024))} kB`;
}

export type RemovalReason = "age" | "camera-limit" | "total-limit" | "disk-floor";

export interface RetentionInput {
  /** Oldest first. */
  events: readonly HistoryEntry[];
  limits: RetentionLimits;
  now: number;
  freeBytes: number;
  /** Bytes about to be written, which must fit above the floor too. */
  needBytes?: number;
  /** Events that must stay (the alert whose clip is being written). */
  protect?: ReadonlySet<string>;
}

export interface RetentionPlan {
  /** Event ids to remove, in the order they were chosen. */
  remove: { id: string; reason: RemovalReason }[];
  /** Media bytes those removals free. */
  freedBytes: number;
  /** Whether free space will then cover `minFreeBytes + needBytes`. */
  fits: boolean;
}

/**
 * Which events to delete: those older than `maxAgeDays`; then, per camera with a
 * limit, the oldest until the camera is within it; then the oldest overall until
 * within `maxBytes`; then the oldest until the free-space floor holds with room
 * for `needBytes`. A clip shared by two alerts counts once and is freed with the
 * last of them. 0 means "no limit" for `maxBytes` and `maxAgeDays`.
 */
export function planRetention(input: RetentionInput): RetentionPlan {
  const { limits, now } = input;
  const protect = input.protect ?? new Set<string>();
  const kept = [...input.events];
  const remove: RetentionPlan["remove"] = [];
  // Bytes per blob are counted once however many events share it (a clip shared by two alerts).
  const refs = new Map<string, number>();
  const cameraBytes = new Map<string, number>();
  let totalBytes = 0;
  for (const e of kept) {
    for (const b of blobsOf(e)) {
      const count = refs.get(b.blob) ?? 0;
      refs.set(b.blob, count + 1);
      if (count > 0) continue;
      totalBytes += b.bytes;
      cameraBytes.set(e.cameraId, (cameraBytes.get(e.cameraId) ?? 0) + b.bytes);
    }
  }
  let freed = 0;
  const drop = (entry: HistoryEntry, reason: RemovalReason) => {
    kept.splice(kept.indexOf(entry), 1);
    remove.push({ id: entry.id, reason });
    for (const b of blobsOf(entry)) {
      const left = (refs.get(b.blob) ?? 1) - 1;
      refs.set(b.blob, left);
      if (left > 0) continue;
      freed += b.bytes;
      totalBytes -= b.bytes;
      cameraBytes.set(entry.cameraId, (cameraBytes.get(entry.cameraId) ?? 0) - b.bytes);
    }
  };
  const oldest = (filter: (e: HistoryEntry) => boolean) => kept.find((e) => !protect.has(e.id) && filter(e));
  const dropWhile = (condition: () => boolean, filter: (e: HistoryEntry) => boolean, reason: RemovalReason) => {
    while (condition()) {
      const e = oldest(filter);
      if (!e) return;
      drop(e, reason);
    }
  };

  if (limits.maxAgeDays > 0) {
    const cutoff = now - limits.maxAgeDays * DAY_MS;
    dropWhile(() => true, (x) => x.at < cutoff, "age");
  }
  for (const [cameraId, max] of Object.entries(limits.perCameraBytes)) {
    if (max > 0) dropWhile(() => (cameraBytes.get(cameraId) ?? 0) > max, (x) => x.cameraId === cameraId, "camera-limit");
  }
  if (limits.maxBytes > 0) dropWhile(() => totalBytes > limits.maxBytes, () => true, "total-limit");
  const need = limits.minFreeBytes + (input.needBytes ?? 0);
  dropWhile(() => input.freeBytes + freed < need, () => true, "disk-floor");
  return { remove, freedBytes: freed, fits: input.freeBytes + freed >= need };
}

export interface RetentionOptions {
  history: EventHistory;
  /** The data directory (its filesystem is the one measured). */
  dataDir: string;
  /** The current limits; read on every run, so changes apply at once. */
  limits: () => RetentionLimits;
  /** Default {@link readDiskSpace}. */
  readDisk?: DiskReader;
  /** How often it runs on its own. Default 60 s. */
  intervalMs?: number;
  /** Orphan blobs younger than this are left alone (a write may be in flight). Default 10 min. */
  orphanGraceMs?: number;
  now?: () => number;
  logger?: Logger;
}

export interface RetentionReport {
  removed: number;
  freedBytes: number;
  orphans: number;
}

export interface Retention {
  /**
   * Makes room for `bytes` more above the free-space floor, deleting the oldest
   * events (except `protect`) as needed. Throws {@link DiskFullError} when even
   * that is not enough; nothing is written in that case.
   */
  ensureRoom(bytes: number, protect?: readonly string[]): Promise<void>;
  /** Applies every limit now. */
  enforce(): Promise<RetentionReport>;
  /** Disk use as last measured (by every run, and by {@link refresh}). */
  status(): DiskStatus;
  /** Measures disk use again (after a write), without deleting anything. */
  refresh(): Promise<void>;
  /** Records that writing failed for lack of space (ENOSPC), or that it works again (undefined). */
  setPaused(reason: string | undefined): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export function createRetention(options: RetentionOptions): Retention {
  const { history, dataDir } = options;
  const readDisk = options.readDisk ?? readDiskSpace;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  let disk: DiskStatus = { usedBytes: 0, freeBytes: 0 };
  let paused: string | undefined;
  // Runs are serialised: two concurrent runs would both count the same free space.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task, task);
    queue = next.catch(() => undefined);
    return next;
  };

  async function measure(): Promise<DiskSpace> {
    const space = await readDisk(dataDir);
    const oldest = history.entries()[0];
    disk = { usedBytes: await directoryBytes(dataDir), freeBytes: space.freeBytes, oldestEventAt: oldest?.at, paused };
    return space;
  }

  async function apply(needBytes: number, protect: ReadonlySet<string>): Promise<RetentionPlan & { freeBytes: number }> {
    let total = 0;
    let plan: RetentionPlan | undefined;
    // Re-measure after deleting: filesystems free whole blocks, not blob bytes.
    for (let round = 0; round < 5; round++) {
      const space = await measure();
      plan = planRetention({ events: history.entries(), limits: options.limits(), now: now(), freeBytes: space.freeBytes, needBytes, protect });
      if (plan.remove.length === 0) return { ...plan, freedBytes: total, freeBytes: space.freeBytes };
      for (const r of plan.remove) logger.info({ event: r.id, reason: r.reason }, "retention: removing event");
      total += await history.remove(plan.remove.map((r) => r.id));
    }
    const space = await measure();
    return { ...(plan ?? { remove: [], fits: true }), freedBytes: total, freeBytes: space.freeBytes, fits: space.freeBytes >= options.limits().minFreeBytes + needBytes };
  }

  async function sweepOrphans(): Promise<number> {
    const named = history.namedBlobs();
    let swept = 0;
    for (const name of await history.blobs.list()) {
      if (!name.startsWith(EVENT_BLOB_PREFIX) || named.has(name)) continue;
      const stat = await fs.stat(history.blobs.path(name)).catch(() => undefined);
      if (!stat || now() - stat.mtimeMs < (options.orphanGraceMs ?? 10 * 60_000)) continue;
      await history.blobs.delete(name);
      swept += 1;
    }
    return swept;
  }

  const retention: Retention = {
    ensureRoom(bytes, protect = []) {
      return serial(async () => {
        const result = await apply(bytes, new Set(protect));
        if (!result.fits) throw new DiskFullError(result.freeBytes, options.limits().minFreeBytes, bytes);
      });
    },
    enforce() {
      return serial(async () => {
        const result = await apply(0, new Set());
        const orphans = await sweepOrphans();
        return { removed: result.remove.length, freedBytes: result.freedBytes, orphans };
      });
    },
    status: () => ({ ...disk, paused }),
    refresh() {
      return serial(async () => {
        await measure().catch((error: unknown) => logger.warn({ err: error }, "could not measure disk use"));
      });
    },
    setPaused(reason) {
      if (reason !== paused) logger[reason ? "warn" : "info"](reason ? { reason } : {}, reason ? "recording paused" : "recording resumed");
      paused = reason;
    },
    async stop() {
      clearInterval(timer);
      await queue;
    },
  };
  const tick = () => {
    retention.enforce().catch((error: unknown) => logger.error({ err: error }, "retention failed"));
  };
  const timer = setInterval(tick, options.intervalMs ?? 60_000);
  timer.unref();
  tick();
  return retention;
}

/** Bytes taken by every file under `dir`. */
async function directoryBytes(dir: string): Promise<number> {
  let sum = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sum += await directoryBytes(full);
    else if (entry.isFile()) sum += (await fs.stat(full).catch(() => ({ size: 0 }))).size;
  }
  return sum;
}
