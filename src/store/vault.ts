/**
 * The vault: the data directory, its keyring and the unlocked data key.
 *
 * `keyring.json` is the only file in the data directory that is not encrypted,
 * and it holds nothing secret: the format version, how to unlock (Argon2id salt
 * and limits, or "key file"), and the data key wrapped by the unlock key.
 */
import fs from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { ConfigError, CorruptStoreError, DecryptError, NoStoreError, StoreExistsError } from "../errors.js";
import { BACKUP_SUFFIX, exists, removeStaleTemporaries, writeFileAtomic } from "./atomic-file.js";
import { checksum, DataKey, deriveKey, getSodium, KEY_BYTES, newArgon2Params, open, randomKey, seal, type Argon2Params, type KdfProfile } from "./crypto.js";

export const KEYRING_FILE = "keyring.json";
const KEYRING_PURPOSE = new TextEncoder().encode("vigil-keyring-v1");
export const RESTORE_COMMAND = "vigil config restore";

const KeyringSchema = v.object({
  format: v.literal("vigil-keyring"),
  version: v.literal(1),
  unlock: v.variant("method", [
    v.object({
      method: v.literal("passphrase"),
      kdf: v.object({ alg: v.literal("argon2id13"), salt: v.string(), opslimit: v.number(), memlimit: v.number() }),
    }),
    v.object({ method: v.literal("key-file") }),
  ]),
  /** nonce ‖ ciphertext of the data key, base64. */
  dataKey: v.string(),
  /** Fingerprint of `dataKey` so that damage is told apart from a wrong key. */
  check: v.string(),
  createdAt: v.string(),
});
type Keyring = v.InferOutput<typeof KeyringSchema>;

/** How to unlock: a passphrase, or a key file. */
export type Unlock = { passphrase: string } | { keyFile: string };

export interface Vault {
  readonly dataDir: string;
  readonly key: DataKey;
  readonly method: "passphrase" | "key-file";
  /** Absolute path of a file inside the data directory. */
  file(name: string): string;
}

export async function storeExists(dataDir: string): Promise<boolean> {
  return exists(path.join(dataDir, KEYRING_FILE));
}

/** Reads a key file, refusing one other users can read, or one that is not 32 random bytes. */
export async function readKeyFile(file: string): Promise<Uint8Array> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new ConfigError(`The key file ${file} does not exist; check VIGIL_KEY_FILE.`, "VIGIL_KEY_FILE");
  }
  if ((stat.mode & 0o077) !== 0) throw new ConfigError(`The key file ${file} can be read by other users; run \`chmod 600 ${file}\`.`, "VIGIL_KEY_FILE");
  const raw = await fs.readFile(file);
  if (raw.length === KEY_BYTES) return new Uint8Array(raw);
  const text = raw.toString("utf8").trim();
  if (/^[0-9a-f]{64}$/i.test(text)) return new Uint8Array(Buffer.from(text, "hex"));
  const b64 = Buffer.from(text, "base64");
  if (b64.length === KEY_BYTES && /^[A-Za-z0-9+/_-]+=*$/.test(text)) return new Uint8Array(b64);
  throw new ConfigError(`The key file ${file} is not a Vigil key (it must hold 32 random bytes).`, "VIGIL_KEY_FILE");
}

/** Creates a new key file of 32 random bytes with mode 0600; refuses to overwrite one. */
export async function createKeyFile(file: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    await fs.writeFile(file, await randomKey(), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
    throw error;
  }
}

async function unlockKey(unlock: Unlock, keyring?: Keyring): Promise<Uint8Array> {
  if ("keyFile" in unlock) return readKeyFile(unlock.keyFile);
  if (!unlock.passphrase) throw new ConfigError("The passphrase is empty; set VIGIL_PASSPHRASE.", "VIGIL_PASSPHRASE");
  if (keyring?.unlock.method !== "passphrase") throw new Error("unreachable: passphrase unlock without Argon2 parameters");
  return deriveKey(unlock.passphrase, keyring.unlock.kdf);
}

function makeVault(dataDir: string, key: Uint8Array, method: Vault["method"]): Vault {
  return { dataDir, key: new DataKey(key), method, file: (name) => path.join(dataDir, name) };
}

