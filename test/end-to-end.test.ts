/**
 * End to end, every part real, as a user runs Vigil: the compiled `vigil init`
 * and `vigil start` as separate processes (`npm test` builds dist/ first; after
 * changing src/, `npm run build` before running this file alone), grammY's
 * client against the Bot API stand-in, one camera on the real RTSP server looping
 * the wallflower clip (a swaying tree for 24 s, then a person walks in). Claim
 * from the printed code, add the camera through the chat, arm: exactly one photo
 * alert, within 2 s of the person's entry and none before; /snapshot answers with
 * a picture; after /disarm the next visit brings nothing.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatsSnapshot } from "../src/app/stats-file.js";
import { BotApiStandIn, imageSize } from "./support/bot-api/index.js";
import { addCameraByChat, createChatDriver } from "./support/chat.js";
import { startVigil, vigil, type RunningVigil } from "./support/cli.js";
import { footage, startRtspServer, type RtspTestServer } from "./support/rtsp-server.js";
import { tempDir } from "./support/tmp.js";
import { sleepUntil } from "./support/wait.js";

/** wallflower_wavingtrees: the person walks in at 24.2 s of each 28.7 s loop and is gone by 25.8 s. */
const ENTRY_SECONDS = 24.2;
const VISIT_MS = 1600;

let tg: BotApiStandIn;
let rtsp: RtspTestServer;
let dir: string;
let env: Record<string, string>;
let running: RunningVigil | undefined;

beforeAll(async () => {
  tg = await BotApiStandIn.start();
  // The camera's sub-stream: 640x360 at the clip's own 10 fps.
  rtsp = await startRtspServer({ mounts: [{ name: "cam1", clip: footage("wallflower_wavingtrees_10fps.mp4"), clipOptions: { width: 640, height: 360 } }] });
  dir = await tempDir();
  env = { VIGIL_DATA_DIR: path.join(dir, "data"), VIGIL_PASSPHRASE: "end to end passphrase", VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "info" };
  const init = await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: tg.token }, undefined, { compiled: true });
  expect(init.code, init.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await running?.stop();
  await rtsp?.close();
  await tg?.close();
});

describe("end to end", () => {
  it("claim, add the camera in the chat, arm: one alert per visit, a snapshot on demand, nothing once disarmed", { timeout: 300_000 }, async () => {
    const statsFile = path.join(dir, "stats.json");
    running = startVigil(env, { compiled: true, args: ["--stats-file", statsFile] });
    const code = await running.claimCode();
    const chat = createChatDriver(tg);
    const alice: User = tg.user({ firstName: "Alice" });
    const home: Chat = tg.group({ title: "Home", owner: alice, botIsAdmin: true });
    await tg.waitFor((r) => r.method === "getUpdates", { arrived: true, timeoutMs: 120_000 });
    expect((await chat.ask(alice, home, `/claim ${code}`)).text).toMatch(/^Vigil is yours\./);
    expect((await addCameraByChat(tg, chat, alice, home, { name: "cam1", url: rtsp.url("cam1") })).text).toMatch(/^Saved cam1\./);
    expect((await chat.ask(alice, home, "/arm")).text).toBe("Armed away: cam1 will alert here.");

    // The next visit at least 5 s away: the camera is connected and past its first second by then.
    const armedAt = tg.mark();
    const entry = rtsp.frameTimes("cam1", ENTRY_SECONDS).find((t) => t > Date.now() + 5000)!;
    await sleepUntil(entry + VISIT_MS + 5000);
    const photos = tg.outputs(home, armedAt).filter((r) => r.method === "sendPhoto");
    expect(photos.map((r) => (r.result as Message).caption)).toEqual([expect.stringMatching(/^Person on cam1 · \d+% · (\w{3} )?\d\d:\d\d:\d\d · away$/)]);
    const delayMs = photos[0]!.at - entry;
    expect(delayMs, "the alert arrives after the person walks in, and within 2 s").toBeGreaterThanOrEqual(0);
    expect(delayMs).toBeLessThanOrEqual(2000);

    const snapshot = await chat.ask(alice, home, "/snapshot cam1");
    expect(snapshot.photo).toBeDefined();
    expect(imageSize(tg.media(snapshot)!)).toEqual({ width: 640, height: 360 });

    expect((await chat.ask(alice, home, "/disarm")).text).toBe("Disarmed: no alerts until /arm.");
    const disarmedAt = tg.mark();
    const nextEntry = rtsp.frameTimes("cam1", ENTRY_SECONDS).find((t) => t > Date.now() + 1000)!;
    await sleepUntil(nextEntry + VISIT_MS + 5000);
    expect(tg.outputs(home, disarmedAt).filter((r) => r.method === "sendPhoto")).toEqual([]);

    // What `--stats-file` says about the camera it ran: online, every frame decided, the detector used.
    const stats = JSON.parse(await fs.readFile(statsFile, "utf8")) as StatsSnapshot;
    expect(stats.cameras).toHaveLength(1);
    const [cam] = stats.cameras;
    expect(cam).toMatchObject({ name: "cam1", state: "online" });
    expect(cam!.framesIn).toBeGreaterThan(100);
    // Every frame but those a newer one replaced at the detector (and one being handled as the file was written).
    expect(cam!.frameAges.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(cam!.framesIn - cam!.superseded - 1);
    expect(cam!.detectorRuns).toBeGreaterThan(0);

    expect(await running.stop()).toBe(0);
    expect(running.output()).not.toContain(tg.token.split(":")[1]!);
  });
});
