/**
 * Store maintenance: restoring damaged files from their backups, and `rekey`,
 * which moves every file to a new data key under a new passphrase or key file.
 *
 * Rekey is crash-safe: every file is first re-encrypted next to the original
 * (`*.rekey`), then a commit marker is written, then the new files replace the
 * old ones. A crash before the marker leaves the old store intact (the `*.rekey`
 * files are discarded on the next open); a crash after it is finished on the
 * next open. There is never a moment when neither key opens the store.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { CorruptStoreError } from "../errors.js";
import { BACKUP_SUFFIX, exists, writeFileAtomic } from "./atomic-file.js";
import { BLOB_SUFFIX, decryptBuffer, encryptBuffer } from "./blob-store.js";
import { randomKey, DataKey, type KdfProfile } from "./crypto.js";
import { documentPurpose, openBytes, sealBytes } from "./document.js";
import { KEYRING_FILE, openVault, rewrapVault, type Unlock, type Vault } from "./vault.js";

const REKEY_SUFFIX = ".rekey";
const COMMIT_MARKER = "rekey.commit";
const DOC_SUFFIX = ".db";

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** Finishes or rolls back a rekey that a crash interrupted. Safe to call on every start. */
export async function recoverInterruptedRekey(dataDir: string): Promise<"none" | "finished" | "rolled-back"> {
  const pending = (await walk(dataDir)).filter((f) => f.endsWith(REKEY_SUFFIX));
  const marker = path.join(dataDir, COMMIT_MARKER);
  if (await exists(marker)) {
    // Keyring first: from here on only the new key is valid.
    pending.sort((a, b) => Number(b.endsWith(KEYRING_FILE + REKEY_SUFFIX)) - Number(a.endsWith(KEYRING_FILE + REKEY_SUFFIX)));
    for (const file of pending) await fs.rename(file, file.slice(0, -REKEY_SUFFIX.length));
    await fs.rm(marker, { force: true });
    return "finished";
  }
  if (pending.length === 0) return "none";
  await Promise.all(pending.map((f) => fs.rm(f, { force: true })));
  return "rolled-back";
}

function documentName(file: string): string {
  const base = path.basename(file);
  return base.endsWith(BACKUP_SUFFIX) ? base.slice(0, -BACKUP_SUFFIX.length) : base;
}

export interface RekeyOptions {
  dataDir: string;
  from: Unlock;
  to: Unlock;
  kdfProfile?: KdfProfile;
  onProgress?: (done: number, total: number) => void;
}

/** Re-encrypts the whole data directory under a new data key, unlocked by `to`. */
export async function rekey(options: RekeyOptions): Promise<{ files: number }> {
  await recoverInterruptedRekey(options.dataDir);
  const vault = await openVault(options.dataDir, options.from);
  const newKeyBytes = await randomKey();
  const newVault: Vault = { dataDir: vault.dataDir, method: vault.method, key: new DataKey(newKeyBytes), file: (name) => path.join(vault.dataDir, name) };
  const files = (await walk(options.dataDir)).filter((f) => f.endsWith(DOC_SUFFIX) || f.endsWith(DOC_SUFFIX + BACKUP_SUFFIX) || f.endsWith(BLOB_SUFFIX));
  let done = 0;
  for (const file of files) {
    const bytes = await fs.readFile(file);
    let out: Uint8Array;
    if (file.endsWith(BLOB_SUFFIX)) {
      const name = path.basename(file).slice(0, -BLOB_SUFFIX.length);
      out = await encryptBuffer(await decryptBuffer(bytes, name, vault.key.bytes, file), name, newKeyBytes);
    } else {
      const purpose = documentPurpose(documentName(file));
      const plain = await openBytes(vault, purpose, bytes);
      if (!plain) {
        if (file.endsWith(BACKUP_SUFFIX)) continue; // a damaged backup is dropped, not carried over
        throw new CorruptStoreError(`${path.basename(file)} is damaged, so it cannot be re-encrypted; run \`vigil config restore\` first.`, file, file + BACKUP_SUFFIX, "vigil config restore");
      }
      out = await sealBytes(newVault, purpose, plain);
    }
    await writeFileAtomic(file + REKEY_SUFFIX, out, { backup: false });
    options.onProgress?.(++done, files.length);
  }
  // The new keyring is written beside the old one; the commit marker makes it count.
  const staging = path.join(options.dataDir, ".rekey-staging");
  await fs.mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    await rewrapVault({ ...newVault, dataDir: staging, file: (n) => path.join(staging, n) }, options.to, newKeyBytes, options.kdfProfile);
    await fs.rename(path.join(staging, KEYRING_FILE), path.join(options.dataDir, KEYRING_FILE + REKEY_SUFFIX));
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
  await writeFileAtomic(path.join(options.dataDir, COMMIT_MARKER), "commit\n", { backup: false });
  await recoverInterruptedRekey(options.dataDir);
  // The old keyring's backup would unlock nothing any more: keep a copy of the new one instead.
  await fs.copyFile(path.join(options.dataDir, KEYRING_FILE), path.join(options.dataDir, KEYRING_FILE + BACKUP_SUFFIX));
  return { files: files.length };
}

export interface RestoreReport {
  restored: string[];
  unrecoverable: string[];
}

async function keyringIntact(file: string): Promise<boolean> {
  try {
    const json = JSON.parse(await fs.readFile(file, "utf8")) as { format?: string; dataKey?: string };
    return json.format === "vigil-keyring" && typeof json.dataKey === "string";
  } catch {
    return false;
  }
}

/**
 * Puts back the previous generation of every damaged file (`vigil config restore`).
 * The damaged file is kept as `<name>.damaged` for inspection.
 */
export async function restoreFromBackups(dataDir: string, unlock: Unlock): Promise<RestoreReport> {
  const report: RestoreReport = { restored: [], unrecoverable: [] };
  const keyring = path.join(dataDir, KEYRING_FILE);
  if ((await exists(keyring)) && !(await keyringIntact(keyring))) {
    if (await keyringIntact(keyring + BACKUP_SUFFIX)) {
      await fs.rename(keyring, `${keyring}.damaged`);
      await fs.copyFile(keyring + BACKUP_SUFFIX, keyring);
      report.restored.push(KEYRING_FILE);
    } else report.unrecoverable.push(KEYRING_FILE);
  }
  const vault = await openVault(dataDir, unlock);
  for (const name of (await fs.readdir(dataDir)).filter((n) => n.endsWith(DOC_SUFFIX))) {
    const file = path.join(dataDir, name);
    const purpose = documentPurpose(name);
    if (await isIntact(vault, purpose, file)) continue;
    if (await isIntact(vault, purpose, file + BACKUP_SUFFIX)) {
      await fs.copyFile(file, `${file}.damaged`);
      await writeFileAtomic(file, await fs.readFile(file + BACKUP_SUFFIX), { backup: false });
      report.restored.push(name);
    } else report.unrecoverable.push(name);
  }
  return report;
}

async function isIntact(vault: Vault, purpose: string, file: string): Promise<boolean> {
  const bytes = await fs.readFile(file).catch(() => undefined);
  if (!bytes) return false;
  const plain = await openBytes(vault, purpose, bytes);
  if (!plain) return false;
  try {
    JSON.parse(new TextDecoder().decode(plain));
    return true;
  } catch {
    return false;
  }
}

