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

  it("lets an alert follow an edit at once (one short burst), while an edit keeps its second after anything", () => {
    const edit = { at: 4500, edit: true };
    // An alert 0.5 s after an edit goes at once; an edit waits for its second.
    expect(nextSendAt([{ at: 1000, edit: false }, edit], false, 5000)).toBe(5000);
    expect(nextSendAt([{ at: 1000, edit: false }, edit], false, 5000, undefined, true)).toBe(5500);
    // Never two messages within a second: an alert 0.2 s after another alert and an edit waits.
    expect(nextSendAt([{ at: 4400, edit: false }, { at: 4500, edit: true }], false, 4600)).toBe(5400);
    // Edits count towards a group's 20 a minute like messages.
    const twenty = Array.from({ length: 20 }, (_, i) => ({ at: 10_000 + i * 1000, edit: i % 2 === 0 }));
    expect(nextSendAt(twenty, true, 30_000)).toBe(70_000);
  });
});
