/**
 * Home Assistant's alarm panel over Vigil's arm switch: the one place where
 * the two meet, pure, so that when Vigil's modes (off / home / away / night)
 * replace the single switch, they map here one to one onto HA's states
 * (disarmed / armed_home / armed_away / armed_night) and nothing else changes.
 *
 * Today Vigil has one switch: armed shows as `armed_away`, and ARM_HOME,
 * ARM_NIGHT and ARM_AWAY all arm it.
 */

/** The states Vigil publishes on the panel's state topic. */
export type PanelState = "disarmed" | "armed_away" | "armed_home" | "armed_night" | "triggered";

/** What a panel command asks of Vigil's control. */
export type PanelCommand = { action: "arm"; requested: "away" | "home" | "night" } | { action: "disarm" };

/** The commands the panel's discovery announces (`supported_features`). */
export const PANEL_FEATURES = ["arm_home", "arm_away", "arm_night"] as const;

/**
 * The panel's state: `triggered` while an alert is recent (`triggeredUntil`
 * after `now`) and Vigil is armed, else armed or disarmed.
 */
export function panelState(armed: boolean, triggeredUntil: number, now: number): PanelState {
  if (!armed) return "disarmed";
  return triggeredUntil > now ? "triggered" : "armed_away";
}

/** HA's default payloads. Anything else (another case, JSON, a code, junk) is not a command. */
export function parsePanelCommand(payload: Buffer | string): PanelCommand | undefined {
  if (payload.length > 32) return undefined;
  switch (payload.toString("utf8").trim()) {
    case "DISARM":
      return { action: "disarm" };
    case "ARM_AWAY":
      return { action: "arm", requested: "away" };
    case "ARM_HOME":
      return { action: "arm", requested: "home" };
    case "ARM_NIGHT":
      return { action: "arm", requested: "night" };
    default:
      return undefined;
  }
}

/** The `switch` entity's command: `ON` arms, `OFF` disarms. */
export function parseSwitchCommand(payload: Buffer | string): PanelCommand | undefined {
  if (payload.length > 8) return undefined;
  const text = payload.toString("utf8").trim();
  if (text === "ON") return { action: "arm", requested: "away" };
  if (text === "OFF") return { action: "disarm" };
  return undefined;
}
