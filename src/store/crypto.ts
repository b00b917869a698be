/**
 * Encryption at rest, with libsodium (the `-sumo` build, for Argon2id).
 *
 * One random 32-byte data key encrypts every file Vigil writes. The data key is
 * itself wrapped (XChaCha20-Poly1305) by a key-encryption key that comes either
 * from a passphrase through Argon2id (salt and limits stored in the keyring header)
 * or from a key file of 32 random bytes. Small documents are sealed whole with
 * XChaCha20-Poly1305-IETF, bound to their purpose through the associated data,
 * so one file cannot be swapped for another; large media use secretstream.
 */
import { createHash } from "node:crypto";
import sodiumModule from "libsodium-wrappers-sumo";
import { DecryptError } from "../errors.js";

export type Sodium = typeof sodiumModule;

let ready: Promise<Sodium> | undefined;
/** libsodium, initialised once. */
export function getSodium(): Promise<Sodium> {
  ready ??= sodiumModule.ready.then(() => sodiumModule);
  return ready;
}

export const KEY_BYTES = 32;
const NONCE_BYTES = 24;
const MAC_BYTES = 16;

/** Argon2id cost profiles (libsodium's). `moderate` is the default: 256 MiB, ~1 s here, a few s on a Pi 4. */
export const KDF_PROFILES = {
  interactive: { opslimit: 2, memlimit: 64 * 1024 * 1024 },
  moderate: { opslimit: 3, memlimit: 256 * 1024 * 1024 },
  sensitive: { opslimit: 4, memlimit: 1024 * 1024 * 1024 },
} as const;
export type KdfProfile = keyof typeof KDF_PROFILES;

export interface Argon2Params {
  alg: "argon2id13";
  salt: string;
  opslimit: number;
  memlimit: number;
}

export async function deriveKey(passphrase: string, params: Argon2Params): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.crypto_pwhash(KEY_BYTES, passphrase, sodium.from_base64(params.salt), params.opslimit, params.memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
}

export async function newArgon2Params(profile: KdfProfile): Promise<Argon2Params> {
  const sodium = await getSodium();
  const { opslimit, memlimit } = KDF_PROFILES[profile];
  return { alg: "argon2id13", salt: sodium.to_base64(sodium.randombytes_buf(sodium.crypto_pwhash_SALTBYTES)), opslimit, memlimit };
}

export async function randomKey(): Promise<Uint8Array> {
  return (await getSodium()).randombytes_buf(KEY_BYTES);
}

/** Encrypts with a fresh random nonce; the output is nonce ‖ ciphertext ‖ tag. */
export async function seal(key: Uint8Array, plaintext: Uint8Array, associated: Uint8Array): Promise<Uint8Array> {
  const sodium = await getSodium();
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const cipher = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associated, null, nonce, key);
  const out = new Uint8Array(NONCE_BYTES + cipher.length);
  out.set(nonce, 0);
  out.set(cipher, NONCE_BYTES);
  return out;
}

/** Opens {@link seal}'s output; returns undefined when it does not authenticate. */
export async function open(key: Uint8Array, sealed: Uint8Array, associated: Uint8Array): Promise<Uint8Array | undefined> {
  if (sealed.length < NONCE_BYTES + MAC_BYTES) return undefined;
  const sodium = await getSodium();
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.subarray(NONCE_BYTES), associated, sealed.subarray(0, NONCE_BYTES), key);
  } catch {
    return undefined;
  }
}

/** A short, non-secret fingerprint used to tell "damaged" from "wrong key". */
export function checksum(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

/**
 * The data key, held in memory only. Everything that encrypts goes through it so
 * that the raw bytes never travel further than this module and the blob store.
 */
export class DataKey {
  #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    if (bytes.length !== KEY_BYTES) throw new DecryptError("The data key has the wrong length.", "keyring");
    this.#bytes = bytes;
  }
  /** For the blob store's secretstream and for re-wrapping; not for logging. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }
  seal(plaintext: Uint8Array, purpose: string): Promise<Uint8Array> {
    return seal(this.#bytes, plaintext, new TextEncoder().encode(purpose));
  }
  open(sealed: Uint8Array, purpose: string): Promise<Uint8Array | undefined> {
    return open(this.#bytes, sealed, new TextEncoder().encode(purpose));
  }
}
