/**
 * The Pi camera as a user runs Vigil on a Pi: the compiled `vigil camera add
 * garden picam:0…` and `vigil start` (`npm test` builds dist/ first; after
 * changing src/, `npm run build` before running this file alone), with
 * rpicam-vid played by the stand-in (VIGIL_RPICAM) showing a man who walks in
 * every 12 s. Claim, fit the detection size to the 4:3 stream, arm: his alert
 * photo, then its clip in its place, all from one rpicam-vid that detection and
 * recording share; stopping Vigil stops it.
 */
import path from "node:path";
import type { Chat, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiStandIn } from "./support/bot-api/index.js";
import { createChatDriver } from "./support/chat.js";
import { startVigil, vigil, type RunningVigil } from "./support/cli.js";
import { repeatedVisits } from "./support/made-footage.js";
import { installRpicamStandIn, type RpicamStandIn } from "./support/rpicam-stand-in.js";
import { tempDir } from "./support/tmp.js";

let tg: BotApiStandIn;
let camera: RpicamStandIn;
let env: Record<string, string>;
let running: RunningVigil | undefined;

beforeAll(async () => {
  tg = await BotApiStandIn.start();
  camera = await installRpicamStandIn((await repeatedVisits([10, 10, 10], 8)).file);
  const dir = await tempDir();
  env = { VIGIL_DATA_DIR: path.join(dir, "data"), VIGIL_PASSPHRASE: "pi camera passphrase", VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "info", VIGIL_RPICAM: camera.binary };
  const init = await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: tg.token }, undefined, { compiled: true });
  expect(init.code, init.stderr).toBe(0);
  const add = await vigil(["camera", "add", "garden", "picam:0?width=320&height=240&fps=10"], env, undefined, { compiled: true });
  expect(add.stdout.trim(), add.stderr).toBe("Added camera garden (picam:0?width=320&height=240&fps=10).");
}, 180_000);

afterAll(async () => {
  await running?.stop();
  await tg?.close();
});

describe("the Pi camera in a running Vigil", () => {
  it("alerts with a photo and then the clip, from one rpicam-vid for detection and recording, stopped with Vigil", { timeout: 300_000 }, async () => {
    running = startVigil(env, { compiled: true });
    const code = await running.claimCode();
    const chat = createChatDriver(tg);
    const alice: User = tg.user({ firstName: "Alice" });
    const home: Chat = tg.group({ title: "Home", owner: alice, botIsAdmin: true });
    await tg.waitFor((r) => r.method === "getUpdates", { arrived: true, timeoutMs: 120_000 });
    expect((await chat.ask(alice, home, `/claim ${code}`)).text).toMatch(/^Vigil is yours\./);
    // The stream is 4:3: detect at its own size, as the README says.
    expect((await chat.ask(alice, home, "/set garden size 320x240")).text).toMatch(/^size is now 320x240 on garden/);
    expect((await chat.ask(alice, home, "/arm")).text).toBe("Armed away: garden will alert here.");
    const armed = tg.mark();

    const alert = await tg.nextMessage(home, { after: armed, method: "sendPhoto", timeoutMs: 90_000 });
    expect(alert.caption).toMatch(/^Person on garden · \d+% · (\w{3} )?\d\d:\d\d:\d\d · away$/);
    await tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true && r.params.message_id === alert.message_id, { after: armed, timeoutMs: 90_000 });
    expect((await chat.ask(alice, home, "/status")).text).toMatch(/\ngarden: online/);

    // One rpicam-vid all along (a size change restarts detection's decoder, not the camera), with the real options.
    const runs = await camera.runs();
    expect(runs.filter((r) => r.start)).toHaveLength(1);
    expect(runs[0]!.argv.join(" ")).toBe("--camera 0 -t 0 --nopreview --codec h264 --inline --width 320 --height 240 --framerate 10 --intra 10 --flush -o -");
    expect(await running.stop()).toBe(0);
    // Let go cleanly on Vigil's way out: SIGINT, then its exit.
    expect(await camera.runs()).toMatchObject([{ code: 0 }]);
  });
});
