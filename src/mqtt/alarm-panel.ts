/**
 * Home Assistant's alarm panel over Vigil's modes, one to one (the table is
 * `HA_STATES` in src/domain/modes.ts): off is `disarmed`, home `armed_home`,
 * away `armed_away`, night `armed_night`; and `triggered` for a while after an
 * alert in an armed mode. The armed `switch` is the same thing in two states:
 * ON arms away, OFF disarms. Pure, so the bridge only carries messages.
 */
import { HA_STATES, type Mode, type Presence } from "../domain/modes.js";

/** The states Vigil publishes on the panel's state topic. */
export type PanelState = "disarmed" | "armed_away" | "armed_home" | "armed_night" | "triggered";

/** What a panel (or switch) command asks of Vigil: a mode. */
export interface PanelCommand {
  mode: Mode;
}

/** The commands the panel's discovery announces (`supported_features`). */
export const PANEL_FEATURES = ["arm_home", "arm_away", "arm_night"] as const;

/** The panel's state: `triggered` while an alert is recent (`triggeredUntil` after `now`) in an armed mode, else the mode's. */
export function panelState(mode: Mode, triggeredUntil: number, now: number): PanelState {
  if (mode === "off") return "disarmed";
  return triggeredUntil > now ? "triggered" : (HA_STATES[mode] as PanelState);
}

/** HA's default payloads. Anything else (another case, JSON, a code, junk) is not a command. */
export function parsePanelCommand(payload: Buffer | string): PanelCommand | undefined {
  if (payload.length > 32) return undefined;
  switch (payload.toString("utf8").trim()) {
    case "DISARM":
      return { mode: "off" };
    case "ARM_AWAY":
      return { mode: "away" };
    case "ARM_HOME":
      return { mode: "home" };
    case "ARM_NIGHT":
      return { mode: "night" };
    default:
      return undefined;
  }
}

/** The `switch` entity's command: `ON` arms away, `OFF` disarms. */
export function parseSwitchCommand(payload: Buffer | string): PanelCommand | undefined {
  if (payload.length > 8) return undefined;
  const text = payload.toString("utf8").trim();
  if (text === "ON") return { mode: "away" };
  if (text === "OFF") return { mode: "off" };
  return undefined;
}

/**
 * Home Assistant presence as it reaches MQTT: the plain state of a person, a
 * group or a device tracker (`home`, `not_home`, as HA's statestream or an
 * automation publishes it), or JSON with a `state` field. A zone's name other
 * than home means away. Anything else (unknown, unavailable, junk) is no news.
 */
export function parsePresence(payload: Buffer | string): Presence | undefined {
  if (payload.length > 256) return undefined;
  let text = payload.toString("utf8").trim();
  if (text.startsWith("{")) {
    try {
      const state = (JSON.parse(text) as { state?: unknown }).state;
      if (typeof state !== "string") return undefined;
      text = state;
    } catch {
      return undefined;
    }
  }
  text = text.replace(/^"|"$/g, "").trim().toLowerCase();
  if (text === "home" || text === "on") return "home";
  if (text === "" || text === "unknown" || text === "unavailable" || text.length > 64 || !/^[\p{L}\p{N} _.-]+$/u.test(text)) return undefined;
  // not_home, off (a group or binary sensor), or the name of another zone (work, school).
  return "not_home";
}
