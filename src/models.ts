/**
 * Detector weights: listed in models/manifest.json, never committed. `ensureModel`
 * puts a model into the models directory from a local mirror (a folder such as
 * ../shared/models) or else from its upstream URL, and verifies its SHA-256
 * either way; a file that does not match is never installed.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import * as v from "valibot";
import { PROJECT_ROOT } from "./env.js";
import { ModelError } from "./errors.js";

const ModelEntry = v.object({
  name: v.string(),
  file: v.pipe(v.string(), v.regex(/^[\w.-]+\.onnx$/)),
  format: v.picklist(["yolox", "picodet"]),
  inputSize: v.number(),
  bytes: v.number(),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  mirrorPath: v.string(),
  url: v.pipe(v.string(), v.url()),
  license: v.string(),
  notes: v.optional(v.string()),
});
const Manifest = v.object({ default: v.string(), models: v.array(ModelEntry) });

export type ModelEntry = v.InferOutput<typeof ModelEntry>;
export type ModelManifest = v.InferOutput<typeof Manifest>;

export async function readManifest(file = path.join(PROJECT_ROOT, "models", "manifest.json")): Promise<ModelManifest> {
  return v.parse(Manifest, JSON.parse(await fs.readFile(file, "utf8")));
}

export function findModel(manifest: ModelManifest, name = manifest.default): ModelEntry {
  const entry = manifest.models.find((m) => m.name === name);
  if (!entry) throw new ModelError(`There is no model called ${name}; the models are ${manifest.models.map((m) => m.name).join(", ")}.`);
  return entry;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export type ModelState = { state: "ok"; path: string } | { state: "missing"; path: string } | { state: "mismatch"; path: string; actual: string };

/** Whether the model is installed and intact, without fetching it. */
export async function checkModel(entry: ModelEntry, modelsDir: string): Promise<ModelState> {
  const target = path.join(modelsDir, entry.file);
  try {
    await fs.access(target);
  } catch {
    return { state: "missing", path: target };
  }
  const actual = await sha256File(target);
  return actual === entry.sha256 ? { state: "ok", path: target } : { state: "mismatch", path: target, actual };
}

export interface EnsureModelOptions {
  modelsDir: string;
  /** Folder holding `<mirrorPath>`; tried before the network. */
  mirror?: string | undefined;
  /** Called as bytes arrive. `total` is 0 when unknown. */
  onProgress?: (done: number, total: number, source: "mirror" | "download") => void;
  fetchImpl?: typeof fetch;
  signal?: AbortSignal;
}

/** Installs a model if it is not already there and intact. Returns its path and where it came from. */
export async function ensureModel(entry: ModelEntry, options: EnsureModelOptions): Promise<{ path: string; source: "present" | "mirror" | "download" }> {
  const current = await checkModel(entry, options.modelsDir);
  if (current.state === "ok") return { path: current.path, source: "present" };
  await fs.mkdir(options.modelsDir, { recursive: true });
  const part = `${current.path}.part`;
  let source: "mirror" | "download";
  const mirrored = options.mirror ? path.join(options.mirror, entry.mirrorPath) : undefined;
  try {
    if (mirrored && (await fs.stat(mirrored).catch(() => undefined))) {
      source = "mirror";
      await copyWithProgress(Readable.toWeb(createReadStream(mirrored)) as ReadableStream<Uint8Array>, part, entry.bytes, (d, t) => options.onProgress?.(d, t, "mirror"));
    } else {
      source = "download";
      const response = await (options.fetchImpl ?? fetch)(entry.url, { signal: options.signal ?? null, redirect: "follow" }).catch((cause: unknown) => {
        throw new ModelError(`Could not download ${entry.name} from ${new URL(entry.url).host} (${(cause as Error).message}); copy model.onnx into ${options.modelsDir} as ${entry.file}, or set VIGIL_MODELS_MIRROR.`, { cause });
      });
      if (!response.ok || !response.body) throw new ModelError(`Downloading ${entry.name} failed with HTTP ${response.status}; set VIGIL_MODELS_MIRROR to a folder that has it.`);
      const total = Number(response.headers.get("content-length")) || entry.bytes;
      await copyWithProgress(response.body, part, total, (d, t) => options.onProgress?.(d, t, "download"));
    }
    const actual = await sha256File(part);
    if (actual !== entry.sha256) {
      throw new ModelError(`The ${source === "mirror" ? "mirrored" : "downloaded"} ${entry.name} does not match its checksum (sha256 ${actual.slice(0, 12)}…, expected ${entry.sha256.slice(0, 12)}…); it was not installed.`);
    }
    await fs.rename(part, current.path);
    return { path: current.path, source };
  } finally {
    await fs.rm(part, { force: true });
  }
}

async function copyWithProgress(body: ReadableStream<Uint8Array>, target: string, total: number, onProgress: (done: number, total: number) => void): Promise<void> {
  const handle = await fs.open(target, "w", 0o644);
  let done = 0;
  try {
    for await (const chunk of body) {
      await handle.write(chunk);
      done += chunk.length;
      onProgress(done, total);
    }
  } finally {
    await handle.close();
  }
}
