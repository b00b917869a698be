/**
 * The environment, parsed once. Nothing else in Vigil reads `process.env`: the CLI
 * calls {@link parseEnv} and passes the result down.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { isIPv4 } from "node:net";
import { isTimeZone, machineTimeZone, validateTimeZone } from "./domain/local-time.js";
import { ConfigError } from "./errors.js";
import { parseMulticastTarget, type MulticastTarget } from "./onvif/discovery.js";

/** The project root (the folder holding package.json), from src/ or dist/ alike. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const optionalString = v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)));
const THREADS_MESSAGE = "VIGIL_DETECTOR_THREADS must be a whole number from 1 to 16.";

const EnvSchema = v.object({
  /** Where the encrypted store, event history and media live. Default `./data`. */
  VIGIL_DATA_DIR: v.optional(v.pipe(v.string(), v.minLength(1)), "./data"),
  /** Unlocks a passphrase store (Argon2id). */
  VIGIL_PASSPHRASE: v.optional(v.string()),
  /** `vigil config rekey`: the new passphrase, when not asked on a terminal. */
  VIGIL_NEW_PASSPHRASE: v.optional(v.string()),
  /** Unlocks a key-file store: a file of 32 random bytes, mode 0600. */
  VIGIL_KEY_FILE: optionalString,
  /** Read by `vigil init` only; afterwards the token lives encrypted in the store. */
  VIGIL_BOT_TOKEN: optionalString,
  /** The Bot API server. Tests point it at a local stand-in. */
  VIGIL_TELEGRAM_API_ROOT: v.optional(v.pipe(v.string(), v.url("VIGIL_TELEGRAM_API_ROOT must be a URL such as https://api.telegram.org.")), "https://api.telegram.org"),
  /** A folder holding `<model>/model.onnx` copies (default ../shared/models when it exists). */
  VIGIL_MODELS_MIRROR: optionalString,
  /** Where fetched weights are kept. Default `<project>/models`. */
  VIGIL_MODELS_DIR: optionalString,
  /** The ffmpeg and ffprobe binaries. Default: found on PATH. */
  VIGIL_FFMPEG: v.optional(v.pipe(v.string(), v.minLength(1)), "ffmpeg"),
  VIGIL_FFPROBE: v.optional(v.pipe(v.string(), v.minLength(1)), "ffprobe"),
  /** The program that reads the Raspberry Pi camera. Default: rpicam-vid, else libcamera-vid (its name before bookworm), on PATH. */
  VIGIL_RPICAM: optionalString,
  /**
   * Detector worker threads: how many frames are analysed at once, each on one core
   * (one onnxruntime thread each). Default: one per core, at most 4
   * (pipeline/detect/detection-service.ts, defaultDetectorThreads).
   */
  VIGIL_DETECTOR_THREADS: v.optional(v.pipe(v.string(), v.regex(/^([1-9]|1[0-6])$/, THREADS_MESSAGE), v.transform(Number))),
  /** The IPv4 address of this machine the camera search goes out from. Default: every interface but loopback. */
  VIGIL_ONVIF_INTERFACE: v.optional(v.pipe(v.string(), v.trim(), v.check(isIPv4, "VIGIL_ONVIF_INTERFACE must be an IPv4 address of this machine, such as 192.168.1.10."))),
  /** The camera search's multicast group and port. Default 239.255.255.250:3702 (WS-Discovery). */
  VIGIL_ONVIF_MULTICAST: v.optional(v.pipe(v.string(), v.check(isMulticastTarget, "VIGIL_ONVIF_MULTICAST must be a multicast group and port, such as 239.255.255.250:3702."), v.transform(parseMulticastTarget))),
  /** Seconds the camera search listens (0.5 to 60; default 3); 0 switches the search in /addcamera off. */
  VIGIL_ONVIF_TIMEOUT: v.optional(v.pipe(v.string(), v.trim(), v.check(isSearchSeconds, "VIGIL_ONVIF_TIMEOUT must be seconds from 0.5 to 60, or 0 to switch the camera search off."), v.transform((s) => Math.round(Number(s) * 1000)))),
  /** The time zone of schedules, quiet hours and the times in the chat (IANA, e.g. Europe/London). Default: the machine's. */
  VIGIL_TZ: v.optional(v.pipe(v.string(), v.trim(), v.check(isTimeZone, "VIGIL_TZ must be an IANA time zone such as Europe/London or America/New_York."))),
  /** Seconds without a word from a satellite before the chat is told it is silent (10 to 3600; default 45). */
  VIGIL_SATELLITE_SILENT_AFTER: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^\d{2,4}$/, "VIGIL_SATELLITE_SILENT_AFTER must be whole seconds from 10 to 3600."), v.transform(Number), v.minValue(10, "VIGIL_SATELLITE_SILENT_AFTER must be whole seconds from 10 to 3600."), v.maxValue(3600, "VIGIL_SATELLITE_SILENT_AFTER must be whole seconds from 10 to 3600."))),
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  VIGIL_LOG_LEVEL: v.optional(v.picklist(["fatal", "error", "warn", "info", "debug", "trace", "silent"]), "info"),
});

