/**
 * How an alert looks in the chat: caption and buttons. Pure, so the sender (a
 * new alert) and the button handlers (after a press) draw exactly the same
 * thing from the same state.
 */
import type { InlineKeyboardButton, InlineKeyboardMarkup } from "grammy/types";
import { countsText } from "../domain/labels.js";
import type { AlertPayload, DoorPayload, VisitPayload } from "../store/outbox.js";
import { capitalise, formatClock, formatClockSeconds, formatDuration } from "./format.js";
import { html, joinHtml, type Html } from "./html.js";

/** Mute lengths offered on every alert. */
export const ALERT_MUTES = [
  { minutes: 30, label: "Mute 30 min" },
  { minutes: 120, label: "Mute 2 h" },
] as const;

/** An alert sent later than this says how late it is. */
export const LATE_AFTER_MS = 60_000;
/**
 * Most alerts folded into one message. Every folded alert is listed with its
 * time and object, so the chat accounts for each one; this keeps that list
 * within a photo caption (1024 characters), and a longer backlog becomes
 * several messages.
 */
export const MAX_FOLDED = 15;

export type AlertAction = "m30" | "m120" | "unmute" | "snapshot" | "disarm" | "arm";
const ACTIONS: readonly AlertAction[] = ["m30", "m120", "unmute", "snapshot", "disarm", "arm"];

/** Callback data of an alert button: `al:<action>:<camera id>` (at most 64 bytes, Telegram's limit). */
export function alertButtonData(action: AlertAction, cameraId: string): string {
  return `al:${action}:${cameraId}`;
}

export function parseAlertButton(data: string): { action: AlertAction; cameraId: string } | undefined {
  const match = /^al:([a-z0-9]+):([A-Za-z0-9_-]{1,48})$/.exec(data);
  if (!match || !ACTIONS.includes(match[1] as AlertAction)) return undefined;
  return { action: match[1] as AlertAction, cameraId: match[2]! };
}

export interface AlertButtonState {
  /** Epoch ms until which the camera is muted, or null. */
  mutedUntil: number | null;
  systemArmed: boolean;
}

/** The buttons' state of a camera now (from the Control, or the store); undefined when the camera is gone. */
export function alertButtonState(source: { cameras(): readonly { id: string; mutedUntil: number | null }[]; isArmed(): boolean }, cameraId: string): AlertButtonState | undefined {
  const camera = source.cameras().find((c) => c.id === cameraId);
  return camera ? { mutedUntil: camera.mutedUntil, systemArmed: source.isArmed() } : undefined;
}

/** `Mute 30 min` `Mute 2 h` / `Snapshot` `Disarm`, or the muted and disarmed states with their undo. */
export function alertKeyboard(cameraId: string, state: AlertButtonState, now: number, timeZone?: string): InlineKeyboardMarkup {
  const button = (text: string, action: AlertAction): InlineKeyboardButton => ({ text, callback_data: alertButtonData(action, cameraId) });
  const muted = state.mutedUntil !== null && state.mutedUntil > now;
  const first = muted ? [button(`Muted until ${formatClock(state.mutedUntil!, now, timeZone)} · Unmute`, "unmute")] : ALERT_MUTES.map((m) => button(m.label, m.minutes === 30 ? "m30" : "m120"));
  const second = [button("Snapshot", "snapshot"), state.systemArmed ? button("Disarm", "disarm") : button("Disarmed · Arm", "arm")];
  return { inline_keyboard: [first, second] };
}

/**
 * The caption: what, where, how sure, when, in which mode; then every alert folded into it
 * (`+2 more on cam2: 14:30:07 person, 14:30:22 car`) and whether it is late.
 */
