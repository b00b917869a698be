/**
 * Schedules: "night from 23:00 to 07:00", "away on weekdays from 08:30 to
 * 17:00", and the same kind of window for quiet hours. Wall-clock times in
 * one time zone (the machine's, or VIGIL_TZ), so they follow daylight saving.
 *
 * Which mode is in force at time T is a pure function of the mode state (what
 * was last set, when and by whom), the schedules and T ({@link advanceMode}):
 *
 * - At the start of a window the schedule sets its mode, whoever set the one
 *   before: a mode set by hand holds until the next boundary, not longer.
 * - At its end the schedule goes back to the mode that was in force when the
 *   window started, but only if the mode is still the one the window set:
 *   when someone (or presence) changed it during the window, the end leaves
 *   their choice alone.
 * - A boundary before the schedule was added never counts: adding one does not
 *   rewrite the past, and a window that has already begun starts next time.
 * - Windows of different schedules never overlap (adding one that would is
 *   refused); two that touch end one and start the other at the same minute.
 * - Daylight saving (see local-time.ts): a start at 02:30 on the night the
 *   clocks jump forward happens once, at the jump; in the repeated hour of the
 *   autumn a boundary happens at its first occurrence only.
 */
import { InputError } from "../errors.js";
import { addDays, DAY_MS, instantOf, localDate, localTime, type LocalDate, type Weekday } from "./local-time.js";
import { parseMode, type Mode, type ModeChange, type ModeState } from "./modes.js";

/** A weekly window of wall-clock time. */
export interface TimeWindow {
  /** The days it starts on, Monday = 0, sorted. */
  days: Weekday[];
  /** Minutes after midnight it starts, 0 to 1439. */
  start: number;
  /** Minutes after midnight it ends, 0 to 1440; at or before `start`: the next day. */
  end: number;
}

export interface Schedule extends TimeWindow {
  id: string;
  mode: Mode;
  /** Epoch ms it was added: boundaries before then never count. */
  createdAt: number;
}

/** Most schedules kept: a week of windows for each mode is far fewer. */
export const MAX_SCHEDULES = 16;

const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const EVERY_DAY: Weekday[] = [0, 1, 2, 3, 4, 5, 6];
const DAY_WORDS: Record<string, Weekday[]> = {
  daily: EVERY_DAY,
  everyday: EVERY_DAY,
  weekdays: [0, 1, 2, 3, 4],
  weekday: [0, 1, 2, 3, 4],
  weekends: [5, 6],
  weekend: [5, 6],
};
const WEEK_MINUTES = 7 * 1440;

export const SCHEDULE_EXAMPLES = "/schedule night 23:00-07:00 or /schedule away mon-fri 08:30-17:00";

function truncate(text: string, max = 20): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

const FULL_DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/** `mon`, `Monday`, `tues`, `fridays` → the day. */
function parseDay(word: string): Weekday {
  const key = word.toLowerCase().replace(/days$/, "day");
  const index = FULL_DAY_NAMES.findIndex((full) => key.length >= 3 && full.startsWith(key));
  if (index < 0) throw new InputError(`"${truncate(word)}" is not a day; use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, weekdays or weekends.`);
  return index as Weekday;
}

/** `mon-fri`, `sat,sun`, `fri-mon`, `weekdays`, `daily` → the days, Monday first. */
export function parseDays(raw: string): Weekday[] {
  const text = raw.trim().toLowerCase();
  const days = new Set<Weekday>();
  for (const item of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const word = DAY_WORDS[item];
    if (word) {
      for (const d of word) days.add(d);
      continue;
    }
    const range = /^([a-z]+)-([a-z]+)$/.exec(item);
    if (range) {
      const from = parseDay(range[1]!);
      const to = parseDay(range[2]!);
      for (let d = from; ; d = ((d + 1) % 7) as Weekday) {
        days.add(d);
        if (d === to) break;
      }
      continue;
    }
    days.add(parseDay(item));
  }
  if (days.size === 0) throw new InputError("Give at least one day, for example mon-fri.");
  return [...days].sort((a, b) => a - b);
}

/** `23:00`, `7:30`, `7` → minutes after midnight; `24:00` only as an end. */
function parseClock(raw: string, end: boolean): number {
  const match = /^(\d{1,2})(?::(\d{2}))?$/.exec(raw);
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2] ?? 0);
  if (!match || minute > 59 || hour > 24 || (hour === 24 && (minute > 0 || !end))) {
    throw new InputError(`"${truncate(raw)}" is not a time; write times as 23:00 or 7:30, from 00:00 to 23:59 (24:00 for an end).`);
  }
  return hour * 60 + minute;
}

