import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

/** A fresh directory under the OS temp dir, removed after the test file finishes. */
export async function tempDir(prefix = "vigil-test-"): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under `dir`, recursively. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out;
}

/** Files under `dir` whose bytes contain `needle` in clear (UTF-8, UTF-16LE, hex or base64). */
export async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const forms = [Buffer.from(needle, "utf8"), Buffer.from(needle, "utf16le"), Buffer.from(Buffer.from(needle).toString("hex")), Buffer.from(Buffer.from(needle).toString("base64").replace(/=+$/, ""))];
  const hits: string[] = [];
  for (const file of await listFiles(dir)) {
    const bytes = await fs.readFile(file);
    if (forms.some((form) => bytes.includes(form))) hits.push(file);
  }
  return hits;
}

/** Files under `dir` containing `bytes` anywhere (e.g. a JPEG's start, see jpegStart, or an MP4's `ftyp` in clear). */
export async function filesContainingBytes(dir: string, bytes: Buffer): Promise<string[]> {
  const hits: string[] = [];
  for (const file of await listFiles(dir)) if ((await fs.readFile(file)).includes(bytes)) hits.push(file);
  return hits;
}

/**
 * The first bytes of `jpeg` (start of image, then its first header or table: the same in
 * every JPEG of one encoder and size), to look for it in clear in files. 12 to 24 bytes, so
 * encrypted bytes never match by chance: FF D8 FF alone does, about once in every 16 MB of
 * ciphertext. Stops before any newline byte, so grep (which reads lines) can search for it too.
 */
export function jpegStart(jpeg: Buffer): Buffer {
  const head = jpeg.subarray(0, 24);
  const start = head.includes(0x0a) ? head.subarray(0, head.indexOf(0x0a)) : head;
  if (start[0] !== 0xff || start[1] !== 0xd8 || start.length < 12) throw new Error("not a JPEG, or one with a newline byte among its first 12: no needle that ciphertext cannot match by chance");
  return start;
}
