/**
 * Where a clip is joined: a private folder in RAM (tmpfs), never on the data
 * disk, because the MP4 exists there in clear for a moment. faststart needs a
 * seekable file; without a RAM filesystem the clip is made as a fragmented MP4
 * on a pipe instead (still with its index first), so nothing readable ever
 * touches persistent storage.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { alive } from "../../store/lock.js";

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const PREFIX = "vigil-clip-";

/** Folders that are RAM on Linux: /dev/shm everywhere, /run/user/<uid> under systemd. */
export function ramCandidates(): string[] {
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  return ["/dev/shm", ...(uid === undefined ? [] : [`/run/user/${uid}`])];
}

export async function isRamFilesystem(dir: string): Promise<boolean> {
  try {
    const stat = await fs.statfs(dir);
    return stat.type === TMPFS_MAGIC || stat.type === RAMFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Creates a private (0700) scratch folder in the first RAM filesystem found,
 * after removing folders that killed Vigil processes left there (plaintext
 * must not outlive its process). Undefined when there is no RAM filesystem.
 */
export async function createScratchDir(candidates = ramCandidates()): Promise<string | undefined> {
  for (const base of candidates) {
    if (!(await isRamFilesystem(base))) continue;
    await removeStaleFolders(base, PREFIX);
    try {
      return await fs.mkdtemp(path.join(base, `${PREFIX}${process.pid}-`));
    } catch {
      continue; // not writable for this user
    }
  }
  return undefined;
}

/** Removes the `<prefix><pid>-…` folders in `base` whose process is gone. */
export async function removeStaleFolders(base: string, prefix: string): Promise<void> {
  const names = await fs.readdir(base).catch(() => [] as string[]);
  for (const name of names) {
    const match = new RegExp(`^${prefix}(\\d+)-`).exec(name);
    // Another account's folder cannot be removed, and is not ours to remove.
    if (match && Number(match[1]) !== process.pid && !alive(Number(match[1]))) await fs.rm(path.join(base, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The OS temp folder is not a safe fallback: say so instead of using it. */
export function describeScratch(dir: string | undefined): string {
  return dir ? `clips are joined in RAM (${dir})` : `no RAM filesystem found (looked at ${ramCandidates().join(", ")}; ${os.tmpdir()} may be on disk): clips are made as fragmented MP4 in memory`;
}
