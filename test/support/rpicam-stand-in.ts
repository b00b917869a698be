/**
 * Installs the rpicam-vid stand-in (rpicam-vid.js beside this file) as an
 * executable in a temp folder, showing `footage`, and reads what it did: each
 * run's start (the wall time of footage time 0) and end, from its run log, and
 * which ones are alive, from /proc. See rpicam-vid.js for what it mimics.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { childProcesses, type ChildInfo } from "./process-info.js";
import { tempDir } from "./tmp.js";

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "rpicam-vid.js");

export interface StandInRun {
  pid: number;
  argv: string[];
  /** Wall ms at which it wrote its first picture (footage time 0); undefined if it never did. */
  start?: number;
  /** Wall ms it ended, with its exit code or the signal that ended it; undefined while it runs. */
  end?: number;
  code?: number;
  signal?: string;
  stalledAt?: number;
}

export interface RpicamStandIn {
  /** The folder holding the executable (put it first on PATH to be found as `rpicam-vid`). */
  binDir: string;
  /** The executable's full path (what VIGIL_RPICAM would name). */
  binary: string;
  /** Every run so far, oldest first. */
  runs(): Promise<StandInRun[]>;
  /** The stand-ins alive now (children of this test process). */
  alive(): Promise<ChildInfo[]>;
  /** The running one stops sending pictures (`stall`) or fails (`exit`). */
  command(what: "stall" | "exit"): Promise<void>;
  /** How many cameras it finds: 0 is "no cameras available". */
  setCameras(count: number): Promise<void>;
}

/** The stand-in, installed under the name `name` (rpicam-vid, or the older libcamera-vid). */
export async function installRpicamStandIn(footage: string, name = "rpicam-vid"): Promise<RpicamStandIn> {
  const root = await tempDir("vigil-rpicam-");
  const binDir = path.join(root, "bin");
  const state = path.join(root, "state");
  await fs.mkdir(binDir);
  await fs.mkdir(state);
  const binary = path.join(binDir, name);
  // The environment is baked into the wrapper: whatever environment Vigil gives it, it shows this footage.
  // This very node, whatever PATH a test gives Vigil.
  await fs.writeFile(binary, `#!/bin/sh\nRPICAM_STANDIN_DIR='${state}' RPICAM_STANDIN_FOOTAGE='${footage}' exec '${process.execPath}' '${SCRIPT}' "$@"\n`, { mode: 0o755 });
  return {
    binDir,
    binary,
    async runs() {
      const text = await fs.readFile(path.join(state, "runs.jsonl"), "utf8").catch(() => "");
      const runs = new Map<number, StandInRun>();
      for (const line of text.split("\n").filter(Boolean)) {
        const entry = JSON.parse(line) as { pid: number; event: string; at: number; argv?: string[]; code?: number; signal?: string };
        const run = runs.get(entry.pid) ?? { pid: entry.pid, argv: entry.argv ?? [] };
        if (entry.event === "start") Object.assign(run, { start: entry.at, argv: entry.argv });
        if (entry.event === "stall") run.stalledAt = entry.at;
        if (entry.event === "exit") Object.assign(run, { end: entry.at, ...(entry.code !== undefined ? { code: entry.code } : {}), ...(entry.signal ? { signal: entry.signal } : {}) });
        runs.set(entry.pid, run);
      }
      return [...runs.values()];
    },
    async alive() {
      return (await childProcesses(process.pid)).filter((c) => c.argv[1] === SCRIPT && c.state !== "Z");
    },
    async command(what) {
      await fs.writeFile(path.join(state, "command"), what);
    },
    async setCameras(count) {
      await fs.writeFile(path.join(state, "cameras"), String(count));
    },
  };
}
