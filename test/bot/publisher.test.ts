import { describe, expect, it } from "vitest";
import { restartNotice } from "../../src/bot/publisher.js";

const NOW = Date.UTC(2026, 2, 14, 9, 0, 0);

describe("the restart notice", () => {
  it("says when the crash was and how many alerts waited; nothing after a clean stop", () => {
    const crash = { lastSeenAt: Date.UTC(2026, 2, 14, 3, 12, 40) };
    expect(restartNotice(crash, 2, NOW, "UTC")).toBe("Vigil restarted after a crash at 03:12; 2 alerts were queued and have been sent.");
    expect(restartNotice(crash, 1, NOW, "UTC")).toBe("Vigil restarted after a crash at 03:12; 1 alert was queued and has been sent.");
    expect(restartNotice(crash, 0, NOW, "UTC")).toBe("Vigil restarted after a crash at 03:12; no alerts were waiting to be sent.");
    expect(restartNotice(undefined, 5, NOW, "UTC")).toBeUndefined();
  });
});
