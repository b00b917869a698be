/**
 * An encrypted, versioned, validated JSON document, kept with lowdb.
 *
 * On disk: `VGL1` ‖ XChaCha20-Poly1305(nonce, JSON, associated data = purpose).
 * On read the JSON is migrated to the current version and validated; anything
 * that fails (truncation, a flipped byte, a foreign file) is a CorruptStoreError
 * naming the backup and the restore command. Writes are serialised, atomic and
 * keep the previous generation.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { Low, type Adapter } from "lowdb";
import * as v from "valibot";
import { CorruptStoreError } from "../errors.js";
import { BACKUP_SUFFIX, exists, writeFileAtomic } from "./atomic-file.js";
import { RESTORE_COMMAND, type Vault } from "./vault.js";

const MAGIC = new Uint8Array([0x56, 0x47, 0x4c, 0x31]); // "VGL1"

export interface DocumentSpec<T extends { version: number }> {
  /** File name inside the data directory, e.g. `vigil.db`. */
  file: string;
  version: T["version"];
  schema: v.GenericSchema<unknown, T>;
  /** `migrations[n]` turns a version-n document into version n+1. */
  migrations?: Record<number, (old: Record<string, unknown>) => Record<string, unknown>>;
  /** The content of a brand-new document. */
  empty: () => T;
}

/** Bound into the ciphertext, so a file written as one document does not open as another. */
export function documentPurpose(file: string): string {
  return `vigil-doc:${file}`;
}

export async function sealBytes(vault: Vault, purpose: string, plaintext: Uint8Array): Promise<Uint8Array> {
  const sealed = await vault.key.seal(plaintext, purpose);
  const out = new Uint8Array(MAGIC.length + sealed.length);
  out.set(MAGIC, 0);
  out.set(sealed, MAGIC.length);
  return out;
}

/** Decrypts a sealed file's bytes; undefined when they are not an intact Vigil file for this purpose. */
export async function openBytes(vault: Vault, purpose: string, bytes: Uint8Array): Promise<Uint8Array | undefined> {
  if (bytes.length <= MAGIC.length || !MAGIC.every((b, i) => bytes[i] === b)) return undefined;
  return vault.key.open(bytes.subarray(MAGIC.length), purpose);
}

function corruptError(file: string, detail: string, cause?: unknown): CorruptStoreError {
  const backup = file + BACKUP_SUFFIX;
  return new CorruptStoreError(
    `${path.basename(file)} in ${path.dirname(file)} is damaged (${detail}). The previous version is kept as ${path.basename(backup)}: run \`${RESTORE_COMMAND}\` to go back to it.`,
    file,
    backup,
    RESTORE_COMMAND,
    cause === undefined ? undefined : { cause },
  );
}

/** Reads, decrypts, migrates and validates one document file. Undefined when the file does not exist. */
export async function readDocumentFile<T extends { version: number }>(vault: Vault, spec: DocumentSpec<T>, file = vault.file(spec.file)): Promise<T | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const plain = await openBytes(vault, documentPurpose(spec.file), bytes);
  if (!plain) throw corruptError(file, bytes.length <= MAGIC.length ? "the file is truncated" : "it does not decrypt: truncated or altered");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(plain)) as Record<string, unknown>;
  } catch (cause) {
    throw corruptError(file, "its content is not valid JSON", cause);
  }
  let version = typeof json.version === "number" ? json.version : 0;
  if (version > spec.version) {
    throw corruptError(file, `it was written by a newer Vigil (format ${version}; this one reads up to ${spec.version})`);
  }
  while (version < spec.version) {
    const migrate = spec.migrations?.[version];
    if (!migrate) throw corruptError(file, `there is no migration from format ${version}`);
    json = { ...migrate(json), version: version + 1 };
    version += 1;
  }
  const result = v.safeParse(spec.schema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join(".") ?? "document";
    throw corruptError(file, `invalid data at ${where}: ${issue.message}`, result.issues);
  }
  return result.output;
}

export async function writeDocumentFile<T extends { version: number }>(vault: Vault, spec: DocumentSpec<T>, data: T, file = vault.file(spec.file)): Promise<void> {
  const sealed = await sealBytes(vault, documentPurpose(spec.file), new TextEncoder().encode(JSON.stringify(data)));
  await writeFileAtomic(file, sealed);
}

/** lowdb adapter over the sealed file format. */
class EncryptedAdapter<T extends { version: number }> implements Adapter<T> {
  constructor(
    private readonly vault: Vault,
    private readonly spec: DocumentSpec<T>,
  ) {}
  async read(): Promise<T | null> {
    return (await readDocumentFile(this.vault, this.spec)) ?? null;
  }
  async write(data: T): Promise<void> {
    await writeDocumentFile(this.vault, this.spec, data);
  }
}

/**
 * A document in memory plus its file. Reads are synchronous on the in-memory
 * copy; {@link update} applies a change, writes it, and rolls the memory back if
 * the write fails, so memory and disk never disagree.
 */
export class EncryptedDocument<T extends { version: number }> {
  #db: Low<T>;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(db: Low<T>) {
    this.#db = db;
  }

  static async open<T extends { version: number }>(vault: Vault, spec: DocumentSpec<T>): Promise<EncryptedDocument<T>> {
    const db = new Low<T>(new EncryptedAdapter(vault, spec), spec.empty());
    await db.read();
    const doc = new EncryptedDocument(db);
    if (db.data.version !== spec.version || !(await exists(vault.file(spec.file)))) await db.write();
    return doc;
  }

  /** The current data. Treat it as read-only: change it through {@link update}. */
  get data(): Readonly<T> {
    return this.#db.data;
  }

  /** Applies `change` to a copy, writes it, then makes it current. Serialised with every other update. */
  update<R>(change: (draft: T) => R): Promise<R> {
    const run = async (): Promise<R> => {
      const previous = this.#db.data;
      const draft = structuredClone(previous);
      const result = change(draft);
      this.#db.data = draft;
      try {
        await this.#db.write();
      } catch (error) {
        this.#db.data = previous;
        throw error;
      }
      return result;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    await this.#queue;
  }
}
