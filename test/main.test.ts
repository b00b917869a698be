/**
 * `vigil start` as a separate process against the Bot API stand-in and a real
 * RTSP camera, as a user runs it: the claim line on stdout, the claim from the
 * chat, a real alert, then Telegram goes away, a person walks in, Vigil is
 * killed with SIGKILL and started again: the alert still arrives, once, followed
 * by the restart notice. Neither the token nor the camera password shows up in
 * what the process printed or in the data directory.
 */
import path from "node:path";
import type { Message } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiStandIn } from "./support/bot-api/index.js";
import { claimAndArm, killAllVigils, startVigil, vigil } from "./support/cli.js";
import { footage, startRtspServer, type RtspTestServer } from "./support/rtsp-server.js";
import { filesContaining, tempDir } from "./support/tmp.js";

const PASSPHRASE = "process test passphrase";
const CAMERA_PASSWORD = "Yard-Cam-pw-31x";
/** The person enters wallflower_wavingtrees at 24.2 s of each loop. */
const ENTRY_SECONDS = 24.2;

let tg: BotApiStandIn;
let rtsp: RtspTestServer;
let dataDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  tg = await BotApiStandIn.start();
  rtsp = await startRtspServer({ mounts: [{ name: "yard", clip: footage("wallflower_wavingtrees_10fps.mp4") }], auth: { user: "admin", password: CAMERA_PASSWORD } });
  dataDir = path.join(await tempDir(), "data");
  env = { VIGIL_DATA_DIR: dataDir, VIGIL_PASSPHRASE: PASSPHRASE, VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "info" };
  expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: tg.token })).code).toBe(0);
  expect((await vigil(["camera", "add", "yard", rtsp.url("yard", null), "--username", "admin", "--password-stdin"], env, `${CAMERA_PASSWORD}\n`)).code).toBe(0);
}, 180_000);
afterAll(async () => {
  killAllVigils();
  await rtsp?.close();
  await tg?.close();
});

describe("vigil start", () => {
  it("claim from the printed code, alert, SIGKILL during an outage, restart: the alert arrives once, then the restart notice", { timeout: 400_000 }, async () => {
    const first = startVigil(env);
    const { group, code, armed } = await claimAndArm(tg, first.output);
    expect(first.output()).toContain(`Send this in your Telegram group to make it Vigil's: /claim ${code}`);
    expect(armed.text).toBe("Armed away: yard will alert here.");

    // A person walks in: the photo alert arrives.
    let mark = tg.mark();
    const alert = await tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 120_000 });
    expect(alert.caption).toMatch(/^Person on yard/);

    // Telegram goes away; the person walks in again; Vigil is killed before it can send.
    await tg.refuseConnections();
    const entry = rtsp.frameTimes("yard", ENTRY_SECONDS).find((t) => t > Date.now() + 3000)!;
    await new Promise((r) => setTimeout(r, entry + 12_000 - Date.now()));
    first.child.kill("SIGKILL");
    await first.exited;

    // Started again, with Telegram back: the queued alert, once, then the notice.
    mark = tg.mark();
    await tg.acceptConnections();
    const second = startVigil(env);
    const queued = await tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 120_000 });
    expect(queued.caption).toMatch(/^Person on yard/);
    const notice = await tg.nextMessage(group, { after: mark, method: "sendMessage", timeoutMs: 60_000 });
    expect(notice.text).toMatch(/^Vigil restarted after a crash at (\w{3} )?\d\d:\d\d; 1 alert was queued and has been sent\.$/);
    const sendsAfter = tg.outputs(group, mark);
    expect(sendsAfter.findIndex((r) => r.method === "sendMessage")).toBeGreaterThan(sendsAfter.findIndex((r) => r.method === "sendPhoto"));
    expect(sendsAfter.filter((r) => r.method === "sendPhoto" && (r.result as Message).caption?.startsWith("Person on yard") && (r.result as Message).message_id === queued.message_id)).toHaveLength(1);

    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    for (const run of [first, second]) {
      expect(run.output()).not.toContain(tg.token.split(":")[1]!);
      expect(run.output()).not.toContain(CAMERA_PASSWORD);
    }
    expect(await filesContaining(dataDir, tg.token.split(":")[1]!)).toEqual([]);
    expect(await filesContaining(dataDir, CAMERA_PASSWORD)).toEqual([]);
  });
});
