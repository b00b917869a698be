/** Modes as the rest of Vigil uses them: which cameras alert, the exit delay, presence. */
import { describe, expect, it } from "vitest";
import { alertsIn, exitDelayUntil, HA_STATES, MODES, parseCameraModes, parseMode, presenceMode, type ModeState } from "../../src/domain/modes.js";
import { InputError } from "../../src/errors.js";

const T = 1_770_000_000_000;

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  return "no error";
}

describe("modes", () => {
  it("map one to one onto Home Assistant's alarm panel", () => {
    expect(MODES.map((m) => HA_STATES[m])).toEqual(["disarmed", "armed_home", "armed_away", "armed_night"]);
  });

  it("read the camera's modes as people write them, and refuse off and unknown modes in one sentence", () => {
    expect(parseCameraModes("away")).toEqual(["away"]);
    expect(parseCameraModes("Night, away")).toEqual(["away", "night"]);
    expect(parseCameraModes("home away night")).toEqual(["home", "away", "night"]);
    expect(parseCameraModes("all")).toEqual(["home", "away", "night"]);
    expect(message(() => parseCameraModes("off"))).toBe("Nothing alerts in off; give the modes the camera alerts in (home, away, night), or /disarm the camera to silence it.");
    expect(message(() => parseCameraModes("away,holiday"))).toBe('There is no mode called "holiday"; the modes are off, home, away and night.');
    expect(message(() => parseCameraModes(" , "))).toBe("modes needs at least one of home, away and night, for example away or away,night.");
    expect(message(() => parseMode("<b>armed</b>"))).toBe('There is no mode called "<b>armed</b>"; the modes are off, home, away and night.');
  });

  it("let a camera alert only in its own modes, and nothing in off", () => {
    expect(alertsIn(["away"], "away")).toBe(true);
    expect(alertsIn(["away"], "home")).toBe(false);
    expect(alertsIn(["home", "away", "night"], "night")).toBe(true);
    expect(alertsIn(["home", "away", "night", "off"] as never, "off")).toBe(false);
  });

  it("start an exit delay only when a person arms, and only for the delay", () => {
    const byAlice: ModeState = { mode: "away", at: T, by: { kind: "chat", userId: 1 } };
    expect(exitDelayUntil(byAlice, 60_000)).toBe(T + 60_000);
    expect(exitDelayUntil({ ...byAlice, by: { kind: "mqtt" } }, 60_000)).toBe(T + 60_000);
    expect(exitDelayUntil(byAlice, 0)).toBeNull();
    expect(exitDelayUntil({ ...byAlice, mode: "off" }, 60_000)).toBeNull();
    expect(exitDelayUntil({ ...byAlice, by: { kind: "schedule", scheduleId: "s1", edge: "start" } }, 60_000)).toBeNull();
    expect(exitDelayUntil({ ...byAlice, by: { kind: "presence", presence: "not_home" } }, 60_000)).toBeNull();
  });

  it("follow presence: everyone gone arms away from any mode; someone home goes back to home only from away", () => {
    expect(presenceMode("off", "not_home")).toBe("away");
    expect(presenceMode("home", "not_home")).toBe("away");
    expect(presenceMode("night", "not_home")).toBe("away");
    expect(presenceMode("away", "not_home")).toBeUndefined();
    expect(presenceMode("away", "home")).toBe("home");
    expect(presenceMode("off", "home")).toBeUndefined();
    expect(presenceMode("night", "home")).toBeUndefined();
    expect(presenceMode("home", "home")).toBeUndefined();
  });
});
