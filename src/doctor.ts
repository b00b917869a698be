/**
 * `vigil doctor`: one table of everything Vigil depends on, each with a fix when
 * it fails. Every check is independent and bounded in time, so one broken thing
 * never hides the others.
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Env } from "./env.js";
import { userMessage } from "./errors.js";
import { checkModel, findModel, readManifest } from "./models.js";
import { checkBroker } from "./mqtt/check.js";
import { redact } from "./redact.js";
import { streamKind, withCredentials } from "./domain/stream-url.js";
import { buildLeanDecoder, DECODER_PACKAGES, LEAN_DECODER } from "./pipeline/source/lean-decoder.js";
import { probeStream } from "./pipeline/source/probe.js";
import { probePicam } from "./pipeline/source/rpicam.js";
import type { Store } from "./store/index.js";

const run = promisify(execFile);

export interface Check {
  name: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do when it failed. */
  fix?: string;
  /** A problem that does not stop Vigil. */
  warning?: boolean;
}

/** `env`: the child's environment, whose PATH finds a bare `ffmpeg` (default: this process's). */
export async function checkFfmpeg(ffmpegPath: string, env?: NodeJS.ProcessEnv): Promise<Check> {
  try {
    const { stdout } = await run(ffmpegPath, ["-hide_banner", "-version"], { timeout: 10_000, env });
    const version = /ffmpeg version (\S+)/.exec(stdout)?.[1] ?? "unknown version";
    const major = Number(/^n?(\d+)/.exec(version)?.[1] ?? 0);
    if (major > 0 && major < 5) return { name: "ffmpeg", ok: false, detail: `ffmpeg ${version} is too old`, fix: "Install ffmpeg 5 or newer (Debian 12: sudo apt install ffmpeg)." };
    return { name: "ffmpeg", ok: true, detail: `ffmpeg ${version}` };
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    return { name: "ffmpeg", ok: false, detail: missing ? `${ffmpegPath} not found` : `${ffmpegPath} does not run`, fix: "Install it: sudo apt install ffmpeg (or set VIGIL_FFMPEG to its path)." };
  }
}

/** Vigil's own decoder (lean-decoder.ts), built here if it is missing: a warning without it, since ffmpeg decodes then. */
export async function checkDecoder(env?: NodeJS.ProcessEnv): Promise<Check> {
  const built = await buildLeanDecoder(env);
  if (built.ok) return { name: "decoder", ok: true, detail: `Vigil's own (${LEAN_DECODER})` };
  return { name: "decoder", ok: false, warning: true, detail: `ffmpeg decodes, at about twice the memory a camera: Vigil's own decoder cannot be built (${built.reason})`, fix: `Install what it needs: sudo apt install ${DECODER_PACKAGES.join(" ")}.` };
}

export async function checkFonts(env?: NodeJS.ProcessEnv): Promise<Check> {
  try {
    const { stdout } = await run("fc-list", [":", "family"], { timeout: 10_000, env });
    if (stdout.trim()) return { name: "fonts", ok: true, detail: `${stdout.trim().split("\n").length} font families` };
  } catch {
    // fc-list missing means no fontconfig, so no fonts either.
  }
  return { name: "fonts", ok: false, warning: true, detail: "no fonts installed: labels on snapshots would be empty boxes", fix: "Install one: sudo apt install fonts-dejavu-core." };
}

export async function checkModelFile(env: Env): Promise<Check> {
  try {
    const entry = findModel(await readManifest());
    const state = await checkModel(entry, env.modelsDir);
    if (state.state === "ok") return { name: "model", ok: true, detail: `${entry.name} (checksum ok)` };
    if (state.state === "missing") return { name: "model", ok: false, detail: `${entry.name} is missing from ${env.modelsDir}`, fix: "Fetch it: npm run models (or vigil models fetch)." };
    return { name: "model", ok: false, detail: `${state.path} does not match its checksum`, fix: `Delete ${state.path} and run npm run models.` };
  } catch (error) {
    return { name: "model", ok: false, detail: userMessage(error), fix: "Reinstall Vigil: models/manifest.json is damaged." };
  }
}

export async function checkTelegram(apiRoot: string, token: string, fetchImpl: typeof fetch = fetch): Promise<Check> {
  try {
    const response = await fetchImpl(`${apiRoot}/bot${token}/getMe`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json().catch(() => ({}))) as { ok?: boolean; result?: { username?: string } };
    if (response.status === 401 || response.status === 404) return { name: "telegram", ok: false, detail: "Telegram rejected the bot token", fix: "Create a new token with @BotFather, then run vigil init --force (or restore the right one)." };
    if (!body.ok) return { name: "telegram", ok: false, detail: `the Bot API answered HTTP ${response.status}`, fix: "Try again later; check https://t.me/BotNews for outages." };
    return { name: "telegram", ok: true, detail: `bot @${body.result?.username ?? "?"} reachable at ${new URL(apiRoot).host}` };
  } catch (error) {
    return { name: "telegram", ok: false, detail: `cannot reach ${new URL(apiRoot).host}: ${redact((error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message, [token])}`, fix: "Check this machine's internet connection and DNS." };
  }
}

