/**
 * CPU and memory of processes, from /proc (Linux), for the benchmarks: what a
 * process tree used over a window, counting children that ended in it.
 */
import fs from "node:fs/promises";

/** USER_HZ: /proc reports CPU time in ticks of 1/100 s on Linux. */
const TICKS = 100;
const PAGE_BYTES = 4096;

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** user + system CPU seconds of the process itself (all its threads). */
  cpuSeconds: number;
  /** CPU seconds of its children that ended and were reaped. */
  reapedChildrenSeconds: number;
  rssBytes: number;
}

export async function readStat(pid: number): Promise<ProcStat | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!stat) return undefined;
  const close = stat.lastIndexOf(")");
  // Fields after the command name, from field 3 (state): see proc(5).
  const f = stat.slice(close + 2).split(" ").map(Number);
  return { pid, ppid: f[1]!, comm: stat.slice(stat.indexOf("(") + 1, close), cpuSeconds: (f[11]! + f[12]!) / TICKS, reapedChildrenSeconds: (f[13]! + f[14]!) / TICKS, rssBytes: f[21]! * PAGE_BYTES };
}

export async function allStats(): Promise<ProcStat[]> {
  const pids = (await fs.readdir("/proc")).filter((e) => /^\d+$/.test(e)).map(Number);
  return (await Promise.all(pids.map(readStat))).filter((s): s is ProcStat => s !== undefined);
}

export async function commandLine(pid: number): Promise<string> {
  return (await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ");
}

/** `root` and every process below it. */
export function descendants(root: number, stats: readonly ProcStat[]): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const queue = stats.filter((s) => s.pid === root);
  while (queue.length) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(byParent.get(next.pid) ?? []));
  }
  return out;
}

/**
 * Proportional set size: the process's private pages plus its share of the pages it
 * shares (each ffmpeg maps the same ~35 MB of libraries, which RSS counts again
 * for every process and the machine holds once). 0 when unreadable.
 */
export async function readPss(pid: number): Promise<number> {
  const rollup = await fs.readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
  const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

export interface Usage {
  /** CPU seconds so far, children that already ended included. */
  cpuSeconds: number;
  rssBytes: number;
  /** Only from {@link treeUsage} with `pss`. */
  pssBytes?: number;
  processes: number;
  /** CPU seconds by role, when asked for (`ended` holds children that ended: they can no longer be told apart). */
  byRole?: Record<string, number>;
  /** RSS bytes of the live processes by role, alongside `byRole`. */
  rssByRole?: Record<string, number>;
}

/**
 * A process tree's usage: its own CPU, its live descendants', and what its ended
 * children left in its counters. `role` sorts processes (by their command line) for `byRole`.
 */
export async function treeUsage(root: number, role?: (stat: ProcStat, commandLine: string) => string, options: { pss?: boolean } = {}): Promise<Usage> {
  const tree = descendants(root, await allStats());
  const usage: Usage = {
    cpuSeconds: tree.reduce((sum, s) => sum + s.cpuSeconds + s.reapedChildrenSeconds, 0),
    rssBytes: tree.reduce((sum, s) => sum + s.rssBytes, 0),
    processes: tree.length,
  };
  if (options.pss) usage.pssBytes = (await Promise.all(tree.map((s) => readPss(s.pid)))).reduce((sum, b) => sum + b, 0);
  if (role) {
    const byRole: Record<string, number> = {};
    const rssByRole: Record<string, number> = {};
    for (const s of tree) {
      const name = role(s, await commandLine(s.pid));
      byRole[name] = (byRole[name] ?? 0) + s.cpuSeconds;
      byRole.ended = (byRole.ended ?? 0) + s.reapedChildrenSeconds;
      rssByRole[name] = (rssByRole[name] ?? 0) + s.rssBytes;
    }
    usage.byRole = byRole;
    usage.rssByRole = rssByRole;
  }
  return usage;
}

/** The usage of a set of processes (found again at each reading: some may end, others start). */
export async function groupUsage(select: (s: ProcStat) => boolean | Promise<boolean>): Promise<Usage> {
  const picked: ProcStat[] = [];
  for (const s of await allStats()) if (await select(s)) picked.push(s);
  return { cpuSeconds: picked.reduce((sum, s) => sum + s.cpuSeconds, 0), rssBytes: picked.reduce((sum, s) => sum + s.rssBytes, 0), processes: picked.length };
}

/** Percent of one core between two readings `seconds` apart. */
export function cpuPercent(before: Usage, after: Usage, seconds: number): number {
  return ((after.cpuSeconds - before.cpuSeconds) / seconds) * 100;
}
