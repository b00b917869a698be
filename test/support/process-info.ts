/** What Linux says about a running process (/proc): its children, its open files, and its JSON log lines. */
import fs from "node:fs/promises";

export interface ChildInfo {
  pid: number;
  /** The command name (`ffmpeg`, `node`). */
  name: string;
  /** `R`, `S`, ...; `Z` is a zombie (exited, never waited for). */
  state: string;
  /** Its arguments, exactly as it was given them. */
  argv: string[];
}

/** The direct children of `parentPid`. */
export async function childProcesses(parentPid: number): Promise<ChildInfo[]> {
  const found: ChildInfo[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8");
      const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
      if (!match || Number(match[3]) !== parentPid) continue;
      const argv = (await fs.readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").slice(0, -1);
      found.push({ pid: Number(entry), name: match[1]!, state: match[2]!, argv });
    } catch {
      // It ended while we looked: not a child any more.
    }
  }
  return found;
}

/** How many file descriptors `pid` has open. */
export async function openFiles(pid: number): Promise<number> {
  return (await fs.readdir(`/proc/${pid}/fd`)).length;
}

/** Resident memory of `pid` in bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** The JSON lines of a pino log (what `vigil start` writes to stderr when it is not a terminal). */
export function logLines(output: string): ({ time: number; msg: string } & Record<string, unknown>)[] {
  return output.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      return [JSON.parse(line) as { time: number; msg: string } & Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
