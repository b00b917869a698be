/**
 * The cats case, end to end: a real camera (the wallflower clip, a person
 * walking in every 28.7 s) set to `afterdoor 1`, linked to a door. Its visits
 * alert nothing while the door has not opened (cats do not open the door),
 * and alert as usual in the minute after it opened.
 */
import type { Chat, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/sensors/webhook.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { until } from "../support/wait.js";
import { claim, startHarness, type Harness } from "../bot/harness.js";

const SECRET = "a".repeat(64);
let rtsp: RtspTestServer;
let h: Harness;
let alice: User;
let group: Chat;

beforeAll(async () => {
  rtsp = await startRtspServer({ mounts: [{ name: "hall", clip: footage("wallflower_wavingtrees_10fps.mp4"), clipOptions: { width: 640, height: 360 } }] });
  h = await startHarness({
    setup: async (store) => {
      await store.setWebhook({ host: "127.0.0.1", port: 0 });
      await store.addCamera({ name: "hall", url: rtsp.url("hall") });
      await store.updateSettings("hall", { afterDoor: 1 });
      await store.addSensor({ name: "front_door", source: { type: "webhook", secret: SECRET } });
      await store.linkSensor("front_door", ["hall"]);
    },
  });
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice });
  await claim(h, alice, group);
  await h.control.arm();
}, 120_000);
afterAll(async () => {
  await h?.stop();
  await rtsp?.close();
});

async function door(state: "open" | "closed"): Promise<void> {
  const body = JSON.stringify({ state });
  const ts = String(Date.now());
  const res = await fetch(`http://127.0.0.1:${h.vigil.sources.webhookPort()}/sensor/front_door`, { method: "POST", body, headers: { "x-vigil-timestamp": ts, "x-vigil-signature": signWebhook(SECRET, ts, body) } });
  expect(res.status).toBe(204);
}

const visits = async () => (await h.control.status()).cameras[0]?.live?.visits ?? 0;
const photos = (after: number) => h.tg.outputs(group, after).filter((r) => r.method === "sendPhoto");
/** The photo captions sent since `after`, as the chat shows them (no HTML). */
const captions = (after: number) => photos(after).map((r) => (typeof r.params.caption === "string" ? r.params.caption.replace(/<[^>]+>/g, "") : ""));

describe("afterdoor", () => {
  it("a visit while the door has not opened alerts nothing; one in the minute after it opened alerts", async () => {
    await until(() => h.vigil.sources.webhookPort() !== undefined, 10_000, "the listener");
    await door("closed");
    const mark = h.tg.mark();
    // The pipeline sees the person (a visit) but the camera may not alert.
    await until(async () => (await visits()) >= 1, 90_000, "a visit on the camera");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(photos(mark)).toHaveLength(0);
    expect((await h.control.events()).events).toHaveLength(0);

    await door("open");
    const seen = await visits();
    const opened = h.tg.mark();
    // The door's own alert (with the hall's picture), then the person's on the next pass.
    await until(() => captions(opened).some((c) => c.startsWith("Person on hall")), 90_000, "the person alerted after the door opened");
    expect(await visits()).toBeGreaterThan(seen);
    expect(captions(opened).some((c) => c.startsWith("Front door opened"))).toBe(true);
    await door("closed");
  }, 200_000);
});
