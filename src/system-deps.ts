/**
 * System packages Vigil needs beside npm's: ffmpeg (decoding, clips) and a font
 * (labels on snapshots; without one sharp draws empty boxes). `vigil start`
 * installs them with apt when it runs as root, or says in one sentence what to
 * install.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { ConfigError } from "./errors.js";
import { checkFfmpeg, checkFonts } from "./doctor.js";

const run = promisify(execFile);

async function hasApt(): Promise<boolean> {
  try {
    await run("apt-get", ["--version"], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function aptInstall(packages: string[], log: (line: string) => void): Promise<boolean> {
  log(`Installing ${packages.join(" and ")} with apt-get (running as root)…`);
  const attempt = (args: string[]) =>
    new Promise<boolean>((resolve) => {
      const child = spawn("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      child.on("error", () => resolve(false));
      child.on("exit", (code) => resolve(code === 0));
    });
  return attempt(["install", "-y", "--no-install-recommends", ...packages]).then(async (ok) => ok || ((await attempt(["update"])) && attempt(["install", "-y", "--no-install-recommends", ...packages])));
}

export async function ensureSystemPackages(ffmpegPath: string, log: (line: string) => void): Promise<void> {
  const missing: string[] = [];
  if (!(await checkFfmpeg(ffmpegPath)).ok) missing.push("ffmpeg");
  if (!(await checkFonts()).ok) missing.push("fonts-dejavu-core");
  if (missing.length === 0) return;
  const root = process.getuid?.() === 0;
  if (root && ffmpegPath === "ffmpeg" && (await hasApt()) && (await aptInstall(missing, log))) return;
  if (!missing.includes("ffmpeg")) {
    log("No font is installed, so snapshot labels will be empty boxes: install one with `sudo apt install fonts-dejavu-core`.");
    return;
  }
  throw new ConfigError(`Vigil needs ${missing.join(" and ")}: install ${missing.length > 1 ? "them" : "it"} with \`sudo apt install ${missing.join(" ")}\`.`);
}
