/**
 * Modes, in Home Assistant's alarm-panel vocabulary so that an MQTT bridge maps
 * them one to one: `off` (disarmed), `home` (armed_home), `away` (armed_away),
 * `night` (armed_night). One mode is in force at a time; each camera says in
 * which modes it alerts. Who or what set the mode is kept with it, because the
 * rules depend on it: a schedule's end only undoes what its start did, and an
 * exit delay follows only a change made by a person.
 */
import { InputError } from "../errors.js";

export const MODES = ["off", "home", "away", "night"] as const;
export type Mode = (typeof MODES)[number];

/** Home Assistant's alarm_control_panel state for each mode (the MQTT work publishes these). */
export const HA_STATES: Readonly<Record<Mode, string>> = Object.freeze({ off: "disarmed", home: "armed_home", away: "armed_away", night: "armed_night" });

/** Where a new camera alerts: every mode but `off`. An indoor camera is typically set to `away` only. */
export const DEFAULT_CAMERA_MODES: readonly Mode[] = Object.freeze(["home", "away", "night"]);

/** Presence as Home Assistant reports a person or a group of them. */
export type Presence = "home" | "not_home";

/** Who or what changed the mode. */
export type ModeSource =
  /** Someone in the chat (/mode, /arm, /disarm, an alert's button); no user for a change made in code (tests). */
  | { kind: "chat"; userId?: number; name?: string }
  /** Home Assistant's alarm panel, through MQTT. */
  | { kind: "mqtt" }
  /** A schedule reaching the start or the end of its window. */
  | { kind: "schedule"; scheduleId: string; edge: "start" | "end" }
  /** Home Assistant presence: everyone left, or someone came home. */
  | { kind: "presence"; presence: Presence }
  /** The mode a store starts with, or was migrated to. */
  | { kind: "setup" };

/** The mode in force and where it came from. Stored; changed only through {@link ModeSource}s. */
export interface ModeState {
  mode: Mode;
  /** Epoch ms it was set. */
  at: number;
  by: ModeSource;
  /** Set when a schedule's start put this mode in force: the mode its end goes back to. */
  resume?: Mode | undefined;
}

/** One change of mode, as the chat (and later MQTT) hears of it. */
export interface ModeChange {
  from: Mode;
  to: Mode;
  at: number;
  by: ModeSource;
}

/** What the pipeline obeys: the mode, and until when new visits do not alert (the exit delay). */
export interface ModeInForce {
  mode: Mode;
  /** Epoch ms the exit delay ends; null when none is running. */
  exitDelayUntil: number | null;
}

export const INITIAL_MODE_STATE: Readonly<ModeState> = Object.freeze({ mode: "off", at: 0, by: Object.freeze({ kind: "setup" }) });

export function isMode(text: string): text is Mode {
  return (MODES as readonly string[]).includes(text);
}

function truncate(text: string, max = 20): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** `away` → away; anything else is an InputError listing the modes. */
export function parseMode(raw: string): Mode {
  const text = raw.trim().toLowerCase();
  if (isMode(text)) return text;
  throw new InputError(`There is no mode called "${truncate(raw.trim())}"; the modes are off, home, away and night.`);
}

/** `/set cam1 modes away,night`: the armed modes a camera alerts in, in the usual order. */
export function parseCameraModes(raw: string, thing: "camera" | "sensor" = "camera"): Mode[] {
  const text = raw.trim().toLowerCase();
  if (text === "all" || text === "armed") return [...DEFAULT_CAMERA_MODES];
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw new InputError("modes needs at least one of home, away and night, for example away or away,night.");
  const wanted = new Set<Mode>();
  for (const part of parts) {
    const mode = parseMode(part);
    if (mode === "off") throw new InputError(thing === "camera" ? "Nothing alerts in off; give the modes the camera alerts in (home, away, night), or /disarm the camera to silence it." : "Nothing alerts in off; give the modes the sensor alerts in (home, away, night).");
    wanted.add(mode);
  }
  return MODES.filter((m) => wanted.has(m));
}

/** Whether a camera that alerts in `modes` alerts while `mode` is in force. Nothing alerts in `off`. */
export function alertsIn(modes: readonly Mode[], mode: Mode): boolean {
  return mode !== "off" && modes.includes(mode);
}

/** A person's decision (the chat, Home Assistant's panel), as opposed to a schedule or presence. */
export function byHand(source: ModeSource): boolean {
  return source.kind === "chat" || source.kind === "mqtt";
}

/**
 * When the exit delay after arming ends, or null: it runs for `exitDelayMs`
 * after a person set an armed mode (schedules and presence arm when nobody is
 * leaving through the picture), and stops as soon as the mode changes again.
 */
export function exitDelayUntil(state: ModeState, exitDelayMs: number): number | null {
  if (exitDelayMs <= 0 || state.mode === "off" || !byHand(state.by)) return null;
  return state.at + exitDelayMs;
}

/** What the pipeline obeys for a mode state. */
export function modeInForce(state: ModeState, exitDelayMs: number): ModeInForce {
  return { mode: state.mode, exitDelayUntil: exitDelayUntil(state, exitDelayMs) };
}

/**
 * Presence: everyone has left → `away` (from any mode: the house arms itself
 * when the last phone leaves); someone is home → `home`, but only out of
 * `away` (it does not disarm a house that is off, nor wake one that is in
 * night). Undefined when the mode stays as it is.
 */
export function presenceMode(current: Mode, presence: Presence): Mode | undefined {
  if (presence === "not_home") return current === "away" ? undefined : "away";
  return current === "away" ? "home" : undefined;
}


/** Every camera alerts that alerts away, no exit delay: replay, benchmarks and tests. */
export const AWAY_NOW: Readonly<ModeInForce> = Object.freeze({ mode: "away", exitDelayUntil: null });
/** Nothing alerts. */
export const OFF_NOW: Readonly<ModeInForce> = Object.freeze({ mode: "off", exitDelayUntil: null });

/** The longest exit delay: ten minutes is more than anyone needs to leave. */
export const MAX_EXIT_DELAY_S = 600;

/** `60`, `45s`, `2m`, `off` → seconds of exit delay, 0 to 600. */
export function parseExitDelay(raw: string): number {
  const text = raw.trim().toLowerCase();
  if (["off", "none", "0"].includes(text)) return 0;
  const match = /^(\d{1,4})\s*(s|sec|secs|seconds?|m|min|mins|minutes?)?$/.exec(text);
  const seconds = match ? Number(match[1]) * (match[2]?.startsWith("m") ? 60 : 1) : NaN;
  if (!match || seconds > MAX_EXIT_DELAY_S) throw new InputError(`The exit delay is seconds or minutes up to 10 minutes, like 45s or 2m, or off; "${truncate(raw.trim())}" is not.`);
  return seconds;
}
