import { describe, expect, it } from "vitest";
import { nextSendAt } from "../../src/bot/rate-limit.js";

describe("flood limits", () => {
  it("keeps a second between messages to one chat", () => {
    expect(nextSendAt([], false, 5000)).toBe(5000);
    expect(nextSendAt([4500], false, 5000)).toBe(5500);
    expect(nextSendAt([1000], false, 5000)).toBe(5000);
  });

  it("allows 20 messages per rolling minute in a group, then waits for the oldest to leave the window", () => {
    const sent = Array.from({ length: 20 }, (_, i) => 10_000 + i * 1000);
    expect(nextSendAt(sent, true, 30_000)).toBe(70_000);
    expect(nextSendAt(sent, false, 30_000)).toBe(30_000); // a private chat only has the per-second rule
    expect(nextSendAt(sent.slice(1), true, 30_000)).toBe(30_000);
  });
});
