/** Where Vigil's modes meet Home Assistant's alarm panel, one to one. */
import { describe, expect, it } from "vitest";
import { panelState, parsePanelCommand, parsePresence, parseSwitchCommand } from "../../src/mqtt/alarm-panel.js";

describe("the alarm panel", () => {
  it("shows each mode as HA's state, triggered for a while after an alert in an armed mode", () => {
    expect(panelState("off", 0, 100)).toBe("disarmed");
    expect(panelState("home", 0, 100)).toBe("armed_home");
    expect(panelState("away", 0, 100)).toBe("armed_away");
    expect(panelState("night", 0, 100)).toBe("armed_night");
    expect(panelState("night", 200, 100)).toBe("triggered");
    expect(panelState("off", 200, 100)).toBe("disarmed");
  });

  it("takes HA's default commands, each to its mode, and nothing else", () => {
    expect(parsePanelCommand("DISARM")).toEqual({ mode: "off" });
    expect(parsePanelCommand("ARM_AWAY")).toEqual({ mode: "away" });
    expect(parsePanelCommand("ARM_HOME")).toEqual({ mode: "home" });
    expect(parsePanelCommand("ARM_NIGHT")).toEqual({ mode: "night" });
    for (const junk of ["disarm", "ARM_VACATION", "", '{"action":"DISARM"}', "DISARM".repeat(10), Buffer.from([0xff])]) expect(parsePanelCommand(junk)).toBeUndefined();
    expect(parseSwitchCommand("ON")).toEqual({ mode: "away" });
    expect(parseSwitchCommand("OFF")).toEqual({ mode: "off" });
    expect(parseSwitchCommand("off")).toBeUndefined();
  });

  it("reads presence as HA publishes it, plain or as JSON, and nothing else", () => {
    expect(parsePresence("home")).toBe("home");
    expect(parsePresence("not_home")).toBe("not_home");
    expect(parsePresence('{"state":"not_home","attributes":{}}')).toBe("not_home");
    expect(parsePresence('"home"')).toBe("home");
    // Another zone is away from home.
    expect(parsePresence("Work")).toBe("not_home");
    for (const junk of ["unknown", "unavailable", "", "{", '{"state":7}', "x".repeat(300), "<script>", Buffer.from([0xff, 0xfe])]) expect(parsePresence(junk)).toBeUndefined();
  });
});
