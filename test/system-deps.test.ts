/**
 * The system packages check that `npm test` runs first (and `vigil start` with its own
 * list). A machine without a package is made by a PATH that does not reach it; an
 * `apt-get` early on that PATH only records that it was run, so nothing is installed.
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/errors.js";
import { ensureSystemPackages, runtimeNeeds, TEST_NEEDS } from "../src/system-deps.js";
import { ROOT } from "./support/cli.js";
import { tempDir } from "./support/tmp.js";

/** A folder for PATH holding an `apt-get` that appends its arguments to `calls` and succeeds, as apt-get does when nothing is left to install. */
async function aptRecorder(): Promise<{ bin: string; calls: () => Promise<string[]> }> {
  const bin = await tempDir("vigil-path-");
  const log = path.join(bin, "apt-get.calls");
  await fs.writeFile(path.join(bin, "apt-get"), `#!/bin/sh\necho "$*" >> '${log}'\nexit 0\n`, { mode: 0o755 });
  return { bin, calls: async () => (await fs.readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean) };
}

const TESTS = { who: "The tests need", hint: "(run as root, npm test installs them itself)" };

describe("the system packages the tests need", () => {
  it("off root, without ffmpeg and fonts on PATH, stops with one sentence naming the apt-get line and installs nothing", async () => {
    const apt = await aptRecorder();
    const logged: string[] = [];
    const error = await ensureSystemPackages(TEST_NEEDS, { ...TESTS, env: { PATH: apt.bin }, isRoot: false, log: (line) => logged.push(line) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    // Mosquitto is still found in /usr/sbin and the RTSP server runs under /usr/bin/python3 whatever the PATH.
    expect((error as Error).message).toBe("The tests need ffmpeg and a font: install them with `sudo apt-get install ffmpeg fonts-dejavu-core` (run as root, npm test installs them itself).");
    expect(await apt.calls()).toEqual([]);
    expect(logged).toEqual([]);
  });

  it("off root, with no GStreamer plugin within reach, names the RTSP server's packages", async () => {
    const apt = await aptRecorder();
    const noPlugins = await tempDir("vigil-gst-");
    const env = { ...process.env, PATH: `${apt.bin}${path.delimiter}${process.env.PATH ?? ""}`, GST_PLUGIN_SYSTEM_PATH_1_0: noPlugins, GST_PLUGIN_PATH_1_0: noPlugins, GST_REGISTRY_1_0: path.join(noPlugins, "registry.bin") };
    const error = await ensureSystemPackages(TEST_NEEDS, { ...TESTS, env, isRoot: false, log: () => undefined }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      "The tests need the GStreamer RTSP server: install them with `sudo apt-get install gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad` (run as root, npm test installs them itself).",
    );
    expect(await apt.calls()).toEqual([]);
  });

  it("as root, installs what is missing with apt-get, checks again, and says so in one sentence when it still does not work", async () => {
    const apt = await aptRecorder();
    const logged: string[] = [];
    const error = await ensureSystemPackages(TEST_NEEDS, { ...TESTS, env: { PATH: apt.bin }, isRoot: true, log: (line) => logged.push(line) }).catch((e: unknown) => e);
    expect(await apt.calls()).toEqual(["--version", "install -y --no-install-recommends ffmpeg fonts-dejavu-core"]);
    expect(logged).toEqual(["Installing ffmpeg fonts-dejavu-core with apt-get (running as root)…"]);
    expect((error as Error).message).toBe("The tests need ffmpeg and a font, and apt-get did not install them: run `sudo apt-get install ffmpeg fonts-dejavu-core` and read what it says.");
  });

  it("on this machine, where everything is installed, finds every need and runs no apt-get", async () => {
    const apt = await aptRecorder();
    const env = { ...process.env, PATH: `${apt.bin}${path.delimiter}${process.env.PATH ?? ""}` };
    await ensureSystemPackages(TEST_NEEDS, { ...TESTS, env, isRoot: true, log: () => undefined });
    expect(await apt.calls()).toEqual([]);
  });

  it("`npm test`'s first step, run as a command with ffmpeg out of reach, prints the sentence and exits 1", async () => {
    const apt = await aptRecorder();
    await fs.symlink(process.execPath, path.join(apt.bin, "node"));
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test", "support", "system-packages.ts")], { cwd: ROOT, env: { HOME: process.env.HOME, PATH: apt.bin }, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("exit", (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(1);
    // As root, apt-get is asked first (the recorder installs nothing), and the sentence says it did not help.
    expect(result.stderr.trim().split("\n").at(-1)).toBe(
      process.getuid?.() === 0
        ? "The tests need ffmpeg and a font, and apt-get did not install them: run `sudo apt-get install ffmpeg fonts-dejavu-core` and read what it says."
        : "The tests need ffmpeg and a font: install them with `sudo apt-get install ffmpeg fonts-dejavu-core` (run as root, npm test installs them itself).",
    );
  });
});

describe("the system packages `vigil start` needs", () => {
  it("without a font, warns in one sentence and goes on; without ffmpeg, stops with one sentence", async () => {
    const apt = await aptRecorder();
    const logged: string[] = [];
    const error = await ensureSystemPackages(runtimeNeeds("ffmpeg"), { who: "Vigil needs", env: { PATH: apt.bin }, isRoot: false, log: (line) => logged.push(line) }).catch((e: unknown) => e);
    expect(logged).toEqual(["No font is installed, so snapshot labels will be empty boxes: install one with `sudo apt-get install fonts-dejavu-core`."]);
    expect((error as Error).message).toBe("Vigil needs ffmpeg: install it with `sudo apt-get install ffmpeg`.");
    expect(await apt.calls()).toEqual([]);
  });
});
