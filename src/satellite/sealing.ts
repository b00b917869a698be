/**
 * The satellite link's cryptography, all libsodium.
 *
 * Adoption: each side has an X25519 key pair (crypto_kx). The satellite shows a
 * one-time join code to a person, and announces its public key on the broker
 * with a tag: HMAC (crypto_auth, HMAC-SHA-512-256) under a key derived from the
 * code with Argon2id. An admin types the code in the chat; the hub checks the
 * tag, and answers with its own public key, tagged with the same code key. A
 * broker in the middle that swaps either public key cannot make a valid tag
 * without the code, and cannot find the code offline from a tag: each guess of
 * its 50 bits costs an Argon2id (64 MiB). The code works once.
 *
 * Then crypto_kx gives each side two session keys (one per direction), and
 * every message is sealed with XChaCha20-Poly1305-IETF under the key of its
 * direction with a fresh random 24-byte nonce, the clear header and the
 * satellite's id as associated data: a message cannot be read, altered, moved
 * to another satellite or turned around.
 */
import { getSodium } from "../store/crypto.js";
import { decodeHeader, encodeHeader, HEADER_BYTES, type Header } from "./protocol.js";

const NONCE_BYTES = 24;
const MAC_BYTES = 16;
/** Letters and digits that cannot be misread for one another (no 0/o, 1/l/i). */
const CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
const CODE_LENGTH = 10;

export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** The two keys of one side after adoption: what it reads with, what it writes with. */
export interface SessionKeys {
  rx: Uint8Array;
  tx: Uint8Array;
}

export async function newKeyPair(): Promise<KeyPair> {
  const sodium = await getSodium();
  const pair = sodium.crypto_kx_keypair();
  return { publicKey: pair.publicKey, secretKey: pair.privateKey };
}

/** A join code: 10 characters (about 50 bits), shown as `abcde-fghjk`. */
export async function newJoinCode(): Promise<string> {
  const sodium = await getSodium();
  let code = "";
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[sodium.randombytes_uniform(CODE_ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** The code as typed: case, spaces and dashes do not matter. */
export function normaliseCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, "");
}

export async function newSalt(): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.randombytes_buf(sodium.crypto_pwhash_SALTBYTES);
}

/** The key the join code stands for (Argon2id, libsodium's interactive limits: ~0.3 s here, ~1-2 s on a Pi 4). */
export async function codeKey(code: string, salt: Uint8Array): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.crypto_pwhash(sodium.crypto_auth_KEYBYTES, normaliseCode(code), salt, sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE, sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE, sodium.crypto_pwhash_ALG_ARGON2ID13);
}

function joined(...parts: (string | Uint8Array)[]): Uint8Array {
  const bytes = parts.map((p) => (typeof p === "string" ? new TextEncoder().encode(p) : p));
  // Each part is preceded by its length, so no two different lists join to the same bytes.
  const out = new Uint8Array(bytes.reduce((n, b) => n + 4 + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    new DataView(out.buffer).setUint32(at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

export interface JoinFacts {
  id: string;
  site: string;
  publicKey: Uint8Array;
  salt: Uint8Array;
}

export async function joinTag(key: Uint8Array, facts: JoinFacts): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.crypto_auth(joined("vigil-satellite-join-v1", facts.id, facts.site, facts.publicKey, facts.salt), key);
}

export interface AdoptFacts {
  id: string;
  satelliteKey: Uint8Array;
  hubId: string;
  hubKey: Uint8Array;
}

export async function adoptTag(key: Uint8Array, facts: AdoptFacts): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.crypto_auth(joined("vigil-satellite-adopt-v1", facts.id, facts.satelliteKey, facts.hubId, facts.hubKey), key);
}

/** Constant-time comparison of a tag received with the one computed. */
export async function sameTag(a: Uint8Array, b: Uint8Array): Promise<boolean> {
  const sodium = await getSodium();
  return a.length === b.length && sodium.memcmp(a, b);
}

/** The session keys: the satellite is crypto_kx's client, the hub its server. */
export async function sessionKeys(role: "hub" | "satellite", own: KeyPair, peerPublicKey: Uint8Array): Promise<SessionKeys> {
  const sodium = await getSodium();
  const keys = role === "satellite" ? sodium.crypto_kx_client_session_keys(own.publicKey, own.secretKey, peerPublicKey) : sodium.crypto_kx_server_session_keys(own.publicKey, own.secretKey, peerPublicKey);
  return { rx: keys.sharedRx, tx: keys.sharedTx };
}

function associated(header: Uint8Array, satelliteId: string, direction: "up" | "down"): Uint8Array {
  const context = new TextEncoder().encode(`vigil-satellite-v1/${satelliteId}/${direction}`);
  const out = new Uint8Array(header.length + context.length);
  out.set(header, 0);
  out.set(context, header.length);
  return out;
}

/** header ‖ nonce ‖ XChaCha20-Poly1305(body). */
export async function sealMessage(key: Uint8Array, header: Header, satelliteId: string, direction: "up" | "down", body: Uint8Array): Promise<Uint8Array> {
  const sodium = await getSodium();
  const head = encodeHeader(header);
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const cipher = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(body, associated(head, satelliteId, direction), null, nonce, key);
  const out = new Uint8Array(HEADER_BYTES + NONCE_BYTES + cipher.length);
  out.set(head, 0);
  out.set(nonce, HEADER_BYTES);
  out.set(cipher, HEADER_BYTES + NONCE_BYTES);
  return out;
}

/** The header and body of a sealed message; undefined when it is not one sealed with this key for this satellite and direction. */
export async function openMessage(key: Uint8Array, wire: Uint8Array, satelliteId: string, direction: "up" | "down"): Promise<{ header: Header; body: Uint8Array } | undefined> {
  if (wire.length < HEADER_BYTES + NONCE_BYTES + MAC_BYTES) return undefined;
  const header = decodeHeader(wire);
  if (!header) return undefined;
  const sodium = await getSodium();
  try {
    const body = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, wire.subarray(HEADER_BYTES + NONCE_BYTES), associated(wire.subarray(0, HEADER_BYTES), satelliteId, direction), wire.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES), key);
    return { header, body };
  } catch {
    return undefined;
  }
}

export const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
export const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));
