/**
 * Vigil's own decoder for fed cameras (vigil-decode.c): libavcodec and
 * libswscale in a program of under 200 lines, in place of the ffmpeg program,
 * which links 215 libraries to this one's 98 (libavformat, libavfilter,
 * libavdevice and what they link), mapped again for every camera. It is built from source on the machine
 * that runs it, against Debian's libavcodec, so it is the same decoder as
 * ffmpeg's and needs no binary in the repository. When it cannot be built (no C
 * compiler, no headers), ffmpeg decodes instead: Vigil works the same, with
 * twice the memory a camera (docs/performance.md).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../env.js";
import { isExecutable } from "./ffmpeg-child.js";

const run = promisify(execFile);

/** What building it needs on Debian. */
export const DECODER_PACKAGES = Object.freeze(["gcc", "libc6-dev", "pkgconf", "libavcodec-dev", "libswscale-dev"]);

const SOURCES = ["vigil-decode.c", "build-decoder.sh"].map((name) => path.join(PROJECT_ROOT, "src/pipeline/source", name));
/** Where it is built: beside the compiled JavaScript, which the Dockerfile copies. */
export const LEAN_DECODER = path.join(PROJECT_ROOT, "dist/vigil-decode");

const modified = (file: string) => fs.promises.stat(file).then((stat) => stat.mtimeMs, () => undefined);
/** Built, and not older than its source (a copy without its source, as in the Docker image, counts as current). */
const current = (built: number | undefined, sources: (number | undefined)[]) => built !== undefined && sources.every((time) => time === undefined || time <= built);

/**
 * The built decoder, or undefined when there is none or it is older than its
 * source (one that could not be rebuilt after an update may not take this
 * version's arguments): ffmpeg decodes then.
 */
export function leanDecoder(): string | undefined {
  const time = (file: string) => fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs;
  return isExecutable(LEAN_DECODER) && current(time(LEAN_DECODER), SOURCES.map(time)) ? LEAN_DECODER : undefined;
}

/**
 * Builds the decoder when it is missing or older than its source (about a
 * second); a built one without its source (the Docker image) is kept. Gives the
 * reason, one clause from the compiler's first line, when it cannot be built.
 */
export async function buildLeanDecoder(env: NodeJS.ProcessEnv = process.env, out = LEAN_DECODER): Promise<{ ok: true } | { ok: false; reason: string }> {
  const sources = await Promise.all(SOURCES.map(modified));
  if (current(await modified(out), sources)) return { ok: true };
  if (sources.some((time) => time === undefined)) return { ok: false, reason: "its source is missing" };
  try {
    await fs.promises.mkdir(path.dirname(out), { recursive: true });
    await run("/bin/sh", [SOURCES[1]!, out], { env, timeout: 120_000 });
    return { ok: true };
  } catch (error) {
    const failed = error as { stderr?: string; message: string };
    const line = (failed.stderr ?? "").split("\n").find((text) => text.trim()) ?? failed.message;
    return { ok: false, reason: line.trim().replace(/\.$/, "") };
  }
}
