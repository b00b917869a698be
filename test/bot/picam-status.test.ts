/**
 * A Raspberry Pi camera (`picam:0`, added on the Pi with `vigil camera add`) as
 * the chat sees it when rpicam-vid is not installed: /status says why in one
 * sentence, and /addcamera refuses the Pi camera from the chat.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { until } from "../support/wait.js";
import { claim, startHarness, type Harness } from "./harness.js";

describe("a Pi camera in the chat", () => {
  let h: Harness;
  beforeAll(async () => {
    // A machine without rpicam-apps.
    vi.stubEnv("PATH", "/usr/bin:/bin");
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it("says in /status why it sends nothing, and cannot be added from the chat", async () => {
    const alice = h.tg.user({ firstName: "Alice" });
    const group = h.tg.group({ title: "Home", owner: alice });
    await claim(h, alice, group);
    await h.store.addCamera({ name: "garden", url: "picam:0" });
    await until(() => h.pipeline.status()[0]?.lastError !== undefined, 20_000, "the camera's status");
    const status = await h.ask(alice, group, "/status");
    expect(status.text).toContain("\ngarden: starting (rpicam-vid is not installed; sudo apt install rpicam-apps installs it)\n");

    await h.askAll(alice, group, "/addcamera", 2);
    // The search for ONVIF cameras finds none here, then the URL is asked for.
    await h.askAll(alice, group, "porch", 2, { replyTo: h.lastBotMessage(group) });
    const refused = await h.ask(alice, group, "picam:0", { replyTo: h.lastBotMessage(group) });
    expect(refused.text).toBe("The Raspberry Pi camera can be added only on the Pi itself: vigil camera add <name> picam:0.");
  });
});