export function alertCaption(head: AlertPayload, folded: readonly AlertPayload[], now: number, timeZone?: string): Html {
  const when = formatClockSeconds(head.at, now, timeZone);
  const mode = head.mode ? ` · ${head.mode}` : "";
  const lines: Html[] = [head.motionOnly ? html`<b>Motion</b> on <b>${head.cameraName}</b> · ${when}${mode}` : html`<b>${capitalise(head.label)}</b> on <b>${head.cameraName}</b> · ${Math.round(head.score * 100)}% · ${when}${mode}`];
  if (head.motionOnly) lines.push(html`Motion only: the object detector is not working (see /status).`);
  if (folded.length) {
    const each = folded.map((a) => `${formatClockSeconds(a.at, now, timeZone)} ${a.motionOnly ? "motion" : a.label}`);
    lines.push(html`+${folded.length} more on ${head.cameraName}: ${each.join(", ")}`);
  }
  const late = now - head.at;
  // A satellite's alert that reached the hub late was held by the link, not by Telegram.
  const heldBySatellite = head.satellite !== undefined && head.receivedAt !== undefined && head.receivedAt - head.at > LATE_AFTER_MS;
  if (late > LATE_AFTER_MS) lines.push(heldBySatellite ? html`Sent ${formatDuration(late)} late: the satellite ${head.satellite} could not reach the hub until then.` : html`Sent ${formatDuration(late)} late: Telegram could not be reached until now.`);
  return joinHtml(lines);
}

/**
 * The line a visit adds under its alert's caption: how long, how many of what
 * (when more than one object), whether it stands still, and how it ended.
 * `Still there after 2 min · 2 people`, `Left at 14:33:10 after 3 min`.
 */
export function visitLine(visit: Omit<VisitPayload, "type">, now: number, timeZone?: string): Html {
  const counts = countsText(visit.counts);
  const many = Object.values(visit.counts).reduce((a, b) => a + b, 0) > 1;
  const what = many ? ` · ${counts}` : "";
  if (visit.ended === undefined) {
    const still = visit.stationary ? (visit.motionOnly ? "" : ", not moving") : "";
    return html`Still there after ${formatDuration(visit.at - visit.startedAt)}${still}${what}`;
  }
  const lasted = formatDuration(visit.lastSeenAt - visit.startedAt);
  if (visit.ended === "left") return html`${visit.motionOnly ? "Motion ended" : "Left"} at ${formatClockSeconds(visit.lastSeenAt, now, timeZone)} after ${lasted}${what}`;
  const why = visit.ended === "disarmed" ? "the camera stopped alerting (the mode changed, or it was disarmed or muted)" : "Vigil stopped watching the camera";
  return html`Seen for ${lasted}, until ${formatClockSeconds(visit.at, now, timeZone)}: ${why}${what}`;
}

/** How a sensor's name reads in a sentence: `front_door` → `Front door`. */
export function sensorTitle(name: string): string {
  return capitalise(name.replace(/_/g, " "));
}

/** `Front door opened · 14:30:05` (and how late, like any alert). */
export function doorCaption(door: Pick<DoorPayload, "sensorName" | "at">, now: number, timeZone?: string): Html {
  const lines: Html[] = [html`<b>${sensorTitle(door.sensorName)} opened</b> · ${formatClockSeconds(door.at, now, timeZone)}`];
  const late = now - door.at;
  if (late > LATE_AFTER_MS) lines.push(html`Sent ${formatDuration(late)} late: Telegram could not be reached until now.`);
  return joinHtml(lines);
}

/** Callback data of a door alert's buttons: the alert buttons' form, with `door-<sensor id>` for the camera. */
export const DOOR_BUTTON_PREFIX = "door-";

/** `Mute 30 min` `Mute 2 h` / `Disarm` for a door (muting the sensor), or their undo. */
export function doorKeyboard(sensorId: string, state: AlertButtonState, now: number, timeZone?: string): InlineKeyboardMarkup {
  const id = `${DOOR_BUTTON_PREFIX}${sensorId}`;
  const button = (text: string, action: AlertAction): InlineKeyboardButton => ({ text, callback_data: alertButtonData(action, id) });
  const muted = state.mutedUntil !== null && state.mutedUntil > now;
  const first = muted ? [button(`Muted until ${formatClock(state.mutedUntil!, now, timeZone)} · Unmute`, "unmute")] : ALERT_MUTES.map((m) => button(m.label, m.minutes === 30 ? "m30" : "m120"));
  return { inline_keyboard: [first, [state.systemArmed ? button("Disarm", "disarm") : button("Disarmed · Arm", "arm")]] };
}