/**
 * `23:00-07:00`, `mon-fri 08:30-17:00`, `08:30-17:00 mon-fri`, `sat 9-12`: a
 * window (every day when no days are given). A window that ends at or before
 * its start ends the next day.
 */
export function parseWindow(raw: string): TimeWindow {
  const text = raw.trim().replace(/\s*-\s*(?=\d)/g, "-").replace(/\s+/g, " ");
  if (text === "") throw new InputError("Give the times, from-to, for example 23:00-07:00 or mon-fri 08:30-17:00.");
  let days: Weekday[] | undefined;
  let times: string | undefined;
  for (const word of text.split(" ")) {
    if (/^\d/.test(word)) {
      if (times !== undefined) throw new InputError("Give one from-to time, for example 23:00-07:00.");
      times = word;
    } else {
      if (days !== undefined) throw new InputError(`Give the days as one list without spaces, for example mon-fri or sat,sun.`);
      days = parseDays(word);
    }
  }
  if (times === undefined) throw new InputError("Give the times, from-to, for example 23:00-07:00 or mon-fri 08:30-17:00.");
  const match = /^([\d:]+)-([\d:]+)$/.exec(times);
  if (!match) throw new InputError(`"${truncate(times)}" is not a from-to time; write it as 23:00-07:00.`);
  const start = parseClock(match[1]!, false);
  const end = parseClock(match[2]!, true);
  if (start === end % 1440 && end !== 1440) throw new InputError("A window must end at another time than it starts; for all day, use /mode.");
  return { days: days ?? [...EVERY_DAY], start, end };
}

/** `/schedule night 23:00-07:00` arguments → the mode and its window. */
export function parseSchedule(raw: string): { mode: Mode; window: TimeWindow } {
  const [first = "", ...rest] = raw.trim().split(/\s+/);
  if (!first) throw new InputError(`Give a mode and its times, for example ${SCHEDULE_EXAMPLES}.`);
  const mode = parseMode(first);
  if (rest.length === 0) throw new InputError(`Give the times for ${mode}, for example ${SCHEDULE_EXAMPLES}.`);
  return { mode, window: parseWindow(rest.join(" ")) };
}

/** Minutes the window lasts. */
export function windowLength(w: Pick<TimeWindow, "start" | "end">): number {
  return w.end > w.start ? w.end - w.start : 1440 - w.start + w.end;
}