async function writeKeyring(dataDir: string, unlock: Unlock, dataKey: Uint8Array, profile: KdfProfile): Promise<void> {
  const sodium = await getSodium();
  let unlockSpec: Keyring["unlock"];
  let kek: Uint8Array;
  if ("keyFile" in unlock) {
    unlockSpec = { method: "key-file" };
    kek = await readKeyFile(unlock.keyFile);
  } else {
    if (unlock.passphrase.length < 8) throw new ConfigError("The passphrase must be at least 8 characters long.", "VIGIL_PASSPHRASE");
    const kdf: Argon2Params = await newArgon2Params(profile);
    unlockSpec = { method: "passphrase", kdf };
    kek = await deriveKey(unlock.passphrase, kdf);
  }
  const wrapped = sodium.to_base64(await seal(kek, dataKey, KEYRING_PURPOSE));
  const keyring: Keyring = { format: "vigil-keyring", version: 1, unlock: unlockSpec, dataKey: wrapped, check: checksum(wrapped), createdAt: new Date().toISOString() };
  await writeFileAtomic(path.join(dataDir, KEYRING_FILE), `${JSON.stringify(keyring, null, 2)}\n`);
}

export interface CreateVaultOptions {
  dataDir: string;
  unlock: Unlock;
  /** Argon2id cost for a passphrase. Default `moderate`. */
  kdfProfile?: KdfProfile;
  /** Replace an existing store. Default false. */
  force?: boolean;
}

/** Creates a new data directory (mode 0700) with a fresh data key. */
export async function createVault(options: CreateVaultOptions): Promise<Vault> {
  const { dataDir } = options;
  if (!options.force && (await storeExists(dataDir))) throw new StoreExistsError(dataDir);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (options.force) {
    for (const name of await fs.readdir(dataDir)) await fs.rm(path.join(dataDir, name), { recursive: true, force: true });
  }
  const dataKey = await randomKey();
  await writeKeyring(dataDir, options.unlock, dataKey, options.kdfProfile ?? "moderate");
  return makeVault(dataDir, dataKey, "keyFile" in options.unlock ? "key-file" : "passphrase");
}

async function readKeyring(dataDir: string): Promise<Keyring> {
  const file = path.join(dataDir, KEYRING_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    throw new NoStoreError(dataDir);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw corrupt(file, cause);
  }
  const result = v.safeParse(KeyringSchema, parsed);
  if (!result.success || checksum(result.output.dataKey) !== result.output.check) throw corrupt(file, result.success ? undefined : result.issues);
  return result.output;
}

function corrupt(file: string, cause?: unknown): CorruptStoreError {
  const backup = file + BACKUP_SUFFIX;
  return new CorruptStoreError(
    `${path.basename(file)} in ${path.dirname(file)} is damaged. The previous version is kept as ${path.basename(backup)}: run \`${RESTORE_COMMAND}\` to go back to it.`,
    file,
    backup,
    RESTORE_COMMAND,
    { cause },
  );
}

/** How the store in `dataDir` is unlocked, so a prompt can ask for the right thing. */
export async function unlockMethod(dataDir: string): Promise<"passphrase" | "key-file"> {
  return (await readKeyring(dataDir)).unlock.method;
}

/** Opens an existing store. Wrong passphrase or key: {@link DecryptError}, and nothing is touched. */
export async function openVault(dataDir: string, unlock: Unlock): Promise<Vault> {
  const keyring = await readKeyring(dataDir);
  const expected = keyring.unlock.method;
  if (expected === "passphrase" && !("passphrase" in unlock)) {
    throw new ConfigError(`The store in ${dataDir} is locked with a passphrase: set VIGIL_PASSPHRASE.`, "VIGIL_PASSPHRASE");
  }
  if (expected === "key-file" && !("keyFile" in unlock)) {
    throw new ConfigError(`The store in ${dataDir} is locked with a key file: set VIGIL_KEY_FILE to its path.`, "VIGIL_KEY_FILE");
  }
  const kek = await unlockKey(unlock, keyring);
  const sodium = await getSodium();
  const dataKey = await open(kek, sodium.from_base64(keyring.dataKey), KEYRING_PURPOSE);
  if (!dataKey) {
    const what = expected === "passphrase" ? "The passphrase is wrong" : "The key file does not match this store";
    throw new DecryptError(`${what}: the store in ${dataDir} was not opened and nothing was changed.`, path.join(dataDir, KEYRING_FILE));
  }
  await removeStaleTemporaries(dataDir);
  return makeVault(dataDir, dataKey, expected);
}

/**
 * Wraps the same data key under a new passphrase or key file. Used by rekey
 * after every file has been re-encrypted under a new data key.
 */
export async function rewrapVault(vault: Vault, unlock: Unlock, dataKey: Uint8Array, profile: KdfProfile = "moderate"): Promise<Vault> {
  await writeKeyring(vault.dataDir, unlock, dataKey, profile);
  return makeVault(vault.dataDir, dataKey, "keyFile" in unlock ? "key-file" : "passphrase");
}
