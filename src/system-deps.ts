/**
 * Debian packages Vigil needs beside npm's, and those its tests need. `vigil
 * start` needs ffmpeg (decoding, clips) and a font (labels on snapshots; without
 * one sharp draws empty boxes); the tests also need a real RTSP server
 * (gst-rtsp-server through Python) and a real MQTT broker (Mosquitto). Each need
 * is judged by using it, not by asking dpkg: a package can be installed and
 * still not work (a PATH without /usr/sbin, a GStreamer element missing).
 * Whatever is missing is installed with apt-get when running as root; otherwise
 * one sentence names the `sudo apt-get install` line to run.
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ConfigError } from "./errors.js";
import { checkFfmpeg, checkFonts } from "./doctor.js";
import { buildLeanDecoder, DECODER_PACKAGES } from "./pipeline/source/lean-decoder.js";

const run = promisify(execFile);

/** Debian's Python, which has python3-gi (a pyenv or venv Python usually has not). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/** The children's environment (PATH decides which programs are found). */
export type ChildEnv = NodeJS.ProcessEnv;

/** Something needed from the system, how to tell it works, and the Debian packages that provide it. */
export interface SystemNeed {
  /** What it is, for the sentence that asks for it ("ffmpeg", "a font"). */
  name: string;
  packages: readonly string[];
  /** True when it works, found through `env`'s PATH. */
  works(env: ChildEnv): Promise<boolean>;
  /** False when installing the packages would not help (a VIGIL_FFMPEG pointing elsewhere). Default true. */
  installable?: boolean;
  /** When set, missing it is not fatal: this sentence is logged instead. */
  warning?: string;
}

/** Where Debian puts daemons such as mosquitto; not on an ordinary user's PATH. */
const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The first executable `program` on `env`'s PATH, then in the sbin folders; undefined when there is none. */
export function findProgram(program: string, env: ChildEnv): string | undefined {
  const dirs = [...(env.PATH ?? "").split(path.delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this folder; try the next.
    }
  }
  return undefined;
}

function ffmpegNeed(ffmpegPath: string): SystemNeed {
  return { name: "ffmpeg", packages: ["ffmpeg"], works: async (env) => (await checkFfmpeg(ffmpegPath, env)).ok, installable: ffmpegPath === "ffmpeg" };
}

/** Building Vigil's own decoder (lean-decoder.ts), which the check does when it is missing or stale. */
function decoderNeed(warning?: string): SystemNeed {
  return { name: "a C compiler and libavcodec's headers (for Vigil's own decoder)", packages: DECODER_PACKAGES, works: async (env) => (await buildLeanDecoder(env)).ok, ...(warning ? { warning } : {}) };
}

const FONT_PACKAGES = ["fonts-dejavu-core"];
const fontWorks = async (env: ChildEnv) => (await checkFonts(env)).ok;

/**
 * What `vigil start` needs. ffmpeg at `ffmpegPath` (VIGIL_FFMPEG); a font only for labels, and
 * its own decoder only to save memory (ffmpeg decodes without it), so their absence is a warning.
 */
export function runtimeNeeds(ffmpegPath: string): SystemNeed[] {
  return [
    ffmpegNeed(ffmpegPath),
    decoderNeed(`Vigil could not build its own decoder, so ffmpeg decodes every camera at about twice the memory: install what it needs with \`sudo apt-get install ${DECODER_PACKAGES.join(" ")}\` and start Vigil again.`),
    {
      name: "a font",
      packages: FONT_PACKAGES,
      works: fontWorks,
      warning: `No font is installed, so snapshot labels will be empty boxes: install one with \`sudo apt-get install ${FONT_PACKAGES.join(" ")}\`.`,
    },
  ];
}

/**
 * What test/support/rtsp-server.ts runs: rtsp_server.py under Debian's Python,
 * gst-rtsp-server through gi, and the elements of its launch line (udpsrc and
 * the RTP H.264 (de)payloaders are in -good, h264parse in -bad).
 */
const RTSP_SERVER_CHECK = `
import sys, gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
sys.exit(0 if all(Gst.ElementFactory.find(e) for e in ("udpsrc", "rtph264depay", "h264parse", "rtph264pay")) else 1)
`;

