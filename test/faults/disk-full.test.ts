/**
 * A full data disk, end to end: `vigil start` with its data directory on a real
 * 32 MB filesystem, a real camera, the chat through the Bot API stand-in. While
 * another program keeps the disk full, the next alert still reaches the chat
 * with its photo (the outbox keeps it in memory) and /status says clips are
 * paused; once the space is back, alerts get their clips again. Nothing on the
 * disk is readable without the key.
 */
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiStandIn } from "../support/bot-api/index.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { SmallFsShell } from "../support/small-fs.js";
import { jpegStart, tempDir } from "../support/tmp.js";
import { claimAndArm, logFileOutput } from "../support/cli.js";
import { until } from "../support/wait.js";

const VIGIL = "node --import tsx src/cli.ts";

let tg: BotApiStandIn;
let rtsp: RtspTestServer;
let shell: SmallFsShell;
let pid = "";

beforeAll(async () => {
  tg = await BotApiStandIn.start();
  rtsp = await startRtspServer({ mounts: [{ name: "yard", clip: footage("wallflower_wavingtrees_10fps.mp4") }] });
  shell = await SmallFsShell.open(32 * 1024 * 1024);
});
afterAll(async () => {
  if (pid) await shell.run(`kill -KILL ${pid} 2>/dev/null; true`);
  await shell.run(`kill -KILL $FILLER 2>/dev/null; true`);
  await shell.close();
  await rtsp.close();
  await tg.close();
});

/** Runs a command in the small filesystem's shell and expects it to succeed. */
async function sh(command: string): Promise<string> {
  const { code, output } = await shell.run(command);
  if (code !== 0) throw new Error(`\`${command}\` failed (${code}): ${output}`);
  return output;
}

describe("a full data disk", () => {
  it("still sends alerts with their photos, says clips are paused, and records again when space returns", async () => {
    const log = path.join(await tempDir(), "vigil.log"); // on the host's disk, as journald would keep it
    await sh(`export VIGIL_DATA_DIR="$MNT/data" VIGIL_PASSPHRASE="disk full passphrase" VIGIL_TELEGRAM_API_ROOT=${tg.apiRoot} VIGIL_LOG_LEVEL=info`);
    await sh(`VIGIL_BOT_TOKEN=${tg.token} ${VIGIL} init --non-interactive --kdf interactive`);
    await sh(`${VIGIL} camera add yard ${rtsp.url("yard")}`);
    // Vigil's own floor would keep clips from ever filling 32 MB; the other program is what fills it here.
    await sh(`${VIGIL} events retention --min-free 1MB`);
    pid = (await sh(`${VIGIL} start > ${log} 2>&1 & echo $!`)).trim();
    const output = logFileOutput(log);
    const { alice, group } = await claimAndArm(tg, output);

    // Recording works: an alert arrives as a photo, then turns into its clip.
    const first = await tg.nextMessage(group, { method: "sendPhoto", timeoutMs: 120_000 });
    expect(first.caption).toMatch(/^Person on yard/);
    await tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true && r.params.message_id === first.message_id, { timeoutMs: 90_000 });

    // Another program fills the disk and keeps it full (whatever Vigil's retention frees, it takes).
    await sh(`(while :; do cat /dev/zero >> "$MNT/ballast" 2>/dev/null; sleep 0.02; done) & FILLER=$!`);
    await sh(`sleep 1; test "$(df -k --output=avail "$MNT" | tail -1 | tr -d ' ')" -lt 64`);
    let mark = tg.mark();
    const whileFull = await tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 120_000 });
    expect(whileFull.caption).toMatch(/^Person on yard/);
    expect(await sharp(tg.media(whileFull)).metadata()).toMatchObject({ format: "jpeg", width: 640, height: 360 });
    expect(await output()).toContain("the outbox cannot be written (disk full or failing)");
    // The alert's own snapshot may still find room (retention frees the oldest event for it, before the other
    // program takes that space too); its clip, written after the post-roll, cannot. Once that has failed, /status.
    await until(async () => /disk full: clip not kept|the alert is not in the history \(disk full\)/.test(await output()), 120_000, "the clip of the alert hits the full disk");
    const status = tg.send(alice, group, "/status");
    expect((await tg.nextMessage(group, { after: status.mark, timeoutMs: 60_000 })).text).toMatch(/Clips paused: .*(disk|space)/i);

    // The space comes back: the next alert gets its clip again.
    await sh(`kill $FILLER; wait $FILLER 2>/dev/null; rm "$MNT/ballast"`);
    mark = tg.mark();
    const after = await tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 120_000 });
    await tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true && r.params.message_id === after.message_id, { after: mark, timeoutMs: 90_000 });

    // A clean stop, and nothing on the disk in clear: no JPEG, no MP4, no token.
    expect((await sh(`kill -TERM ${pid}; wait ${pid}; echo "exit $?"`)).trim()).toBe("exit 0");
    pid = "";
    // The start of the JPEGs Vigil writes (the same in every one), as a grep -P pattern.
    const jpeg = [...jpegStart(tg.media(whileFull)!)].map((byte) => `\\x${byte.toString(16).padStart(2, "0")}`).join("");
    for (const needle of [jpeg, "ftyp", tg.token.split(":")[1]!]) {
      expect(await sh(`LC_ALL=C grep -rlaP '${needle}' "$MNT/data" | wc -l`), needle).toBe("0\n");
    }
    expect(await output()).not.toMatch(/could not queue an event|unhandled|TypeError/);
  });
});
