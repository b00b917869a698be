/**
 * How modes and schedules read in the chat: /mode, /arm and /disarm replies,
 * /schedule, /status's first lines, and the notices of changes a schedule or
 * presence made. Pure, so replies and redrawn buttons say the same thing.
 */
import type { InlineKeyboardButton, InlineKeyboardMarkup } from "grammy/types";
import type { ModeView } from "../domain/control.js";
import { alertsIn, MODES, type Mode, type ModeChange, type ModeSource } from "../domain/modes.js";
import { formatSchedule, formatWindow, type Schedule } from "../domain/schedule.js";
import { capitalise, formatClock, formatClockSeconds } from "./format.js";
import { html, joinHtml, type Html } from "./html.js";

/** A camera as far as the mode is concerned. */
export interface ModeCamera {
  name: string;
  /** Its own switch. */
  armed: boolean;
  modes: readonly Mode[];
}

/** `Disarmed`, `Armed away`: Home Assistant's words. */
export function modeLabel(mode: Mode): string {
  return mode === "off" ? "Disarmed" : `Armed ${mode}`;
}

/** `by Alice`, `by the schedule night 23:00-07:00 every day`, `because everyone left`, `from Home Assistant`. */
export function sourceText(by: ModeSource, schedules: readonly Schedule[]): string {
  switch (by.kind) {
    case "chat":
      return by.name ? `by ${by.name}` : "in the chat";
    case "mqtt":
      return "from Home Assistant";
    case "presence":
      return by.presence === "not_home" ? "because everyone left (presence)" : "because someone came home (presence)";
    case "schedule": {
      const schedule = schedules.find((s) => s.id === by.scheduleId);
      return schedule ? `by the schedule ${formatSchedule(schedule)}` : "by a schedule since removed";
    }
    case "setup":
      return "";
  }
}

/**
 * Which cameras alert in `mode`, and why the others do not:
 * `porch, yard will alert here. Silent in home: living (alerts in away). Disarmed on their own: garage.`
 */
export function alertingText(mode: Mode, cameras: readonly ModeCamera[]): string {
  if (mode === "off") return "No alerts until /arm.";
  if (cameras.length === 0) return "There are no cameras yet: add one with /addcamera.";
  const on = cameras.filter((c) => c.armed && alertsIn(c.modes, mode)).map((c) => c.name);
  const silent = cameras.filter((c) => c.armed && !alertsIn(c.modes, mode)).map((c) => `${c.name} (alerts in ${c.modes.join(", ")})`);
  const own = cameras.filter((c) => !c.armed).map((c) => c.name);
  const parts = [on.length ? `${on.join(", ")} will alert here.` : `No camera alerts in ${mode}.`];
  if (silent.length) parts.push(`Silent in ${mode}: ${silent.join(", ")}.`);
  if (own.length) parts.push(`Disarmed on their own: ${own.join(", ")}.`);
  return parts.join(" ");
}

/** What a person needs to know after /arm, /disarm or a mode button: what will alert now, and what will not. */
export function describeMode(view: ModeView, cameras: readonly ModeCamera[], now: number, timeZone: string | undefined): Html {
  if (view.mode === "off") return html`Disarmed: no alerts until /arm.`;
  if (cameras.length === 0) return html`${modeLabel(view.mode)}. There are no cameras yet: add one with /addcamera.`;
  const every = cameras.length > 0 && cameras.every((c) => !c.armed);
  const head = every ? html`${modeLabel(view.mode)}, but every camera is disarmed on its own: send /arm followed by a camera name.` : html`${modeLabel(view.mode)}: ${alertingText(view.mode, cameras)}`;
  const exit = view.exitDelayUntil !== null ? html` Exit delay: nothing that comes into view before ${formatClockSeconds(view.exitDelayUntil, now, timeZone)} alerts.` : html``;
  return html`${head}${exit}`;
}