/** The nearest folder that exists at or above `dir` (the data dir may not exist yet). */
async function existingAncestor(dir: string): Promise<string> {
  let current = path.resolve(dir);
  while (!(await fs.stat(current).catch(() => undefined)) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

export async function checkDisk(dataDir: string, minFreeBytes: number): Promise<Check> {
  try {
    const stat = await fs.statfs(await existingAncestor(dataDir));
    const free = stat.bavail * stat.bsize;
    const gib = (free / 1024 ** 3).toFixed(1);
    if (free < minFreeBytes) return { name: "disk", ok: false, detail: `${gib} GiB free on the data disk`, fix: `Free some space: Vigil keeps at least ${(minFreeBytes / 1024 ** 3).toFixed(1)} GiB free and will delete old events to do so.` };
    return { name: "disk", ok: true, detail: `${gib} GiB free` };
  } catch {
    return { name: "disk", ok: false, detail: `${dataDir} is not readable`, fix: `Create it or fix its permissions (VIGIL_DATA_DIR).` };
  }
}

export async function checkCameras(store: Store, ffmpegPath: string, rpicamPath?: string): Promise<Check[]> {
  return Promise.all(
    store.cameras().map(async (camera): Promise<Check> => {
      if (streamKind(camera.url) === "picam") return checkPicam(camera.name, camera.url, rpicamPath);
      try {
        const probe = await probeStream(withCredentials(camera.url, camera.username, camera.password), { camera: camera.name, transport: camera.settings.transport, ffmpegPath, timeoutMs: 15_000 });
        return { name: `camera ${camera.name}`, ok: true, detail: `${probe.width}x${probe.height}, first frame in ${(probe.firstFrameMs / 1000).toFixed(1)} s` };
      } catch (error) {
        return { name: `camera ${camera.name}`, ok: false, detail: userMessage(error), fix: "Check the camera is powered and on the network, and its URL and password (/cameras in the chat)." };
      }
    }),
  );
}

/** The Pi camera: rpicam-vid runs and gives a picture. A camera in use is only a warning: a running Vigil holds it. */
async function checkPicam(name: string, url: string, rpicamPath: string | undefined): Promise<Check> {
  try {
    const probe = await probePicam(url, { binary: rpicamPath });
    return { name: `camera ${name}`, ok: true, detail: `${probe.program}: first picture in ${(probe.firstPictureMs / 1000).toFixed(1)} s` };
  } catch (error) {
    const detail = userMessage(error);
    if (/in use by another program/.test(detail)) return { name: `camera ${name}`, ok: false, warning: true, detail, fix: "If Vigil is running, that is Vigil: stop it to check the camera." };
    const fix = /not installed|VIGIL_RPICAM/.test(detail) ? "Install rpicam-apps (sudo apt install rpicam-apps), or set VIGIL_RPICAM to the program." : "Check the camera's ribbon cable and that `rpicam-hello --list-cameras` lists it.";
    return { name: `camera ${name}`, ok: false, detail, fix };
  }
}

/** Runs every check. `openStore` failing is itself a row, and the checks that need the store are skipped. */
export async function runDoctor(env: Env, openStore: () => Promise<Store>): Promise<Check[]> {
  const ffmpeg = await checkFfmpeg(env.ffmpegPath);
  const checks: Check[] = [ffmpeg, await checkDecoder(), await checkFonts(), await checkModelFile(env)];
  let store: Store | undefined;
  try {
    store = await openStore();
    checks.push({ name: "store", ok: true, detail: `${env.dataDir} decrypts (${store.vault.method}), ${store.cameras().length} camera(s)` });
  } catch (error) {
    checks.push({ name: "store", ok: false, detail: userMessage(error), fix: "Follow the sentence before this; `vigil init` creates a store." });
  }
  if (store) {
    checks.push(await checkTelegram(env.telegramApiRoot, store.token()));
    if (ffmpeg.ok) checks.push(...(await checkCameras(store, env.ffmpegPath, env.rpicamPath)));
    else checks.push(...store.cameras().map((c) => ({ name: `camera ${c.name}`, ok: false, detail: "not checked: ffmpeg is missing", fix: "Install ffmpeg first." })));
    const mqtt = store.mqtt();
    if (mqtt) {
      const broker = await checkBroker(mqtt);
      checks.push({ name: "mqtt", ok: broker.ok, detail: broker.detail, ...(broker.ok ? {} : { fix: "Check that Mosquitto runs and listens on that address, and the user and password (`vigil mqtt set`)." }) });
    }
    checks.push(await checkDisk(env.dataDir, store.retention().minFreeBytes));
  } else {
    checks.push(await checkDisk(env.dataDir, 1024 ** 3));
  }
  return checks;
}
