import { describe, expect, it } from "vitest";
import { MAX_MUTE_MS, parseDuration, parseMuteDuration } from "../../src/bot/format.js";

describe("durations people type", () => {
  it("reads 30m, 2h, 1d and their spelled-out forms", () => {
    expect(parseDuration("30m")).toBe(30 * 60_000);
    expect(parseDuration("2 h")).toBe(2 * 3600_000);
    expect(parseDuration("1d")).toBe(24 * 3600_000);
    expect(parseDuration("90 minutes")).toBe(90 * 60_000);
    for (const bad of ["forever", "-5m", "1e3m", "2.5h", "", "m", "30"]) expect(parseDuration(bad)).toBeUndefined();
  });

  it("refuses mutes that are not durations or out of bounds, in one sentence", () => {
    expect(() => parseMuteDuration("forever")).toThrow(/^Durations look like 30m, 2h or 1d; "forever" is not one\. To stop alerts altogether, use \/disarm\.$/);
    expect(() => parseMuteDuration("8d")).toThrow(/from 1 minute to 7 days/);
    expect(() => parseMuteDuration("0m")).toThrow(/from 1 minute to 7 days/);
    expect(parseMuteDuration("7d")).toBe(MAX_MUTE_MS);
  });
});
