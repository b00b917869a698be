/**
 * Cameras that drop, with `vigil start` as a process and real RTSP servers: a
 * server killed and restarted, a camera that stalls while its server stays up,
 * a wrong password, and (in a private network) a camera whose address goes
 * away. Each time the chat is told `offline` with the reason after the
 * camera's debounce and `back online` when it returns; the waits between
 * attempts are the ones backoff.ts promises (asserted on Vigil's own log); and
 * over 120 reconnects no ffmpeg is left behind and no file descriptor leaks.
 * How fast a camera is back is measured by `npm run soak`; here only generous
 * bounds are asserted. `vigil start` is the compiled one (`npm run test:faults` builds
 * it; after changing src/, `npm run build` before running this file alone), so its
 * children are Vigil's own: through tsx they include tsx's esbuild helpers, which end
 * after Vigil does.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Chat, User } from "grammy/types";
import type { StatsSnapshot } from "../../src/app/stats-file.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiStandIn } from "../support/bot-api/index.js";
import { footage, RtspTestServer, startRtspServer } from "../support/rtsp-server.js";
import { runInPrivateNetwork } from "../support/small-fs.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";
import { claimAndArm, killAllVigils, startVigil, vigil, type RunningVigil } from "../support/cli.js";
import { childProcesses, isDecoder, logLines, openFiles, stillThere } from "../support/process-info.js";

/** Footage without people: no alert interrupts what the chat is told. */
const ROAD = { clip: footage("bgslibrary_video03_road-traffic-trees.avi"), clipOptions: { width: 320, height: 240, fps: 5 } };

let tg: BotApiStandIn;
const servers: RtspTestServer[] = [];
beforeAll(async () => {
  tg = await BotApiStandIn.start();
});
afterAll(async () => {
  killAllVigils();
  await Promise.all(servers.map((s) => s.close()));
  await tg?.close();
});

async function server(options: Parameters<typeof startRtspServer>[0]): Promise<RtspTestServer> {
  const started = await startRtspServer(options);
  servers.push(started);
  return started;
}

/** A store with these cameras, and Vigil started on it (logging at debug level), claimed from a new group. */
async function startWith(cameras: { name: string; url: string; password?: string }[], args: string[] = []): Promise<{ vigil: RunningVigil; env: Record<string, string>; alice: User; group: Chat }> {
  const env = { VIGIL_DATA_DIR: path.join(await tempDir(), "data"), VIGIL_PASSPHRASE: "camera drops", VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "debug" };
  expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: tg.token })).code).toBe(0);
  for (const camera of cameras) {
    const args = ["camera", "add", camera.name, camera.url, ...(camera.password ? ["--username", "admin", "--password-stdin"] : [])];
    expect((await vigil(args, env, camera.password ? `${camera.password}\n` : undefined)).code).toBe(0);
  }
  const started = startVigil(env, { compiled: true, args });
  const { alice, group } = await claimAndArm(tg, started.output);
  return { vigil: started, env, alice, group };
}