function isSearchSeconds(value: string): boolean {
  const seconds = Number(value);
  return /^\d+(\.\d+)?$/.test(value) && (seconds === 0 || (seconds >= 0.5 && seconds <= 60));
}

function isMulticastTarget(value: string): boolean {
  try {
    parseMulticastTarget(value);
    return true;
  } catch {
    return false;
  }
}

export interface Env {
  dataDir: string;
  passphrase: string | undefined;
  newPassphrase: string | undefined;
  keyFile: string | undefined;
  botToken: string | undefined;
  telegramApiRoot: string;
  modelsMirror: string | undefined;
  modelsDir: string;
  ffmpegPath: string;
  ffprobePath: string;
  /** The program reading a `picam:N` camera (VIGIL_RPICAM); undefined: rpicam-vid, else libcamera-vid, on PATH. */
  rpicamPath: string | undefined;
  /** Detector worker threads (VIGIL_DETECTOR_THREADS); undefined: the pipeline's default, one per core up to 4. */
  detectorThreads: number | undefined;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** The time zone of schedules, quiet hours and the chat's times (VIGIL_TZ, else the machine's). */
  timeZone: string;
  /**
   * The ONVIF camera search: the local address it goes out from (undefined: every interface), the
   * group (undefined: WS-Discovery's) and how long it listens (undefined: 3 s; 0: /addcamera does not search).
   */
  onvif: { interfaceAddress: string | undefined; multicast: MulticastTarget | undefined; timeoutMs: number | undefined };
  /** A satellite not heard from this long is silent (VIGIL_SATELLITE_SILENT_AFTER); undefined: 45 s. */
  satelliteSilentAfterMs: number | undefined;
  /** Set by systemd for `Type=notify` units (NOTIFY_SOCKET, WATCHDOG_USEC). */
  systemd: { notifySocket: string | undefined; watchdogMs: number | undefined };
}

/** Validates the environment; a bad value is a {@link ConfigError} naming the variable. */
export function parseEnv(source: Record<string, string | undefined>, cwd = process.cwd()): Env {
  const picked = Object.fromEntries(Object.entries(source).filter(([k, val]) => k.startsWith("VIGIL_") && val !== ""));
  const result = v.safeParse(EnvSchema, picked);
  if (!result.success) {
    const issue = result.issues[0];
    const key = issue.path?.[0]?.key;
    const name = typeof key === "string" ? key : "environment";
    throw new ConfigError(issue.message.startsWith("VIGIL_") ? issue.message : `${name} is not valid: ${issue.message}.`, name);
  }
  const e = result.output;
  const defaultMirror = path.resolve(PROJECT_ROOT, "..", "shared", "models");
  return {
    dataDir: path.resolve(cwd, e.VIGIL_DATA_DIR),
    passphrase: e.VIGIL_PASSPHRASE,
    newPassphrase: e.VIGIL_NEW_PASSPHRASE,
    keyFile: e.VIGIL_KEY_FILE ? path.resolve(cwd, e.VIGIL_KEY_FILE) : undefined,
    botToken: e.VIGIL_BOT_TOKEN,
    telegramApiRoot: e.VIGIL_TELEGRAM_API_ROOT.replace(/\/+$/, ""),
    modelsMirror: e.VIGIL_MODELS_MIRROR ? path.resolve(cwd, e.VIGIL_MODELS_MIRROR) : existsSync(defaultMirror) ? defaultMirror : undefined,
    modelsDir: e.VIGIL_MODELS_DIR ? path.resolve(cwd, e.VIGIL_MODELS_DIR) : path.join(PROJECT_ROOT, "models"),
    ffmpegPath: e.VIGIL_FFMPEG,
    ffprobePath: e.VIGIL_FFPROBE,
    rpicamPath: e.VIGIL_RPICAM,
    detectorThreads: e.VIGIL_DETECTOR_THREADS,
    logLevel: e.VIGIL_LOG_LEVEL,
    timeZone: e.VIGIL_TZ ? validateTimeZone(e.VIGIL_TZ) : machineTimeZone(),
    onvif: { interfaceAddress: e.VIGIL_ONVIF_INTERFACE, multicast: e.VIGIL_ONVIF_MULTICAST, timeoutMs: e.VIGIL_ONVIF_TIMEOUT },
    satelliteSilentAfterMs: e.VIGIL_SATELLITE_SILENT_AFTER === undefined ? undefined : e.VIGIL_SATELLITE_SILENT_AFTER * 1000,
    systemd: {
      notifySocket: source.NOTIFY_SOCKET || undefined,
      watchdogMs: Number(source.WATCHDOG_USEC) > 0 ? Number(source.WATCHDOG_USEC) / 1000 : undefined,
    },
  };
}