async function succeeds(file: string, args: string[], env: ChildEnv, accept: (stdout: string, code: number) => boolean = (_, code) => code === 0): Promise<boolean> {
  try {
    const { stdout } = await run(file, args, { env, timeout: 30_000 });
    return accept(stdout, 0);
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string };
    return typeof failed.code === "number" && accept(failed.stdout ?? "", failed.code);
  }
}

/** What `npm test` and `npm run test:faults` need (`.ci/run` relies on them installing it). */
export const TEST_NEEDS: readonly SystemNeed[] = [
  ffmpegNeed("ffmpeg"),
  decoderNeed(),
  { name: "a font", packages: FONT_PACKAGES, works: fontWorks },
  {
    name: "the GStreamer RTSP server",
    packages: ["gstreamer1.0-rtsp", "gir1.2-gst-rtsp-server-1.0", "python3-gi", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-bad"],
    works: (env) => succeeds(SYSTEM_PYTHON, ["-c", RTSP_SERVER_CHECK], env),
  },
  {
    name: "Mosquitto",
    packages: ["mosquitto"],
    // `mosquitto -h` prints its usage and exits with 3.
    works: async (env) => {
      const mosquitto = findProgram("mosquitto", env);
      return mosquitto !== undefined && succeeds(mosquitto, ["-h"], env, (stdout) => /^mosquitto version \d/m.test(stdout));
    },
  },
];

async function hasApt(env: ChildEnv): Promise<boolean> {
  return succeeds("apt-get", ["--version"], env);
}

function aptInstall(packages: readonly string[], env: ChildEnv, log: (line: string) => void): Promise<boolean> {
  log(`Installing ${packages.join(" ")} with apt-get (running as root)…`);
  const attempt = (args: string[]) =>
    new Promise<boolean>((resolve) => {
      const child = spawn("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env: { ...env, DEBIAN_FRONTEND: "noninteractive" } });
      child.on("error", () => resolve(false));
      child.on("exit", (code) => resolve(code === 0));
    });
  const install = ["install", "-y", "--no-install-recommends", ...packages];
  // A fresh machine (or container) may have no package lists yet: update once and try again.
  return attempt(install).then(async (ok) => ok || ((await attempt(["update"])) && attempt(install)));
}

function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

export interface EnsureOptions {
  /** Who needs them, starting the sentence: "Vigil needs", "The tests need". */
  who: string;
  /** The children's environment: PATH decides what is found. */
  env: ChildEnv;
  /** Whether to install with apt-get. Default: running as root. */
  isRoot?: boolean;
  /** Said after the apt-get line when not root, e.g. "(run as root, npm test installs them itself)". */
  hint?: string;
  /** Progress and warnings. */
  log: (line: string) => void;
}

/**
 * Makes sure every need works: installs the missing ones with apt-get when
 * running as root, then checks again. Throws a ConfigError whose message is one
 * sentence naming the `sudo apt-get install` line when a need still does not
 * work; a need with a `warning` is logged instead. Installs nothing when not root.
 */
export async function ensureSystemPackages(needs: readonly SystemNeed[], options: EnsureOptions): Promise<void> {
  const { env, log } = options;
  const broken = async (list: readonly SystemNeed[]) => (await Promise.all(list.map(async (need) => ((await need.works(env)) ? undefined : need)))).filter((need): need is SystemNeed => need !== undefined);
  let missing = await broken(needs);
  if (missing.length === 0) return;
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const installable = missing.filter((need) => need.installable !== false);
  let tried: readonly SystemNeed[] = [];
  if (isRoot && installable.length > 0 && (await hasApt(env))) {
    tried = installable;
    await aptInstall([...new Set(installable.flatMap((need) => need.packages))], env, log);
    missing = await broken(missing);
  }
  for (const need of missing) if (need.warning !== undefined) log(need.warning);
  const fatal = missing.filter((need) => need.warning === undefined);
  if (fatal.length === 0) return;
  const line = `sudo apt-get install ${[...new Set(fatal.flatMap((need) => need.packages))].join(" ")}`;
  const them = fatal.length > 1 || fatal[0]!.packages.length > 1 ? "them" : "it";
  throw new ConfigError(
    fatal.every((need) => tried.includes(need))
      ? `${options.who} ${listed(fatal.map((need) => need.name))}, and apt-get did not install ${them}: run \`${line}\` and read what it says.`
      : `${options.who} ${listed(fatal.map((need) => need.name))}: install ${them} with \`${line}\`${options.hint ? ` ${options.hint}` : ""}.`,
  );
}
