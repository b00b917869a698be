/**
 * A visitor who stays, as the chat sees it: one alert, edited in place while
 * the visit lasts (how long, standing still), turned into the visit's clip (up
 * to `maxclip`), and told when he has gone; /events shows the visit. Real
 * pipeline and recorder on a camera playing made footage in real time (the man
 * of wallflower_wavingtrees holds still in view for 3 minutes, then leaves).
 */
import type { Chat, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { longVisit, type MadeClip } from "../support/made-footage.js";
import { until } from "../support/wait.js";
import { claim, startHarness, type Harness } from "./harness.js";

let h: Harness;
let alice: User;
let group: Chat;
let clip: MadeClip;

beforeAll(async () => {
  // 30 s of tree after he leaves: the file starts over (and he comes in again) long after this test is done.
  clip = await longVisit(180, 30);
  h = await startHarness();
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice });
  await claim(h, alice, group);
  await h.control.arm();
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

describe("a visit that lasts", () => {
  it("is one alert, edited while it lasts, with the visit's clip, and says when he has gone", { timeout: 420_000 }, async () => {
    const mark = h.tg.mark();
    // A local file plays in real time from its start when the camera starts.
    await h.store.addCamera({ name: "porch", url: clip.file });
    const alert = await h.tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 60_000 });
    expect(alert.caption).toMatch(/^Person on porch · \d+% · (\w{3} )?\d\d:\d\d:\d\d · away$/);
    const captionOf = () => h.tg.message(group.id, alert.message_id)!.caption ?? "";

    // While he stands there, the caption says for how long.
    await h.tg.waitFor((r) => r.method === "editMessageCaption" && r.ok === true && r.params.message_id === alert.message_id, { after: mark, timeoutMs: 60_000 });
    expect(captionOf()).toMatch(/^Person on porch · \d+% · (\w{3} )?\d\d:\d\d:\d\d · away\nStill there after \d+ s, not moving$/);

    // The clip replaces the photo: the visit's first maxclip seconds (30 by default), from before he came in.
    await h.tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true && r.params.message_id === alert.message_id, { after: mark, timeoutMs: 90_000 });
    const withClip = h.tg.message(group.id, alert.message_id)!;
    expect(withClip.video?.duration).toBeGreaterThanOrEqual(28);
    expect(withClip.video?.duration).toBeLessThanOrEqual(31);
    expect(withClip.caption).toMatch(/\nStill there after/);

    // Two minutes in, still one alert, and the caption has kept up.
    await until(() => /\nStill there after 2 min, not moving$/.test(captionOf()), 150_000, "the caption says 2 min");

    // He leaves at the end of the 3 minutes: the caption says so, and that was the only alert.
    await until(() => /\nLeft at (\w{3} )?\d\d:\d\d:\d\d after 3 min$/.test(captionOf()), 120_000, "the caption says he has gone");
    const photos = h.tg.outputs(group, mark).filter((r) => r.method === "sendPhoto");
    expect(photos).toHaveLength(1);
    const edits = h.tg.outputs(group, mark).filter((r) => r.method === "editMessageCaption");
    expect(edits.length).toBeGreaterThanOrEqual(4); // standing still, 30 s, 1 min, 2 min, gone
    expect(edits.length).toBeLessThanOrEqual(8);

    // /events lists it as one visit of 3 minutes with its clip.
    const events = await h.ask(alice, group, "/events");
    expect(events.caption).toMatch(/^The last 1 event\n1 · (\w{3} )?\d\d:\d\d · porch · person \d+% · 3 min · \d+ s clip$/);
    const stored = h.recorder.status();
    expect(stored.events).toBe(1);
  });
});