describe("cameras that drop, as the chat sees them", () => {
  const GATE_PASSWORD = "Gate-pw-2024!";
  let door: RtspTestServer;
  let yard: RtspTestServer;
  let gate: RtspTestServer;
  let run: Awaited<ReturnType<typeof startWith>>;
  /** The next message in the group (from `mark`) that mentions a camera. */
  const nextAbout = (camera: string, mark: number) => tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && Number(r.params.chat_id) === run.group.id && String(r.params.text).startsWith(`${camera} is `), { after: mark, timeoutMs: 120_000 }).then((r) => String(r.params.text));

  beforeAll(async () => {
    door = await server({ mounts: [{ name: "door", ...ROAD }] });
    yard = await server({ mounts: [{ name: "yard", ...ROAD }] });
    // The camera's password was changed on the camera; Vigil still has the old one.
    gate = await server({ mounts: [{ name: "gate", ...ROAD }], auth: { user: "admin", password: "changed-on-the-camera" } });
    run = await startWith([
      { name: "door", url: door.url("door") },
      { name: "yard", url: yard.url("yard") },
      { name: "gate", url: gate.url("gate", null), password: GATE_PASSWORD },
    ]);
    const set = tg.send(run.alice, run.group, "/set offline 5");
    expect((await tg.nextMessage(run.group, { after: set.mark, timeoutMs: 60_000 })).text).toBe("offline is now 5 s on every camera (door, yard, gate).");
  });

  it("a wrong password: offline with the reason, never the password; back online once the camera takes it again", async () => {
    expect(await nextAbout("gate", 0)).toBe("gate is offline: the camera refused the username or password.");
    const mark = tg.mark();
    // The camera's password is set back to what Vigil has: the same camera, on the same port.
    const port = gate.port;
    await gate.close();
    gate = await server({ mounts: [{ name: "gate", ...ROAD }], auth: { user: "admin", password: GATE_PASSWORD }, port });
    // A rejected login is retried at most every 30 s (cameras lock accounts after a few failures).
    expect(await nextAbout("gate", mark)).toMatch(/^gate is back online after \d+ s offline\.$/);
    expect(run.vigil.output()).not.toContain(GATE_PASSWORD);
  });

  it("a server killed and restarted: offline after the debounce, back online when it returns", async () => {
    const mark = tg.mark();
    const killedAt = Date.now();
    await door.kill();
    expect(await nextAbout("door", mark)).toMatch(/^door is offline: (the stream ended|the camera refused the connection \(wrong port, or the stream is off\))\. Last picture at (\w{3} )?\d\d:\d\d\.$/);
    // Not at once: the 5 s count from the last picture, which reached Vigil at most a frame or two before the kill began.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(4500);
    await door.restart();
    const back = tg.mark();
    expect(await nextAbout("door", back)).toMatch(/^door is back online after \d+ s offline\.$/);
  });

  it("a camera that stalls while its server stays up: offline, then back online; meanwhile it is tried again within a second each time", async () => {
    const mark = tg.mark();
    await yard.stall("yard");
    const stalledAt = Date.now();
    // Its `offline` setting and the stall watchdog are both 5 s: either may speak first, or the next attempt;
    // or the server ends the stream itself when its source goes quiet.
    // Through Vigil's RTSP client the camera's feed says it: it stopped sending, or (the server waiting for a keyframe that never comes) does not answer.
    expect(await nextAbout("yard", mark)).toMatch(/^yard is offline: (the stream stopped sending pictures|the camera stopped sending video|the camera did not answer in time|no picture for \d+ s|the stream ended|the camera answers but sends no pictures)\. Last picture at (\w{3} )?\d\d:\d\d\.$/);
    // Until attempts that get no picture have piled up (the old backoff had reached 4 s by the fourth);
    // each waits 10 s for a first picture, longer on a busy machine, so their number is awaited, not timed.
    const attemptsSince = (from: number, to = Infinity) => logLines(run.vigil.output()).filter((l) => l.camera === "yard" && String(l.msg).startsWith("camera stream:") && l.msg !== "camera stream: pictures again" && l.time >= from && l.time < to);
    await until(() => attemptsSince(stalledAt).length >= 4, 180_000, "four attempts while the camera is stalled");
    const back = tg.mark();
    const resumedAt = Date.now();
    yard.resume("yard");
    expect(await nextAbout("yard", back)).toMatch(/^yard is back online after \d+ s offline\.$/);
    const attempts = attemptsSince(stalledAt, resumedAt);
    expect(attempts.length).toBeGreaterThanOrEqual(4);
    expect(attempts.map((l) => l.retryInMs)).toEqual(attempts.map(() => expect.any(Number) as number));
    expect(Math.max(...attempts.map((l) => Number(l.retryInMs)))).toBeLessThanOrEqual(1000);
    const again = logLines(run.vigil.output()).find((l) => l.camera === "yard" && l.msg === "camera stream: pictures again" && l.time >= resumedAt);
    expect(again, "the yard stream came back").toBeDefined();
  });

  it("SIGTERM stops every decoder (closed input, SIGTERM, SIGKILL) and exits 0", async () => {
    const children = await childProcesses(run.vigil.pid);
    // One each for 3 cameras: detection's decoder (recording takes the same pictures without one).
    expect(children.filter(isDecoder).length).toBe(3);
    run.vigil.child.kill("SIGTERM");
    expect(await run.vigil.exited).toBe(0);
    for (const child of children) expect(await stillThere(child), `${child.name} ${child.pid} survived`).toBe(false);
  });
});

