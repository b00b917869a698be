/**
 * `vigil events`: the event history from the machine itself. `list` shows it;
 * `export` decrypts chosen events (snapshots, clips, and an index with
 * checksums) into a folder for the police or an insurer. Export refuses a
 * folder inside the data directory, where plaintext must never be, and a
 * non-empty one, so nothing is overwritten. A damaged file is named, the rest
 * is still exported, and the exit code says it was incomplete.
 */
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { formatDuration } from "../domain/duration.js";
import { visitWhat } from "../domain/labels.js";
import type { Env } from "../env.js";
import { InputError, userMessage } from "../errors.js";
import { EventHistory, type HistoryEntry } from "../store/event-history.js";
import { acquireLock, type Retention, type Store } from "../store/index.js";
import { formatBytes } from "../store/retention.js";
import { progressBar } from "./progress.js";
import { formatTable } from "./table.js";
import { openStoreFromEnv } from "./unlock.js";

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

const UNITS: Record<string, number> = { m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A moment as a person types it: `2024-05-01` (local midnight), `2024-05-01T14:30`
 * (local), a full ISO time with zone, `today`, `yesterday`, or a span back from
 * now such as `30m`, `24h`, `7d`, `2w`.
 */
export function parseWhen(text: string, option: string, now = Date.now()): number {
  const t = text.trim().toLowerCase();
  const span = /^(\d{1,5})\s*([mhdw])$/.exec(t);
  if (span) return now - Number(span[1]) * UNITS[span[2]!]!;
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  if (t === "today") return midnight.getTime();
  if (t === "yesterday") return midnight.getTime() - UNITS.d!;
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (day) {
    const date = new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    if (date.getMonth() === Number(day[2]) - 1) return date.getTime();
  } else if (/^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}/.test(t)) {
    const parsed = Date.parse(text.trim().replace(" ", "T"));
    if (Number.isFinite(parsed)) return parsed;
  }
  throw new InputError(`${option} must be a date like 2024-05-01, a date and time like 2024-05-01T14:30, or a span back from now like 24h or 7d; "${text.slice(0, 40)}" is none of these.`);
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** `2024-05-01 14:32:05` in local time, and the same for file names. */
function localTime(ms: number, forFile = false): string {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return forFile ? `${date}_${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}` : `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function csvField(value: string | number | boolean | undefined): string {
  const text = value === undefined ? "" : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

interface Selection {
  since: number;
  until: number;
  camera?: string | undefined;
}

function select(history: EventHistory, options: { since?: string; until?: string; camera?: string }, defaultSince: number): { chosen: HistoryEntry[]; selection: Selection } {
  const since = options.since === undefined ? defaultSince : parseWhen(options.since, "--since");
  const until = options.until === undefined ? Infinity : parseWhen(options.until, "--until");
  if (until <= since) throw new InputError("--until must be later than --since.");
  const camera = options.camera?.trim().toLowerCase();
  const chosen = history.between(since, until).filter((e) => camera === undefined || e.cameraName.toLowerCase() === camera || e.cameraId === camera);
  return { chosen, selection: { since, until, camera } };
}

interface ExportedFile {
  file: string;
  bytes: number;
  sha256: string;
}

/** Decrypts the chosen events into `dir`. Returns what was written and the sentences for what could not be. */
export async function exportEvents(history: EventHistory, chosen: readonly HistoryEntry[], dir: string, selection: Selection, onProgress?: (done: number, total: number) => void): Promise<{ files: number; bytes: number; clips: number; problems: string[] }> {
  const used = new Set<string>();
  const problems: string[] = [];
  const index: Record<string, unknown>[] = [];
  const rows: string[] = ["time_local,time_utc,camera,label,score,motion_only,started_utc,ended_utc,snapshot,snapshot_sha256,clip,clip_seconds,clip_sha256,problem"];
  let files = 0;
  let bytes = 0;
  let clips = 0;
  const write = async (name: string, read: () => Promise<Buffer>, what: string, entry: HistoryEntry): Promise<ExportedFile | { error: string }> => {
    try {
      const data = await read();
      await fs.writeFile(path.join(dir, name), data, { mode: 0o600, flag: "wx" });
      files += 1;
      bytes += data.length;
      return { file: name, bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") };
    } catch (error) {
      const sentence = `The ${what} of the event from ${entry.cameraName} at ${localTime(entry.at)} was not exported: ${userMessage(error)}`;
      problems.push(sentence);
      return { error: userMessage(error) };
    }
  };
  for (const [i, entry] of chosen.entries()) {
    let base = `${localTime(entry.at, true)}_${entry.cameraName.replace(/[^\p{L}\p{N}_-]/gu, "_")}_${entry.motionOnly ? "motion" : entry.label.replace(/\s+/g, "-")}`;
    for (let n = 2; used.has(base); n++) base = `${base.replace(/-\d+$/, "")}-${n}`;
    used.add(base);
    const snapshot = await write(`${base}.jpg`, () => history.snapshot(entry.id), "picture", entry);
    const clip = entry.clip ? await write(`${base}.mp4`, () => history.clip(entry.id), "clip", entry) : undefined;
    if (clip && "file" in clip) clips += 1;
    const problem = ["error" in snapshot ? snapshot.error : "", clip && "error" in clip ? clip.error : ""].filter(Boolean).join(" ");
    index.push({
      id: entry.id,
      camera: entry.cameraName,
      label: entry.label,
      score: entry.score,
      box: entry.box,
      frame: { width: entry.frameWidth, height: entry.frameHeight },
      motionOnly: entry.motionOnly,
      at: new Date(entry.at).toISOString(),
      atLocal: localTime(entry.at),
      startedAt: new Date(entry.startedAt).toISOString(),
      endedAt: entry.endedAt === undefined ? undefined : new Date(entry.endedAt).toISOString(),
      counts: entry.counts,
      snapshot,
      clip: clip && entry.clip ? { ...clip, seconds: entry.clip.durationSeconds } : undefined,
    });
    const ok = (f: ExportedFile | { error: string } | undefined) => (f && "file" in f ? f : undefined);
    rows.push(
      [localTime(entry.at), new Date(entry.at).toISOString(), entry.cameraName, entry.label, entry.score.toFixed(2), entry.motionOnly, new Date(entry.startedAt).toISOString(), entry.endedAt === undefined ? "" : new Date(entry.endedAt).toISOString(), ok(snapshot)?.file, ok(snapshot)?.sha256, ok(clip)?.file, entry.clip?.durationSeconds, ok(clip)?.sha256, problem]
        .map(csvField)
        .join(","),
    );
    onProgress?.(i + 1, chosen.length);
  }
  const summary = {
    exportedAt: new Date().toISOString(),
    since: new Date(selection.since).toISOString(),
    until: Number.isFinite(selection.until) ? new Date(selection.until).toISOString() : undefined,
    camera: selection.camera,
    note: "Times are UTC (ISO 8601) and local (atLocal). sha256 is the checksum of each exported file.",
    events: index,
  };
  await fs.writeFile(path.join(dir, "index.json"), `${JSON.stringify(summary, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await fs.writeFile(path.join(dir, "index.csv"), `${rows.join("\n")}\n`, { mode: 0o600, flag: "wx" });
  return { files, bytes, clips, problems };
}

async function prepareTarget(dir: string, dataDir: string): Promise<string> {
  const target = path.resolve(dir);
  const data = path.resolve(dataDir);
  const relative = path.relative(data, target);
  if (relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative))) {
    throw new InputError(`Export to a folder outside the data directory (${data}): decrypted pictures and clips must not sit next to the encrypted store.`);
  }
  const existing = await fs.readdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    if (error.code === "ENOTDIR") throw new InputError(`${target} is a file; give a folder to export into.`);
    throw error;
  });
  if (existing.length > 0) throw new InputError(`${target} is not empty; export into a new or empty folder so nothing is overwritten.`);
  await fs.mkdir(target, { recursive: true, mode: 0o700 });
  return target;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** `20GB`, `500 MB`, `1.5gb`, `0` → bytes (1 GB = 1024³ bytes, as `df -h` counts). */
