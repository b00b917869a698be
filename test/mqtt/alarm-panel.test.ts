/** The one place where Vigil's arm switch meets Home Assistant's alarm panel. */
import { describe, expect, it } from "vitest";
import { panelState, parsePanelCommand, parseSwitchCommand } from "../../src/mqtt/alarm-panel.js";

describe("the alarm panel", () => {
  it("shows armed as armed_away, triggered for a while after an alert, disarmed otherwise", () => {
    expect(panelState(false, 0, 100)).toBe("disarmed");
    expect(panelState(true, 0, 100)).toBe("armed_away");
    expect(panelState(true, 200, 100)).toBe("triggered");
    expect(panelState(false, 200, 100)).toBe("disarmed");
  });

  it("takes HA's default commands (every ARM_* arms the one switch for now) and nothing else", () => {
    expect(parsePanelCommand("DISARM")).toEqual({ action: "disarm" });
    expect(parsePanelCommand("ARM_AWAY")).toEqual({ action: "arm", requested: "away" });
    expect(parsePanelCommand("ARM_HOME")).toEqual({ action: "arm", requested: "home" });
    expect(parsePanelCommand("ARM_NIGHT")).toEqual({ action: "arm", requested: "night" });
    for (const junk of ["disarm", "ARM_VACATION", "", '{"action":"DISARM"}', "DISARM".repeat(10), Buffer.from([0xff])]) expect(parsePanelCommand(junk)).toBeUndefined();
    expect(parseSwitchCommand("ON")).toEqual({ action: "arm", requested: "away" });
    expect(parseSwitchCommand("off")).toBeUndefined();
  });
});
