/** How times, durations and people read in the chat. Pure; the time zone is the machine's unless given. */
import type { User } from "grammy/types";
import { InputError } from "../errors.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The longest mute: past a week, disarming the camera says what is meant. */
export const MAX_MUTE_MS = 7 * DAY;

function parts(ms: number, timeZone?: string): Record<string, string> {
  const formatter = new Intl.DateTimeFormat("en-GB", { timeZone, weekday: "short", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return Object.fromEntries(formatter.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
}

/** `14:30`, or `Tue 14:30` when it is not the same day as `now`. */
export function formatClock(ms: number, now: number, timeZone?: string): string {
  const at = parts(ms, timeZone);
  const today = parts(now, timeZone);
  const hm = `${at.hour}:${at.minute}`;
  return at.year === today.year && at.month === today.month && at.day === today.day ? hm : `${at.weekday} ${hm}`;
}

/** `14:30:05` (with the weekday when not today): the time of an alert. */
export function formatClockSeconds(ms: number, now: number, timeZone?: string): string {
  const at = parts(ms, timeZone);
  return `${formatClock(ms, now, timeZone)}:${at.second}`;
}

/** `14 Mar 2026`: a day, for things that can be weeks old. */
export function formatDay(ms: number, timeZone?: string): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone, day: "numeric", month: "short", year: "numeric" }).format(new Date(ms));
}

export { formatDuration } from "../domain/duration.js";

/** `30m`, `90 min`, `2h`, `1d` → ms; undefined when the text is not a duration at all. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,5})\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?)$/i.exec(text.trim());
  if (!match) return undefined;
  const n = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  return n * (unit.startsWith("m") ? MINUTE : unit.startsWith("h") ? HOUR : DAY);
}

/** A mute duration within bounds, or an InputError that says what a duration looks like. */
export function parseMuteDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InputError(`Durations look like 30m, 2h or 1d; "${text.length > 20 ? `${text.slice(0, 20)}…` : text}" is not one. To stop alerts altogether, use /disarm.`);
  if (ms < MINUTE || ms > MAX_MUTE_MS) throw new InputError("A mute lasts from 1 minute to 7 days (7d); to stop alerts for longer, use /disarm.");
  return ms;
}

/** First and last name, as Telegram shows them. */
export function fullName(user: Pick<User, "first_name" | "last_name">): string {
  return [user.first_name, user.last_name].filter(Boolean).join(" ");
}

/** How a person is named in a reply: first name, and @username when there is one. */
export function personName(user: Pick<User, "first_name" | "last_name" | "username"> | { name?: string; username?: string }): string {
  const name = "first_name" in user ? fullName(user) : (user.name ?? "");
  if (name && user.username) return `${name} (@${user.username})`;
  return name || (user.username ? `@${user.username}` : "someone");
}

/** A label as a heading: `person` → `Person`. */
export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Words of a command's argument text. */
export function words(text: string | undefined): string[] {
  return (text ?? "").trim().split(/\s+/).filter(Boolean);
}