export function parseSize(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?$/i.exec(text.trim());
  if (!match) throw new InputError(`${option} must be a size like 500MB or 20GB (0 for no limit); "${text.slice(0, 40)}" is not one.`);
  return Math.round(Number(match[1]) * SIZE_UNITS[(match[2] ?? "b").toLowerCase()]!);
}

function describeRetention(r: Retention, store: Store): string {
  const perCamera = Object.entries(r.perCameraBytes)
    .filter(([, bytes]) => bytes > 0)
    .map(([id, bytes]) => `${store.cameras().find((c) => c.id === id)?.name ?? "a removed camera"} at most ${formatBytes(bytes)}`);
  return [
    `Events are kept ${r.maxAgeDays > 0 ? `${r.maxAgeDays} days` : "with no age limit"}`,
    r.maxBytes > 0 ? `at most ${formatBytes(r.maxBytes)} in all` : "with no size limit but the free-space floor",
    ...perCamera,
    `and Vigil always leaves ${formatBytes(r.minFreeBytes)} free on the data disk.`,
  ].join(", ");
}

interface RetentionOptions {
  maxAgeDays?: string;
  maxSize?: string;
  minFree?: string;
  camera?: string;
}

async function changeRetention(store: Store, dataDir: string, opts: RetentionOptions): Promise<void> {
  const patch: Partial<Retention> = {};
  if (opts.maxAgeDays !== undefined) {
    const days = Number(opts.maxAgeDays);
    if (!/^\d{1,5}$/.test(opts.maxAgeDays.trim()) || days > 36_500) throw new InputError(`--max-age-days must be a whole number of days from 0 (no limit) to 36500; "${opts.maxAgeDays.slice(0, 20)}" is not.`);
    patch.maxAgeDays = days;
  }
  if (opts.minFree !== undefined) patch.minFreeBytes = parseSize(opts.minFree, "--min-free");
  if (opts.maxSize !== undefined) {
    const bytes = parseSize(opts.maxSize, "--max-size");
    if (opts.camera) patch.perCameraBytes = { ...store.retention().perCameraBytes, [store.requireCamera(opts.camera).id]: bytes };
    else patch.maxBytes = bytes;
  } else if (opts.camera) throw new InputError("--camera goes with --max-size, the limit for that camera.");
  // A running Vigil holds the store in memory and would write over the change: refuse instead of losing it.
  const release = await acquireLock(dataDir);
  try {
    await store.setRetention(patch);
  } finally {
    await release();
  }
}