/** `Next: armed night at 23:00 (schedule night 23:00-07:00 every day).` */
export function nextText(view: ModeView, now: number, timeZone: string | undefined): string | undefined {
  const next = view.next;
  if (!next) return undefined;
  return `Next: ${modeLabel(next.to).toLowerCase()} at ${formatClock(next.at, now, timeZone)}, ${sourceText(next.by, view.schedules)}.`;
}

/** The whole of /mode: the mode, since when and by whom, which cameras alert, what comes next, the settings around it. */
export function modeText(view: ModeView, cameras: readonly ModeCamera[], now: number, timeZone: string | undefined): Html {
  const who = sourceText(view.by, view.schedules);
  const since = view.since > 0 ? ` since ${formatClock(view.since, now, timeZone)}` : "";
  const lines: Html[] = [html`<b>${modeLabel(view.mode)}</b>${since}${who ? `, ${who}` : ""}.`];
  if (view.mode !== "off") lines.push(html`${alertingText(view.mode, cameras)}`);
  if (view.exitDelayUntil !== null) lines.push(html`Exit delay: nothing that comes into view before ${formatClockSeconds(view.exitDelayUntil, now, timeZone)} alerts.`);
  const next = nextText(view, now, timeZone);
  if (next) lines.push(html`${next}`);
  const extras = [view.exitDelay > 0 ? `exit delay ${view.exitDelay} s` : "", view.quietHours ? `quiet hours ${formatWindow(view.quietHours)}` : ""].filter(Boolean);
  if (extras.length) lines.push(html`${capitalise(extras.join(" · "))}.`);
  return joinHtml(lines);
}

/** Callback data of a mode button: `md:<mode>`. */
export function modeButtonData(mode: Mode): string {
  return `md:${mode}`;
}

/** `Off` `Home` `Away` `Night`, the one in force marked. */
export function modeKeyboard(current: Mode): InlineKeyboardMarkup {
  const button = (mode: Mode): InlineKeyboardButton => ({ text: `${mode === current ? "• " : ""}${capitalise(mode)}`, callback_data: modeButtonData(mode) });
  return { inline_keyboard: [MODES.map(button)] };
}

/** The notice of a change nobody made in this chat (a schedule, presence, Home Assistant), sent silently. */
export function changeNotice(change: ModeChange, schedules: readonly Schedule[], cameras: readonly ModeCamera[]): string {
  const label = modeLabel(change.to);
  const what = change.to === "off" || cameras.length === 0 ? "" : ` ${alertingText(change.to, cameras)}`;
  const by = change.by;
  if (by.kind === "schedule") {
    const schedule = schedules.find((s) => s.id === by.scheduleId);
    const name = schedule ? `the schedule ${formatSchedule(schedule)}` : "a schedule since removed";
    return `${label}: ${name} ${by.edge === "start" ? "began" : "ended"}.${what}`;
  }
  return `${label} ${sourceText(by, schedules)}.${what}`;
}

/** Callback data of a schedule's remove button: `sc:rm:<id>`. */
export function scheduleButtonData(id: string): string {
  return `sc:rm:${id}`;
}

/** /schedule: every schedule in order of its start, the zone, and what comes next; a remove button for each. */
export function scheduleList(view: ModeView, now: number): { text: Html; keyboard: InlineKeyboardMarkup } {
  if (view.schedules.length === 0) {
    return { text: html`No schedules. For example /schedule night 23:00-07:00 or /schedule away mon-fri 08:30-17:00.`, keyboard: { inline_keyboard: [] } };
  }
  const sorted = [...view.schedules].sort((a, b) => a.start - b.start || (a.days[0] ?? 0) - (b.days[0] ?? 0));
  const lines: Html[] = [html`<b>Schedules</b> (${view.timeZone}):`, ...sorted.map((s) => html`${formatSchedule(s)}`)];
  const next = nextText(view, now, view.timeZone);
  lines.push(html`Now ${modeLabel(view.mode).toLowerCase()}.${next ? ` ${next}` : ""}`);
  return { text: joinHtml(lines), keyboard: { inline_keyboard: sorted.map((s) => [{ text: `Remove ${formatSchedule(s)}`, callback_data: scheduleButtonData(s.id) }]) } };
}
