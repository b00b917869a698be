/**
 * The webhook listener on 127.0.0.1, driven over real HTTP: a request signed
 * with the sensor's secret reaches the chat while armed; every bad one (wrong
 * signature, another sensor's secret, an old timestamp, a replay, a huge or
 * malformed body, a wrong method or path) gets a 4xx and changes nothing. The
 * broker going away does not matter to it.
 */
import http from "node:http";
import type { Chat, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook } from "../../src/sensors/webhook.js";
import { filesContaining } from "../support/tmp.js";
import { until } from "../support/wait.js";
import { claim, startHarness, type Harness } from "../bot/harness.js";

const SECRET = "4f1d6c0a9b7e4f21a3c5d7e9f0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a4b6";
const OTHER_SECRET = "0000000000000000000000000000000000000000000000000000000000000001";
let h: Harness;
let alice: User;
let group: Chat;
let port: number;
const logLines: string[] = [];

beforeAll(async () => {
  h = await startHarness({
    logLines,
    setup: async (store) => {
      await store.setWebhook({ host: "127.0.0.1", port: 0 });
      await store.addSensor({ name: "balcony", source: { type: "webhook", secret: SECRET } });
      await store.addSensor({ name: "garage", source: { type: "webhook", secret: OTHER_SECRET } });
    },
  });
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice });
  await claim(h, alice, group);
  await until(() => h.vigil.sources.webhookPort() !== undefined, 10_000, "the listener bound");
  port = h.vigil.sources.webhookPort()!;
  await h.control.arm();
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

interface Sent {
  status: number;
  body: string;
}

function post(path: string, body: string | Buffer, headers: Record<string, string> = {}, method = "POST"): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, headers: { "content-type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" || error.code === "EPIPE" ? resolve({ status: 413, body: "(reset while sending)" }) : reject(error)));
    req.end(body);
  });
}

function signed(body: string, secret = SECRET, timestamp = Date.now()): Record<string, string> {
  const ts = String(timestamp);
  return { "x-vigil-timestamp": ts, "x-vigil-signature": signWebhook(secret, ts, body) };
}

const balcony = () => h.vigil.sensors.states().find((s) => s.sensor.name === "balcony")!;

describe("the webhook listener", () => {
  it("takes a signed request: the balcony door opening is in the chat while armed", async () => {
    const closed = JSON.stringify({ state: "closed", battery: 64, battery_low: true });
    expect((await post("/sensor/balcony", closed, signed(closed))).status).toBe(204);
    await until(() => balcony().open === false, 10_000, "closed");
    // Clear of Telegram's 1 message a second per chat (the claim's answer), so the figure is the webhook's.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const mark = h.tg.mark();
    const sent = Date.now();
    const open = JSON.stringify({ state: "open" });
    expect((await post("/sensor/balcony", open, signed(open))).status).toBe(204);
    const message = await h.tg.nextMessage(group, { after: mark, timeoutMs: 10_000 });
    console.log(`webhook → chat: ${Date.now() - sent} ms`);
    expect(message.text).toMatch(/^Balcony opened · (\w{3} )?\d\d:\d\d:\d\d$/);
    expect(balcony().battery).toBe(64);
    expect(balcony().batteryLow).toBe(true);
  });

  it("refuses every bad request with a 4xx, and nothing changes", async () => {
    const mark = h.tg.mark();
    const closed = JSON.stringify({ state: "closed" });
    const old = Math.floor(Date.now() / 1000) - 120;
    const replayBody = JSON.stringify({ state: "closed", battery: 11 });
    const replayHeaders = signed(replayBody);
    // A first, good one, that the replay copies.
    expect((await post("/sensor/balcony", replayBody, replayHeaders)).status).toBe(204);
    await until(() => balcony().open === false, 10_000, "closed");
    const afterGood = JSON.stringify(h.vigil.sensors.states().map((s) => [s.open, s.changedAt, s.battery]));
    const cases: [string, Promise<Sent>, number][] = [
      ["a replay of that very request", post("/sensor/balcony", replayBody, replayHeaders), 401],
      ["no signature", post("/sensor/balcony", closed), 401],
      ["a wrong signature", post("/sensor/balcony", closed, { ...signed(closed), "x-vigil-signature": `sha256=${"ab".repeat(32)}` }), 401],
      ["another sensor's secret", post("/sensor/balcony", closed, signed(closed, OTHER_SECRET)), 401],
      ["a signature of another body", post("/sensor/balcony", JSON.stringify({ state: "open" }), signed(closed)), 401],
      ["a timestamp changed after signing", post("/sensor/balcony", closed, { ...signed(closed), "x-vigil-timestamp": String(Date.now() + 1) }), 401],
      ["an old timestamp, correctly signed", post("/sensor/balcony", closed, signed(closed, SECRET, old)), 401],
      ["a sensor that does not exist", post("/sensor/nobody", closed, signed(closed)), 401],
      ["a path that is not a sensor", post("/../../etc/passwd", closed, signed(closed)), 401],
      ["a huge body", post("/sensor/balcony", Buffer.alloc(2 * 1024 * 1024, 0x20), signed("x")), 413],
      ["malformed JSON, signed", post("/sensor/balcony", '{"state": "op', signed('{"state": "op')), 400],
      ["the wrong shape, signed", post("/sensor/balcony", '{"state": true}', signed('{"state": true}')), 400],
      ["an array, signed", post("/sensor/balcony", "[1]", signed("[1]")), 400],
      ["GET", post("/sensor/balcony", "", {}, "GET"), 405],
    ];
    for (const [what, request, status] of cases) expect({ what, status: (await request).status }).toEqual({ what, status });
    expect(JSON.stringify(h.vigil.sensors.states().map((s) => [s.open, s.changedAt, s.battery]))).toBe(afterGood);
    await h.ask(alice, group, "/cameras");
    expect(h.tg.outputs(group, mark).filter((r) => r.method !== "sendMessage" || !String(r.params.text).startsWith("No cameras"))).toHaveLength(0);
    // One line per second at most, however many requests were refused; the secrets in none.
    const refused = logLines.filter((l) => l.includes("webhook: refused"));
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThan(cases.length);
    expect(logLines.join("\n")).not.toContain(SECRET);
    expect(await filesContaining(h.dir, SECRET)).toEqual([]);
  }, 60_000);

  it("while disarmed, a good request is taken (the state changes) but nothing reaches the chat", async () => {
    await h.control.disarm();
    const mark = h.tg.mark();
    const open = JSON.stringify({ state: "open" });
    expect((await post("/sensor/balcony", open, signed(open))).status).toBe(204);
    await until(() => balcony().open === true, 10_000, "open");
    await h.ask(alice, group, "/cameras");
    expect(h.tg.outputs(group, mark).filter((r) => typeof r.params.text === "string" && r.params.text.includes("opened"))).toHaveLength(0);
    const closed = JSON.stringify({ state: "closed" });
    expect((await post("/sensor/balcony", closed, signed(closed))).status).toBe(204);
    await h.control.arm();
  });

  it("answers nothing secret, and a request that sends no body at all is refused too", async () => {
    const empty = await post("/sensor/balcony", "", signed(""));
    expect(empty.status).toBe(400);
    expect(empty.body).not.toContain(SECRET);
    expect(empty.body).not.toMatch(/sha256=/);
  });
});
