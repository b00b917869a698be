/**
 * A whole session of use, with `vigil start` as a process the way systemd runs
 * it (a NOTIFY_SOCKET, a watchdog) and every ffmpeg it starts recorded by a
 * wrapper that logs the exact argv it got, then execs ffmpeg:
 *
 * - hostile camera URLs and absurd values, from the CLI and the chat, each get
 *   one sentence; a crafted playlist that points at a local video shows nothing;
 *   no ffmpeg ever gets an argument that reads a local file;
 * - a camera added in the chat with a password, an alert with its clip, the
 *   everyday commands;
 * - SIGTERM with messages queued during an outage: READY, WATCHDOG and STOPPING
 *   reach systemd, every ffmpeg child is gone, exit 0; the next start sends what
 *   was queued and says nothing about a crash; SIGINT stops it as cleanly;
 * - afterwards neither the bot token nor any camera password is in the data
 *   directory or in anything Vigil logged (at debug level).
 *
 * `vigil start` is the compiled one, as systemd runs it (`npm run test:faults` builds it;
 * after changing src/, `npm run build` before running this file alone): run through tsx
 * it would have tsx's esbuild helpers as children too, which end after Vigil does.
 */
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiStandIn } from "../support/bot-api/index.js";
import { NotifySocket } from "../support/notify-socket.js";
import { childProcesses, isDecoder, stillThere } from "../support/process-info.js";
import { footage, prepareClip, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { filesContaining, tempDir } from "../support/tmp.js";
import { claimAndArm, killAllVigils, startVigil, vigil, type RunningVigil } from "../support/cli.js";

const CHAT_PASSWORD = "Yard'pw $(x) 9%";
const CLI_PASSWORD = "drive-Pw-7731";
const SENTENCE = /^[^\n]+[.?]$/;

let tg: BotApiStandIn;
let yard: RtspTestServer;
let drive: RtspTestServer;
let playlistServer: http.Server;
let notify: NotifySocket;
let work: string;
let argvLog: string;
let env: Record<string, string>;
/** The local video a crafted playlist points at: if ffmpeg ever read it, the chat would see its picture. */
let secretVideo: string;

beforeAll(async () => {
  tg = await BotApiStandIn.start();
  yard = await startRtspServer({ mounts: [{ name: "yard", clip: footage("wallflower_wavingtrees_10fps.mp4") }], auth: { user: "admin", password: CHAT_PASSWORD } });
  drive = await startRtspServer({ mounts: [{ name: "drive", clip: footage("bgslibrary_video03_road-traffic-trees.avi"), clipOptions: { width: 320, height: 240, fps: 5 } }], auth: { user: "admin", password: CLI_PASSWORD } });
  work = await tempDir();
  secretVideo = path.join(work, "secret.ts");
  await fs.copyFile((await prepareClip(footage("opencv-vtest_480x360_10fps.mp4"))).file, secretVideo);
  playlistServer = http.createServer((req, res) => {
    const playlist = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nfile://${secretVideo}\n#EXT-X-ENDLIST\n`;
    res.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" }).end(req.url === "/cam.m3u8" ? playlist : "");
  });
  await new Promise<void>((resolve) => playlistServer.listen(0, "127.0.0.1", resolve));
  // Logs every ffmpeg argv exactly (NUL after each argument, a newline after each run), then becomes ffmpeg.
  argvLog = path.join(work, "ffmpeg-argv.log");
  const wrapper = path.join(work, "ffmpeg");
  await fs.writeFile(wrapper, `#!/bin/sh\n{ printf '%s\\0' "$@"; printf '\\n'; } >> '${argvLog}'\nexec ffmpeg "$@"\n`, { mode: 0o755 });
  notify = await NotifySocket.open(work);
  env = { VIGIL_DATA_DIR: path.join(work, "data"), VIGIL_PASSPHRASE: "session passphrase", VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "debug", VIGIL_FFMPEG: wrapper };
});
afterAll(async () => {
  killAllVigils();
  notify?.close();
  await new Promise<void>((resolve) => (playlistServer ? playlistServer.close(() => resolve()) : resolve()));
  await yard?.close();
  await drive?.close();
  await tg?.close();
});

/** Every ffmpeg run so far: its arguments. */
async function ffmpegRuns(): Promise<string[][]> {
  const text = await fs.readFile(argvLog, "utf8").catch(() => "");
  return text.split("\0\n").filter(Boolean).map((run) => run.split("\0"));
}

describe("a whole session", () => {
  const runs: RunningVigil[] = [];
  let alice: User;
  let group: Chat;

  it("refuses hostile camera URLs from the CLI in one sentence, and adds a real one", async () => {
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: tg.token })).code).toBe(0);
    const hostile = ["concat:/etc/passwd|/etc/shadow", "file:///etc/passwd", "rtsp://cam/$(reboot)", "rtsp://cam/a;rm -rf /", "http://cam/`id`", "ftp://cam/x", "rtsp://cam/%zz"];
    const cli = { ...env, VIGIL_LOG_LEVEL: "info" }; // at debug level the CLI adds the error's detail on stderr
    for (const url of hostile) {
      const result = await vigil(["camera", "add", "bad", url], cli);
      expect(result.code, url).toBe(1);
      expect(result.stderr.trim(), url).toMatch(SENTENCE);
    }
    const snapshot = await vigil(["camera", "add", "bad", drive.url("drive", null), "--snapshot-url", "file:///etc/passwd"], cli);
    expect(snapshot.stderr.trim()).toBe("Camera streams must be rtsp://, rtsps://, http:// or https:// URLs; file: is not allowed.");
    expect((await vigil(["camera", "add", "drive", drive.url("drive", null), "--username", "admin", "--password-stdin"], env, `${CLI_PASSWORD}\n`)).code).toBe(0);
    expect((await vigil(["camera", "list"], env)).stdout).not.toMatch(/\bbad\b/);
  });

  it("starts as systemd expects, and answers hostile URLs and absurd values in the chat in one sentence each", async () => {
    const run = startVigil(env, { compiled: true, extraEnv: { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: "2000000" } });
    runs.push(run);
    expect(await notify.waitFor("READY=1", 120_000)).toContain("STATUS=1 camera(s)");
    await notify.waitFor("WATCHDOG=1", 10_000);
    ({ alice, group } = await claimAndArm(tg, run.output));
    const say = async (text: string) => {
      const sent = tg.send(alice, group, text, { replyTo: lastFromBot() });
      if (!sent.update) throw new Error(`Telegram would not deliver ${JSON.stringify(text)} to the bot (privacy mode)`);
      return tg.nextMessage(group, { after: sent.mark, timeoutMs: 60_000 }).catch((error: Error) => {
        throw new Error(`no answer to ${JSON.stringify(text.slice(0, 80))}; the chat ends with ${JSON.stringify(tg.messages(group).slice(-4).map((m) => (m.text ?? m.caption ?? "").slice(0, 120)))}: ${error.message.split("\n")[0]}`);
      });
    };
    const lastFromBot = () => tg.messages(group).filter((m) => m.from?.id === tg.bot.id).at(-1)!;

    const absurd = ["/set size 99999x99999", "/set size 640x360;reboot", "/set fps 1000000", "/set fps 1e9", "/set fps -1", "/set offline 999999999", "/set sensitivity 99999999999999999999", "/set zone 0,0 5,5 1,1", "/set classes person;rm", `/set drive preroll ${"9".repeat(400)}`];
    const before = (await vigil(["config", "show"], env)).stdout; // read-only: allowed while Vigil runs
    for (const command of absurd) expect((await say(command)).text, command).toMatch(SENTENCE);
    expect((await vigil(["config", "show"], env)).stdout).toBe(before);

    // The add-camera conversation: hostile URLs, then a playlist that points at a local video.
    await tg.nextMessage(group, { after: tg.send(alice, group, "/addcamera").mark, timeoutMs: 60_000 });
    await tg.waitFor((r) => r.ok === true && String(r.params.text).startsWith("What should the camera be called?"), { timeoutMs: 60_000 });
    await say("yard"); // "Looking for cameras on your network…": nothing answers on loopback, then the URL question
    await tg.waitFor((r) => r.ok === true && String(r.params.text).startsWith("The camera's stream URL?"), { timeoutMs: 60_000 });
    // (A path like /etc/passwd reads as a command here, which leaves the conversation: the CLI test has it.)
    for (const url of ["file:///etc/passwd", "concat:/etc/passwd|/etc/shadow", "rtsp://10.0.0.1/$(reboot)", "etc/passwd", "rtsp://cam/%zz", `rtsp://cam/${"x".repeat(600)}`]) {
      expect((await say(url)).text, url).toMatch(SENTENCE);
    }
    const { port } = playlistServer.address() as AddressInfo;
    expect((await say(`http://127.0.0.1:${port}/cam.m3u8`)).text).toBe("The camera's username? Send - if it needs none.");
    let mark = tg.mark();
    tg.send(alice, group, "-", { replyTo: lastFromBot() });
    const failed = await tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && /^Could not open/.test(String(r.params.text)), { after: mark, timeoutMs: 60_000 });
    expect(String(failed.params.text)).toMatch(/: that URL does not give a video stream Vigil can read\. Check the URL: it does not lead to a video stream\.$/);
    expect(tg.outputs(group, mark).filter((r) => r.method === "sendPhoto")).toEqual([]);

    // Then the real camera, with its password, which is deleted from the chat as soon as it is read.
    mark = tg.mark();
    const change = tg.press(alice, tg.message(group.id, (failed.result as Message).message_id)!, "Change URL");
    await tg.answerOf(change);
    await tg.nextMessage(group, { after: mark, timeoutMs: 60_000 });
    expect((await say(yard.url("yard", null))).text).toBe("The camera's username? Send - if it needs none.");
    expect((await say("admin")).text).toBe("The password for admin? I delete your message as soon as I have read it.");
    mark = tg.mark();
    tg.send(alice, group, CHAT_PASSWORD, { replyTo: lastFromBot() });
    const photo = await tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 60_000 });
    expect(photo.caption).toMatch(/^This is what yard sees/);
    mark = tg.mark();
    await tg.answerOf(tg.press(alice, photo, "Save"));
    expect((await tg.nextMessage(group, { after: mark, method: "sendMessage", timeoutMs: 60_000 })).text).toMatch(/^Saved yard\./);

    // An alert with its clip; the everyday commands.
    const alert = await tg.nextMessage(group, { after: mark, method: "sendPhoto", timeoutMs: 120_000 });
    expect(alert.caption).toMatch(/^Person on yard/);
    await tg.waitFor((r) => r.method === "editMessageMedia" && r.ok === true && r.params.message_id === alert.message_id, { after: mark, timeoutMs: 90_000 });
    expect((await say("/snapshot yard")).caption).toMatch(/^yard · /);
    expect((await say("/status")).text).toMatch(/\nyard: online/);
    expect((await say("/set offline 5")).text).toBe("offline is now 5 s on every camera (drive, yard).");
    expect(run.output()).not.toMatch(/Something went wrong|unhandled/i);
  });

  it("stops cleanly on SIGTERM with messages queued during an outage, and sends them on the next start", async () => {
    const run = runs[0]!;
    await tg.refuseConnections();
    await yard.kill(); // an offline notice is queued 5 s later, with Telegram away
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const children = await childProcesses(run.pid);
    expect(children.filter(isDecoder).length).toBeGreaterThanOrEqual(2);
    // Vigil's own decoders (`npm test` builds them) are given no URL at all: the size, the two rates and their frame socket.
    expect(children.some((c) => c.name === "vigil-decode")).toBe(true);
    for (const child of children.filter((c) => c.name === "vigil-decode")) expect(child.argv.slice(1).join(" ")).toMatch(/^\d+ \d+ [\d.]+ [\d.]+ \/\S+\/vigil-frames-\d+-\w+\/\d+\.sock$/);
    // A running ffmpeg got exactly what the wrapper logged.
    const runsSoFar = (await ffmpegRuns()).map((argv) => JSON.stringify(argv));
    for (const child of children.filter((c) => c.name === "ffmpeg")) expect(runsSoFar).toContain(JSON.stringify(child.argv.slice(1)));
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    await notify.waitFor("STOPPING=1", 10_000);
    for (const child of children) expect(await stillThere(child), `${child.name} ${child.pid} survived`).toBe(false);
    expect((await vigil(["health"], env)).code).toBe(1); // the lock is released

    // Telegram is back: the next start sends the queued notice, and no crash notice.
    await tg.acceptConnections();
    const mark = tg.mark();
    const next = startVigil(env, { compiled: true });
    runs.push(next);
    const queued = await tg.nextMessage(group, { after: mark, timeoutMs: 120_000 });
    expect(queued.text).toMatch(/^yard is offline: (the stream ended|the camera refused the connection \(wrong port, or the stream is off\))\. Last picture at (\w{3} )?\d\d:\d\d\.$/);
    await yard.restart();
    await tg.waitFor((r) => r.ok === true && /^yard is back online after \d+ s offline\.$/.test(String(r.params.text)), { after: mark, timeoutMs: 120_000 });
    expect(tg.outputs(group, mark).some((r) => String(r.params.text).startsWith("Vigil restarted"))).toBe(false);
    const nextChildren = await childProcesses(next.pid);
    next.child.kill("SIGINT");
    expect(await next.exited).toBe(0);
    for (const child of nextChildren) expect(await stillThere(child), `${child.name} ${child.pid} survived`).toBe(false);
  });

  it("never gave ffmpeg an argument that reads a local file", async () => {
    const all = await ffmpegRuns();
    // Cameras reach ffmpeg by URL when they are checked (`camera add`, /addcamera), and through
    // Vigil's own client on its stdin where Vigil's decoder is not built; Vigil's decoders take no URL (checked above).
    const cameraRuns = all.filter((argv) => argv.some((a) => /^(rtsps?|https?):\/\//.test(a)) || (argv.includes("pipe:0") && argv.includes("h264")));
    expect(cameraRuns.length).toBeGreaterThan(0);
    for (const argv of all) {
      // Vigil's own inputs (a clip being joined in its RAM folder, stdin) or a camera URL behind a whitelist without file.
      argv.forEach((arg, i) => {
        if (argv[i - 1] !== "-i") return;
        if (/^(rtsps?|https?):\/\//.test(arg)) {
          const whitelist = argv[argv.lastIndexOf("-protocol_whitelist", i) + 1] ?? "";
          expect(argv.lastIndexOf("-protocol_whitelist", i), arg).toBeGreaterThanOrEqual(0);
          expect(whitelist.split(","), arg).not.toContain("file");
          expect(whitelist.split(","), arg).not.toContain("concat");
        } else {
          expect(arg, argv.join(" ")).toMatch(/^(pipe:\d?|-|\/dev\/shm\/vigil-clip-\d+-\w+\/[\w.-]+)$/);
        }
      });
      expect(argv.join(" "), "the crafted playlist's target").not.toContain(secretVideo);
      expect(argv.join(" ")).not.toMatch(/\/etc\/passwd|concat:|\$\(|`/);
    }
    const { port } = playlistServer.address() as AddressInfo;
    expect(cameraRuns.some((argv) => argv.includes(`http://127.0.0.1:${port}/cam.m3u8`))).toBe(true);
  });

  it("left neither the token nor a camera password in the data directory or in anything Vigil logged", async () => {
    const logs = path.join(work, "logs");
    await fs.mkdir(logs);
    for (const [i, run] of runs.entries()) await fs.writeFile(path.join(logs, `vigil-${i}.log`), run.output());
    await fs.writeFile(path.join(logs, "notify.log"), notify.messages.join("\n"));
    const secrets = [tg.token, tg.token.split(":")[1]!, CHAT_PASSWORD, encodeURIComponent(CHAT_PASSWORD), CLI_PASSWORD];
    for (const secret of secrets) {
      expect(await filesContaining(env.VIGIL_DATA_DIR!, secret), secret).toEqual([]);
      expect(await filesContaining(logs, secret), secret).toEqual([]);
    }
    // The debug log is not empty: it has ffmpeg's command lines, with the passwords masked.
    expect(runs[0]!.output()).toMatch(/rtsp:\/\/admin:\*\*\*@127\.0\.0\.1/);
    expect((await fs.readdir("/dev/shm")).filter((n) => runs.some((r) => n.startsWith(`vigil-clip-${r.pid}-`)))).toEqual([]);
  });
});