export function eventsCommand(getEnv: () => Env): Command {
  const events = new Command("events").description("the event history: list it, or export it for the police or an insurer");
  events
    .command("list")
    .description("list events, one per visit, and doors opening and closing (default: the last 24 hours)")
    .option("--since <when>", "from: 2024-05-01, 2024-05-01T14:30, 24h, 7d, today", "24h")
    .option("--until <when>", "up to (not including)")
    .option("--camera <name>", "one camera only")
    .action(async (opts: { since?: string; until?: string; camera?: string }) => {
      const env = getEnv();
      const history = await EventHistory.open((await openStoreFromEnv(env)).vault);
      const { chosen, selection } = select(history, opts, 0);
      // Doors have no camera: they are listed when no camera is asked for.
      const doors = selection.camera === undefined ? history.doorsBetween(selection.since, selection.until) : [];
      if (chosen.length === 0 && doors.length === 0) {
        out("No events in that time.");
        return;
      }
      const allDoors = history.doorsBetween(0);
      const openFor = (d: (typeof doors)[number]) => {
        if (d.state !== "open") return "-";
        const closed = allDoors.find((x) => x.sensorId === d.sensorId && x.at > d.at);
        return closed ? (closed.state === "closed" ? formatDuration(closed.at - d.at) : "-") : "still open";
      };
      const rows: { at: number; row: string[] }[] = [
        ...chosen.map((e) => ({ at: e.at, row: [localTime(e.at), e.cameraName, e.motionOnly ? "motion only" : visitWhat(e.label, e.counts), e.score.toFixed(2), e.endedAt === undefined ? "going on" : formatDuration(e.endedAt - e.startedAt), e.clip ? `${e.clip.durationSeconds.toFixed(1)} s` : "-", e.id] })),
        ...doors.map((d) => ({ at: d.at, row: [localTime(d.at), `${d.kind} ${d.sensorName}`, `${d.state === "open" ? "opened" : "closed"}${d.alerted ? " (alert)" : ""}`, "-", openFor(d), "-", d.id] })),
      ];
      out(formatTable(["time", "camera", "visit", "score", "lasted", "clip", "id"], rows.sort((a, b) => a.at - b.at).map((r) => r.row)));
    });
  events
    .command("export <dir>")
    .description("decrypt events (pictures, clips, index.json and index.csv with checksums) into a new folder DIR")
    .requiredOption("--since <when>", "from: 2024-05-01, 2024-05-01T14:30, 24h, 7d, today")
    .option("--until <when>", "up to (not including)")
    .option("--camera <name>", "one camera only")
    .action(async (dir: string, opts: { since: string; until?: string; camera?: string }) => {
      const env = getEnv();
      const history = await EventHistory.open((await openStoreFromEnv(env)).vault);
      const { chosen, selection } = select(history, opts, 0);
      if (chosen.length === 0) {
        out(`No events since ${localTime(selection.since)}${opts.camera ? ` from ${opts.camera}` : ""}; nothing was exported.`);
        return;
      }
      const target = await prepareTarget(dir, env.dataDir);
      const bar = progressBar("Exporting", { unit: "items" });
      let result;
      try {
        result = await exportEvents(history, chosen, target, selection, (done, total) => bar.update(done, total));
      } finally {
        bar.stop();
      }
      for (const problem of result.problems) err(problem);
      out(`Exported ${chosen.length} event${chosen.length === 1 ? "" : "s"} (${result.files - result.clips} pictures, ${result.clips} clips, ${formatBytes(result.bytes)}) to ${target}, with index.json and index.csv.`);
      if (result.problems.length) {
        err(`${result.problems.length} file${result.problems.length === 1 ? " was" : "s were"} damaged and could not be exported; everything else was.`);
        process.exitCode = 1;
      }
    });
  events
    .command("retention")
    .description("show how long and how much of the event history is kept; with options, change it (Vigil must be stopped)")
    .option("--max-age-days <days>", "delete events older than this (0: no age limit)")
    .option("--max-size <size>", "most space for all events, e.g. 20GB (0: no limit but --min-free); with --camera, for that camera")
    .option("--camera <name>", "the camera --max-size is for")
    .option("--min-free <size>", "free space always left on the data disk, e.g. 2GB")
    .action(async (opts: RetentionOptions) => {
      const env = getEnv();
      const store = await openStoreFromEnv(env);
      if (Object.values(opts).some((v) => v !== undefined)) await changeRetention(store, env.dataDir, opts);
      out(describeRetention(store.retention(), store));
    });
  return events;
}
