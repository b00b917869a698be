/**
 * Crash-safe file replacement: write a temporary file, fsync it, keep the current
 * generation as `<file>.bak` (a hard link, so the live name never disappears),
 * rename the temporary file over the live one, then fsync the directory. A
 * SIGKILL at any point leaves either the old or the new content under the live
 * name, never a mixture.
 */
import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";

export const BACKUP_SUFFIX = ".bak";
const TMP_MARK = ".tmp-";

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some filesystems (and some CI sandboxes) refuse fsync on directories; the rename is still atomic.
  } finally {
    await handle.close();
  }
}

export interface WriteOptions {
  /** Keep the previous content as `<file>.bak`. Default true. */
  backup?: boolean;
  /** File mode for the new file. Default 0600: nothing Vigil writes is for other users. */
  mode?: number;
}

export async function writeFileAtomic(file: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  const tmp = `${file}${TMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}`;
  const handle = await fs.open(tmp, "wx", options.mode ?? 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    // A full disk fails here: a half-written temporary would keep the space it took.
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    if (options.backup ?? true) await keepBackup(file);
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(dir);
}

async function keepBackup(file: string): Promise<void> {
  const backup = file + BACKUP_SUFFIX;
  const linkTmp = `${backup}${TMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await fs.link(file, linkTmp);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // first write: nothing to keep
    // Filesystems without hard links (FAT on some SD cards): fall back to a copy.
    await fs.copyFile(file, linkTmp);
  }
  await fs.rename(linkTmp, backup);
}

/** Removes temporary files a killed writer left behind in `dir`. */
export async function removeStaleTemporaries(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.includes(TMP_MARK)).map((n) => fs.rm(path.join(dir, n), { force: true })));
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
