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
  /** When it started, in clock ticks since boot: with the pid, it names this process and no later one given the same pid. */
  startTime: number;
}

/** The fields of /proc/PID/stat: [pid, comm, state, ppid, ..., starttime (index 21), ...]. */
function statFields(stat: string): string[] | undefined {
  const match = /^(\d+) \((.*)\) (.*)$/s.exec(stat.trimEnd());
  return match ? [match[1]!, match[2]!, ...match[3]!.split(" ")] : undefined;
}

/** The direct children of `parentPid`. */
/** A camera's decoder: Vigil's own (lean-decoder.ts), or ffmpeg decoding to raw frames. */
export const isDecoder = (child: ChildInfo) => child.name === "vigil-decode" || (child.name === "ffmpeg" && child.argv.includes("rawvideo"));

export async function childProcesses(parentPid: number): Promise<ChildInfo[]> {
  const found: ChildInfo[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(await fs.readFile(`/proc/${entry}/stat`, "utf8"));
      if (!fields || Number(fields[3]) !== parentPid) continue;
      const argv = (await fs.readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").slice(0, -1);
      found.push({ pid: Number(entry), name: fields[1]!, state: fields[2]!, argv, startTime: Number(fields[21]) });
    } catch {
      // It ended while we looked: not a child any more.
    }
  }
  return found;
}

/**
 * Whether `child` is still there, running or as a zombie (exited, not yet waited for):
 * the same pid with the same start time, so a pid the kernel has given to a new process
 * since does not count.
 */
export async function stillThere(child: ChildInfo): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${child.pid}/stat`, "utf8").catch(() => undefined);
  const fields = stat === undefined ? undefined : statFields(stat);
  return fields !== undefined && Number(fields[21]) === child.startTime;
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
