/**
 * `npm run bench:satellites` (`-- --loops N`, default 3): a hub and three
 * satellites, each the compiled `vigil start` in its own process, Mosquitto,
 * the Bot API stand-in and the RTSP server, all on this machine.
 *
 * Four cameras loop wallflower (a person walks in once per 28.7 s loop), each
 * from another point of the loop so no two alerts meet in the chat: one camera
 * on the hub itself, one on each satellite. For every visit, the time from the
 * entry frame leaving the RTSP server to the photo alert arriving at the
 * stand-in, for the hub's own camera and through a satellite (target: a
 * satellite adds at most 50 ms at the median).
 *
 * Each satellite reaches the broker through a counting TCP proxy: the broker
 * traffic of one camera idle (adopted, disarmed: heartbeats only), and during
 * the visits (armed: alert with its picture, visit news, the clip fetched by
 * the hub, acks), per visit.
 *
 * Writes bench/out/satellites.json and prints a table. Every child process is
 * stopped in `finally`.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Message } from "grammy/types";
import { BotApiStandIn, type RecordedRequest } from "../test/support/bot-api/index.js";
import { createChatDriver } from "../test/support/chat.js";
import { killAllVigils, startVigil, vigil, type RunningVigil } from "../test/support/cli.js";
import { startBroker, type Broker } from "../test/support/mosquitto.js";
import { startRtspServer, type RtspTestServer } from "../test/support/rtsp-server.js";
import { startTcpProxy, type TcpProxy } from "../test/support/tcp-proxy.js";
import { until } from "../test/support/wait.js";
import { median, quantile } from "./floor.js";
import { OUT_DIR, rotatedClip } from "./footage.js";

const LOOPS = Number(process.argv[process.argv.indexOf("--loops") + 1]) || 3;
const IDLE_S = 40;
const WALLFLOWER = "wallflower_wavingtrees_10fps.mp4";
const LOOP_S = 28.7;
const ENTRY_S = 24.2;
const MATCH_MS = 10_000;
const ALERT_CAPTION = /^\p{L}[\p{L} ]* on (\S+) · /u;

interface Box {
  name: "hub" | "s1" | "s2" | "s3";
  /** The camera as the chat names it. */
  camera: string;
  mount: string;
  /** Where the loop of its clip starts: spreads the visits 7 s apart. */
  startS: number;
  env: Record<string, string>;
  proxy?: TcpProxy;
  run?: RunningVigil;
  code?: string;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), "vigil-bench-sat-"));
    cleanups.push(() => fs.rm(work, { recursive: true, force: true }));
    const tg = await BotApiStandIn.start();
    cleanups.push(() => tg.close());
    const broker: Broker = await startBroker({ dir: work });
    cleanups.push(() => broker.stop());
    const boxes: Box[] = [
      { name: "hub", camera: "local", mount: "m0", startS: 0, env: {} },
      { name: "s1", camera: "s1/cam", mount: "m1", startS: 7, env: {} },
      { name: "s2", camera: "s2/cam", mount: "m2", startS: 14, env: {} },
      { name: "s3", camera: "s3/cam", mount: "m3", startS: 21, env: {} },
    ];
    log("preparing footage…");
    const mounts = [];
    for (const box of boxes) mounts.push({ name: box.mount, clip: await rotatedClip(WALLFLOWER, box.startS), clipOptions: { width: 640, height: 360, fps: 10 } });
    const rtsp: RtspTestServer = await startRtspServer({ mounts });
    cleanups.push(() => rtsp.close());

    for (const box of boxes) {
      box.env = { VIGIL_DATA_DIR: path.join(work, box.name), VIGIL_PASSPHRASE: `${box.name} bench passphrase`, VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "warn", VIGIL_DETECTOR_THREADS: "1", VIGIL_ONVIF_TIMEOUT: "0" };
      if (box.name === "hub") {
        await must(vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...box.env, VIGIL_BOT_TOKEN: tg.token }, undefined, { compiled: true }));
        await must(vigil(["mqtt", "set", broker.url], box.env, undefined, { compiled: true }));
        await must(vigil(["camera", "add", "local", rtsp.url(box.mount)], box.env, undefined, { compiled: true }));
      } else {
        box.proxy = await startTcpProxy({ host: "127.0.0.1", port: broker.port });
        const proxy = box.proxy;
        cleanups.push(() => proxy.close());
        const joined = await must(vigil(["satellite", "join", `mqtt://127.0.0.1:${box.proxy.port}`, "--site", box.name], box.env, undefined, { compiled: true }));
        box.code = /\/adopt \S+ (\S+)/.exec(joined)![1]!;
        await must(vigil(["camera", "add", "cam", rtsp.url(box.mount)], box.env, undefined, { compiled: true }));
      }
    }
    cleanups.push(() => Promise.resolve(killAllVigils()));
    for (const box of boxes) {
      box.run = startVigil(box.env, { compiled: true });
      const run = box.run;
      cleanups.push(() => run.stop(15_000));
    }
    const hub = boxes[0]!.run!;
    const code = await hub.claimCode();
    const user = tg.user({ firstName: "Bench" });
    const chat = tg.privateChat(user);
    const drive = createChatDriver(tg, { timeoutMs: 90_000, ignore: (r) => alertCamera(r) !== undefined });
    await tg.waitFor((r) => r.method === "getUpdates", { arrived: true, timeoutMs: 60_000 });
    await drive.ask(user, chat, `/claim ${code}`);
    const say = async (text: string) => (await drive.ask(user, chat, text)).text ?? "";
    await until(async () => (await say("/satellites")).split("\n").filter((l) => l.includes("waiting to be adopted")).length === 3, 120_000, "three satellites waiting");
    for (const box of boxes.slice(1)) log(await say(`/adopt ${box.name} ${box.code}`));
    await until(async () => {
      const status = await say("/status");
      return boxes.every((b) => status.includes(`${b.camera}: online`));
    }, 180_000, "every camera online");

    // Idle: adopted and disarmed, so nothing but heartbeats and their answers.
    log(`idle for ${IDLE_S} s…`);
    await sleep(5000);
    const idleFrom = counts(boxes);
    const idleStart = Date.now();
    await sleep(IDLE_S * 1000);
    const idleBytes = diff(counts(boxes), idleFrom);
    const idleSeconds = (Date.now() - idleStart) / 1000;

    // Visits: armed for LOOPS loops.
    log(`armed for ${LOOPS} loops…`);
    await say("/arm");
    await sleep(3000);
    const mark = tg.mark();
    const from = Date.now();
    const visitsFrom = counts(boxes);
    const to = from + LOOPS * LOOP_S * 1000;
    await sleep(to - from + MATCH_MS);
    await say("/disarm");
    // The clips of the last visits are fetched by the hub some seconds after they end.
    await sleep(20_000);
    const visitBytes = diff(counts(boxes), visitsFrom);

    const photos = tg.outputs(chat, mark).flatMap((r) => {
      const camera = alertCamera(r);
      return camera ? [{ camera, at: r.bodyAt }] : [];
    });
    const perBox = boxes.map((box) => {
      const entries = rtsp.frameTimes(box.mount, entryOf(box.startS), to).filter((t) => t >= from);
      const latencies = entries.flatMap((entry) => {
        const photo = photos.find((p) => p.camera === box.camera && p.at >= entry && p.at < entry + MATCH_MS);
        return photo ? [photo.at - entry] : [];
      });
      return { box: box.name, camera: box.camera, visits: entries.length, alerted: latencies.length, latencies: latencies.map(Math.round) };
    });
    const local = perBox[0]!.latencies;
    const remote = perBox.slice(1).flatMap((b) => b.latencies);
    const results = {
      at: new Date().toISOString(),
      loops: LOOPS,
      load: os.loadavg().map((l) => Math.round(l * 100) / 100),
      latency: {
        hub_p50_ms: median(local),
        hub_p95_ms: quantile(local, 0.95),
        satellite_p50_ms: median(remote),
        satellite_p95_ms: quantile(remote, 0.95),
        satellite_minus_hub_p50_ms: remote.length && local.length ? Math.round(median(remote) - median(local)) : null,
        per_camera: perBox,
      },
      traffic: boxes.slice(1).map((box, i) => {
        const idle = idleBytes[i]!;
        const visits = visitBytes[i]!;
        const alerted = perBox[i + 1]!.alerted;
        return {
          satellite: box.name,
          idle_bytes_per_s: Math.round((idle.up + idle.down) / idleSeconds),
          idle_up_bytes_per_s: Math.round(idle.up / idleSeconds),
          visits: alerted,
          bytes_per_visit: alerted ? Math.round((visits.up + visits.down) / alerted) : null,
          up_bytes_per_visit: alerted ? Math.round(visits.up / alerted) : null,
        };
      }),
    };
    await fs.mkdir(OUT_DIR, { recursive: true });
    await fs.writeFile(path.join(OUT_DIR, "satellites.json"), `${JSON.stringify(results, null, 2)}\n`);
    const t = results.traffic;
    const avg = (f: (x: (typeof t)[number]) => number | null) => Math.round(t.reduce((n, x) => n + (f(x) ?? 0), 0) / t.length);
    log("");
    log("| figure | value |");
    log("| --- | --- |");
    log(`| photo alert, hub's own camera, p50 / p95 | ${results.latency.hub_p50_ms} / ${results.latency.hub_p95_ms} ms (${local.length} visits) |`);
    log(`| photo alert through a satellite, p50 / p95 | ${results.latency.satellite_p50_ms} / ${results.latency.satellite_p95_ms} ms (${remote.length} visits on 3 satellites) |`);
    log(`| satellite minus hub, p50 | ${results.latency.satellite_minus_hub_p50_ms} ms (target ≤ 50 ms) |`);
    log(`| broker traffic per camera, idle | ${avg((x) => x.idle_bytes_per_s)} B/s (${avg((x) => x.idle_up_bytes_per_s)} B/s of it from the satellite) |`);
    log(`| broker traffic per visit, with its clip | ${avg((x) => x.bytes_per_visit)} B (${avg((x) => x.up_bytes_per_visit)} B from the satellite) |`);
    log(`| load average (1, 5, 15 min) at the end | ${results.load.join(", ")} |`);
    log(`\nwritten to ${path.join(OUT_DIR, "satellites.json")}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${String(error)}`));
  }
}

function alertCamera(r: RecordedRequest): string | undefined {
  return r.method === "sendPhoto" ? ALERT_CAPTION.exec((r.result as Message | undefined)?.caption ?? "")?.[1] : undefined;
}

/** Where the person enters in a loop that starts `startS` into the original clip. */
function entryOf(startS: number): number {
  return (ENTRY_S - startS + LOOP_S) % LOOP_S;
}

function counts(boxes: readonly Box[]): { up: number; down: number }[] {
  return boxes.slice(1).map((b) => b.proxy!.bytes());
}

function diff(a: { up: number; down: number }[], b: { up: number; down: number }[]): { up: number; down: number }[] {
  return a.map((x, i) => ({ up: x.up - b[i]!.up, down: x.down - b[i]!.down }));
}

async function must(result: Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<string> {
  const r = await result;
  if (r.code !== 0) throw new Error(r.stderr || r.stdout);
  return r.stdout;
}

await main();