function clock(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

/** `mon-fri`, `sat,sun`, `mon,wed,fri`, `every day`. */
export function formatDays(days: readonly Weekday[]): string {
  if (days.length === 7) return "every day";
  const sorted = [...days].sort((a, b) => a - b);
  const runs: Weekday[][] = [];
  for (const d of sorted) {
    const run = runs.at(-1);
    if (run && run.at(-1) === d - 1) run.push(d);
    else runs.push([d]);
  }
  return runs.map((r) => (r.length >= 3 ? `${DAY_NAMES[r[0]!]}-${DAY_NAMES[r.at(-1)!]}` : r.map((d) => DAY_NAMES[d]).join(","))).join(",");
}

/** `23:00-07:00 every day`, `08:30-17:00 mon-fri`. */
export function formatWindow(w: TimeWindow): string {
  return `${clock(w.start)}-${clock(w.end)} ${formatDays(w.days)}`;
}

/** `night 23:00-07:00 every day`. */
export function formatSchedule(s: Pick<Schedule, "mode" | keyof TimeWindow>): string {
  return `${s.mode} ${formatWindow(s)}`;
}

/** The window's stretches of the week, in minutes from Monday 00:00 (each may run past the week's end). */
function weekIntervals(w: TimeWindow): [number, number][] {
  return w.days.map((d) => [d * 1440 + w.start, d * 1440 + w.start + windowLength(w)]);
}

/** Whether two windows share any minute of the week (touching is not overlapping). */
export function overlaps(a: TimeWindow, b: TimeWindow): boolean {
  for (const [s1, e1] of weekIntervals(a)) {
    for (const [s2, e2] of weekIntervals(b)) {
      for (const shift of [-WEEK_MINUTES, 0, WEEK_MINUTES]) if (s1 < e2 + shift && s2 + shift < e1) return true;
    }
  }
  return false;
}

/** Whether `at` falls in the window, by the wall clock of `timeZone` (quiet hours). */
export function inWindow(w: TimeWindow, at: number, timeZone: string): boolean {
  const t = localTime(at, timeZone);
  const minute = t.hour * 60 + t.minute;
  const yesterday = ((t.weekday + 6) % 7) as Weekday;
  if (w.end > w.start) return w.days.includes(t.weekday) && minute >= w.start && minute < w.end;
  return (w.days.includes(t.weekday) && minute >= w.start) || (w.days.includes(yesterday) && minute < w.end);
}

export interface Boundary {
  at: number;
  schedule: Schedule;
  edge: "start" | "end";
  /** The wall-clock time it stands for (as if it were UTC), to order boundaries that a clock change puts at the same instant. */
  wall: number;
}

function wallKey(date: LocalDate, minute: number): number {
  return Date.UTC(date.year, date.month - 1, date.day, 0, minute);
}

/**
 * Every boundary of the schedules in (`from`, `to`], oldest first; at one
 * instant, ends before starts. Each window's start and end on each day is one
 * instant, so neither a skipped nor a repeated hour makes it happen twice or
 * not at all.
 */
export function boundaries(schedules: readonly Schedule[], from: number, to: number, timeZone: string): Boundary[] {
  if (schedules.length === 0 || to <= from) return [];
  // Nothing counts before a schedule existed: a store migrated with a mode set "at 0" must not walk back to 1970.
  const since = Math.max(from, Math.min(...schedules.map((s) => s.createdAt)));
  if (to <= since) return [];
  const out: Boundary[] = [];
  const first = addDays(localDate(since, timeZone), -2);
  const last = addDays(localDate(to, timeZone), 1);
  for (let date = first; wallKey(date, 0) <= wallKey(last, 0); date = addDays(date, 1)) {
    const weekday = ((new Date(wallKey(date, 0)).getUTCDay() + 6) % 7) as Weekday;
    for (const schedule of schedules) {
      if (!schedule.days.includes(weekday)) continue;
      const endDate = schedule.end > schedule.start ? date : addDays(date, 1);
      for (const [edge, day, minute] of [["start", date, schedule.start], ["end", endDate, schedule.end]] as const) {
        const at = instantOf(day, minute, timeZone);
        if (at > since && at <= to && at > schedule.createdAt) out.push({ at, schedule, edge, wall: wallKey(day, minute) });
      }
    }
  }
  return out.sort((a, b) => a.at - b.at || a.wall - b.wall || (a.edge === b.edge ? 0 : a.edge === "end" ? -1 : 1));
}

/** The state after one boundary, and the change it made (undefined when the mode stayed). */
function step(state: ModeState, b: Boundary): ModeState {
  if (b.edge === "start") return { mode: b.schedule.mode, at: b.at, by: { kind: "schedule", scheduleId: b.schedule.id, edge: "start" }, resume: state.mode };
  const inCharge = state.by.kind === "schedule" && state.by.scheduleId === b.schedule.id && state.by.edge === "start";
  if (!inCharge) return state;
  return { mode: state.resume ?? state.mode, at: b.at, by: { kind: "schedule", scheduleId: b.schedule.id, edge: "end" } };
}

/**
 * Which mode is in force at `at`: `state` moved through every boundary of the
 * schedules since it was set, with the changes of mode that made (changes at
 * the same instant merged into one; none that ends where it began).
 */
export function advanceMode(state: ModeState, schedules: readonly Schedule[], at: number, timeZone: string): { state: ModeState; changes: ModeChange[] } {
  let current = state;
  const changes: ModeChange[] = [];
  for (const b of boundaries(schedules, state.at, at, timeZone)) {
    const next = step(current, b);
    if (next === current) continue;
    const last = changes.at(-1);
    if (last && last.at === b.at) {
      changes.pop();
      if (last.from !== next.mode) changes.push({ from: last.from, to: next.mode, at: b.at, by: next.by });
    } else if (next.mode !== current.mode) changes.push({ from: current.mode, to: next.mode, at: b.at, by: next.by });
    current = next;
  }
  return { state: current, changes };
}

/** The next change of mode the schedules will make after `from` (within 8 days), if any. */
export function nextChange(state: ModeState, schedules: readonly Schedule[], from: number, timeZone: string): ModeChange | undefined {
  const { state: now } = advanceMode(state, schedules, from, timeZone);
  return advanceMode(now, schedules, from + 8 * DAY_MS, timeZone).changes[0];
}

/** When the next boundary of any schedule comes after `from` (within 8 days): when to look again. */
export function nextBoundaryAt(schedules: readonly Schedule[], from: number, timeZone: string): number | undefined {
  return boundaries(schedules, from, from + 8 * DAY_MS, timeZone)[0]?.at;
}

