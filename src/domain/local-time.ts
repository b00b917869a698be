/**
 * Wall-clock time in an IANA time zone, with Intl (Node 20 carries full ICU):
 * what the clock on the wall says at an instant, and the instant at which it
 * says a given time. Pure; every function takes the zone.
 *
 * Daylight-saving rules, the ones schedules need:
 * - A wall time the clocks skip (02:30 on the night they jump forward) is the
 *   instant they jump: the first moment the wall clock is past it. It happens
 *   once, late by the part of the gap before it.
 * - A wall time the clocks show twice (01:30 on the night they go back) is its
 *   first occurrence only.
 */
import { ConfigError } from "../errors.js";

/** Monday first, as people write a week: 0 = Monday … 6 = Sunday. */
export type Weekday = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export interface LocalDate {
  year: number;
  /** 1 to 12. */
  month: number;
  day: number;
}

export interface LocalTime extends LocalDate {
  hour: number;
  minute: number;
  second: number;
  weekday: Weekday;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    formatters.set(timeZone, found);
  }
  return found;
}

/** Whether Intl knows the zone (`Europe/London`, `UTC`; not `Mars/Olympus`). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The zone's canonical name, or a ConfigError naming `field` (VIGIL_TZ). */
export function validateTimeZone(name: string, field = "VIGIL_TZ"): string {
  if (!isTimeZone(name)) throw new ConfigError(`${field} must be an IANA time zone such as Europe/London or America/New_York; "${name.slice(0, 40)}" is not one.`, field);
  return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
}

/** The machine's time zone (the TZ variable, else the system's setting). */
export function machineTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** A calendar date's weekday, Monday = 0. */
export function weekdayOf(date: LocalDate): Weekday {
  return ((new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7) as Weekday;
}

/** The date `days` after (or before) `date`. */
export function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** What the wall clock says at `at` in the zone. */
export function localTime(at: number, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(at))) if (part.type !== "literal") parts[part.type] = Number(part.value);
  const date = { year: parts.year!, month: parts.month!, day: parts.day! };
  return { ...date, hour: parts.hour!, minute: parts.minute!, second: parts.second!, weekday: weekdayOf(date) };
}

/** How far the zone's wall clock is ahead of UTC at `at`, in ms (BST: +3,600,000). */
export function utcOffset(at: number, timeZone: string): number {
  const t = localTime(at, timeZone);
  const whole = Math.floor(at / 1000) * 1000;
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - whole;
}

/** Minutes since local midnight at `at` (0 to 1439). */
export function minuteOfDay(at: number, timeZone: string): number {
  const t = localTime(at, timeZone);
  return t.hour * 60 + t.minute;
}

/**
 * The instant the wall clock in `timeZone` first reads `minute` minutes after
 * midnight of `date` (1440: midnight at the end of it). Skipped by a jump
 * forward: the instant of the jump. Shown twice as the clocks go back: the first time.
 */
export function instantOf(date: LocalDate, minute: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minute);
  // Offsets in force on either side of any change near this wall time (none is more than 14 h from UTC).
  const before = utcOffset(wall - 17 * 60 * MINUTE, timeZone);
  const after = utcOffset(wall + 17 * 60 * MINUTE, timeZone);
  const valid = [before, after].map((offset) => wall - offset).filter((t) => utcOffset(t, timeZone) === wall - t);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: the clocks jump over this time somewhere between these two instants. Find the jump, to the second.
  let lo = wall - Math.max(before, after);
  let hi = wall - Math.min(before, after);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (mid + utcOffset(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The local date at `at`. */
export function localDate(at: number, timeZone: string): LocalDate {
  const { year, month, day } = localTime(at, timeZone);
  return { year, month, day };
}

export { DAY as DAY_MS, MINUTE as MINUTE_MS };