describe("a camera whose address goes away (unplugged), in a private network", () => {
  it("is reported offline as unreachable, its port is watched meanwhile, and it is back online soon after it returns", async () => {
    const { code, result, stderr } = await runInPrivateNetwork<Record<string, unknown>>("test/faults/fixtures/camera-unreachable.ts");
    expect(result.error, stderr).toBeUndefined();
    expect(code).toBe(0);
    expect(result.offline).toMatch(/^yard is offline: the camera's address cannot be reached from this machine\. Last picture at (\w{3} )?\d\d:\d\d\.$/);
    expect(result.offlineAfterMs).toBeGreaterThanOrEqual(10_000); // its `offline` setting
    const whileDown = result.whileDown as { msg: string; watchPort: boolean }[];
    expect(whileDown.length).toBeGreaterThanOrEqual(3);
    expect(whileDown.slice(1).every((l) => l.watchPort && l.msg === "camera stream: the camera's address cannot be reached from this machine")).toBe(true);
    expect(result.online).toMatch(/^yard is back online after \d+ s offline\.$/);
    expect(result.resumedAfterMs).toBeLessThan(15_000); // generous: the soak measures it
    expect(result.unhandled).toBe(0);
  });
});

describe("120 reconnects", () => {
  it("leave no decoder behind, no zombie, and no more open files than after the first few", async () => {
    const names = ["cam1", "cam2", "cam3"];
    const cameras = await server({ mounts: names.map((name) => ({ name, ...ROAD })) });
    const stats = path.join(await tempDir(), "stats.json");
    const run = await startWith(
      names.map((name) => ({ name, url: cameras.url(name) })),
      ["--stats-file", stats],
    );
    const { pid } = run.vigil;
    // Both streams of every camera (detection: "pictures again"; recording: "buffering video") counted from Vigil's log.
    const count = () => {
      const lines = logLines(run.vigil.output());
      return { pictures: lines.filter((l) => l.msg === "camera stream: pictures again").length, recording: lines.filter((l) => l.msg === "recording: buffering video").length };
    };
    // Frames analysed per camera (the stats file, written every second).
    const analysed = async () => ((JSON.parse(await fs.readFile(stats, "utf8").catch(() => "{}")) as Partial<StatsSnapshot>).cameras ?? []).filter((c) => c.framesIn > 0).length;
    // Detection's decoder too, before the first restart: a session that breaks before a camera's first decoded
    // frame has no "pictures again" to log (the recording logs its first data at once, the decoder a moment later).
    await until(async () => count().recording === 3 && (await analysed()) === 3, 60_000, "every camera records and is analysed");
    const samples: number[] = [];
    const RESTARTS = 20; // 20 × 3 cameras × 2 streams (detection's decoder, recording's run) = 120 reconnects
    for (let i = 1; i <= RESTARTS; i++) {
      await cameras.restart();
      await until(() => count().pictures >= 3 * i && count().recording >= 3 * (i + 1), 60_000, `every stream is back after restart ${i}`);
      const children = await childProcesses(pid);
      expect(children.filter((c) => isDecoder(c) && c.state !== "Z"), `restart ${i}`).toHaveLength(3);
      expect(children.filter((c) => c.state === "Z"), `zombies after restart ${i}`).toEqual([]);
      samples.push(await openFiles(pid));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Warm-up over (connections to Telegram, the detector's threads): the last ones are no higher.
    expect(median(samples.slice(-5)), `open files: ${samples.join(" ")}`).toBeLessThanOrEqual(median(samples.slice(2, 7)) + 2);
    const children = await childProcesses(pid);
    run.vigil.child.kill("SIGTERM");
    expect(await run.vigil.exited).toBe(0);
    for (const child of children) expect(await stillThere(child), `${child.name} ${child.pid} survived`).toBe(false);
  });
});
