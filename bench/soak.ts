/**
 * `npm run soak [-- --minutes N] [-- --cameras N]`: Vigil as users run it (the
 * compiled `vigil start`, a separate process) with 8 cameras on the real RTSP
 * test server for 30 minutes, through periodic camera drops and Telegram
 * outages, talking to the Bot API stand-in. A benchmark, not a CI test.
 *
 * Every camera loops wallflower_wavingtrees (28.7 s; waving trees, then a
 * person walks in at 24.2 s and leaves through the left edge by 26.0 s), so
 * each loop is one visit and each camera should alert once per loop, never
 * twice.
 *
 * Every 5 minutes, from minute 1: Telegram refuses connections (45 s), then
 * answers 500 (20 s), then 429 with retry_after to the next sends; the RTSP
 * server is killed (every camera drops) and started again 10 s later; two
 * cameras stall (their source stops, the server stays up) for 20 s and start
 * their clip again. `offline` is set to 10 s so the drops are reported.
 *
 * Expected alerts: each camera's entries while Vigil is armed, whose whole
 * stay (from 2 s before the entry to the end of the loop) is clear of that
 * camera's faults and the 15 s after each (reconnecting). An entry that a fault
 * touches may alert once or not at all. Delivered: the alerts the chat shows
 * (photos, and the ones folded into them), matched to entries by camera and
 * time. Fails (exit code 1) when an expected alert is not delivered, when an
 * entry alerted twice, when an alert matches no entry, when the chat and
 * Vigil's event history disagree, when the token shows in the log, or when
 * Vigil's RSS grew more than 10 %: the highest reading of the last 3 minutes
 * (the last fifth of a shorter run) against the highest of minutes 2 to 4
 * (after the warm-up and one outage), scaled to 40–80 % of runs under 5 min.
 *
 * Also measured, not judged: how soon each camera has pictures again after its
 * source comes back (from the line Vigil logs at the first frame after a drop).
 * Also judged: each camera's alerts reach the chat in time order.
 *
 * Prints one line a minute (RSS and open files of Vigil and of its ffmpeg
 * children, from /proc) and the totals; writes everything to bench/out/soak.json,
 * and Vigil's log to bench/out/soak-vigil.log.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Message } from "grammy/types";
import { BotApiStandIn, type RecordedRequest } from "../test/support/bot-api/index.js";
import { claimAndArm, listEvents, startVigil, vigil, type RunningVigil } from "../test/support/cli.js";
import { childProcesses, logLines, openFiles, residentBytes } from "../test/support/process-info.js";
import { footage, startRtspServer, type RtspTestServer } from "../test/support/rtsp-server.js";
import { sleepUntil, until } from "../test/support/wait.js";
import { OUT_DIR } from "./footage.js";

const MINUTE = 60_000;
const CLIP = "wallflower_wavingtrees_10fps.mp4";
/** The person walks in at 24.2 s of each loop and stays to its end. */
const ENTRY_S = 24.2;
/** After a camera comes back, time allowed to reconnect and see the scene again before its entries count. */
const RECOVERY_MS = 15_000;
/** An alert belongs to an entry from this long before it (times are shown to the second)... */
const WINDOW_BEFORE_MS = 1500;
/** ...to this long after the end of the loop (the detector may be behind on a busy machine). */
const WINDOW_AFTER_MS = 5000;
const CYCLE_MS = 5 * MINUTE;
const SAMPLE_MS = 10_000;
const MAX_RSS_GROWTH = 0.1;

const { values: cli } = parseArgs({ options: { minutes: { type: "string", default: "30" }, cameras: { type: "string", default: "8" } } });
const minutes = Number(cli.minutes);
const cameraCount = Number(cli.cameras);
if (!(minutes >= 1) || !(cameraCount >= 1 && Number.isInteger(cameraCount))) {
  console.error("Usage: npm run soak -- [--minutes N (at least 1, default 30)] [--cameras N (default 8)]");
  process.exit(2);
}
const cameras = Array.from({ length: cameraCount }, (_, i) => `cam${i + 1}`);

interface Sample {
  /** Minutes since Vigil was armed. */
  minute: number;
  vigilRss: number;
  vigilFds: number;
  ffmpeg: number;
  ffmpegRss: number;
  ffmpegFds: number;
  /** ffmpeg zombies already there at the previous reading (one that just exited is a zombie until Node reaps it). */
  zombies: number;
}

interface FaultRecord {
  minute: number;
  what: string;
}

/** A span of time in which a camera had no picture (or had just got it back). */
interface Disturbance {
  camera: string;
  from: number;
  to: number;
}

interface ChatAlert {
  camera: string;
  /** Epoch ms, to the second (what the chat shows). */
  at: number;
  time: string;
  label: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const pad = (value: string | number, width: number) => String(value).padStart(width);

/** Every alert a chat message accounts for: its own line, then each one folded into it (alert-view.ts). */
function alertsIn(text: string, sentAt: number): ChatAlert[] {
  const [first = "", ...rest] = text.split("\n");
  const head = /^(\S+) on (\S+) · (?:\d+% · )?(?:\w{3} )?(\d\d:\d\d:\d\d)(?: · (?:home|away|night))?$/.exec(first);
  if (!head) return [];
  const camera = head[2]!;
  const out = [{ camera, time: head[3]!, label: head[1]!.toLowerCase() }];
  const folded = rest.map((line) => /^\+\d+ more on \S+: (.*)$/.exec(line)).find(Boolean);
  for (const item of folded?.[1]!.split(", ") ?? []) {
    const [time = "", label = ""] = item.replace(/^[A-Z][a-z]{2} /, "").split(" ");
    out.push({ camera, time, label });
  }
  return out.map((a) => ({ ...a, at: clockToEpoch(a.time, sentAt) }));
}

/** HH:MM:SS today (local time, as Vigil shows it), or yesterday when that would be after `before`. */
function clockToEpoch(time: string, before: number): number {
  const [h = 0, m = 0, s = 0] = time.split(":").map(Number);
  const day = new Date(before);
  day.setHours(h, m, s, 0);
  return day.getTime() > before + MINUTE ? day.getTime() - 24 * 60 * MINUTE : day.getTime();
}

let zombiesBefore = new Set<number>();

async function sample(pid: number, t0: number): Promise<Sample> {
  // Its video children: ffmpeg, and Vigil's own decoders (vigil-decode), counted together as "ffmpeg" below.
  const children = (await childProcesses(pid)).filter((c) => c.name === "ffmpeg" || c.name === "vigil-decode");
  const zombies = new Set(children.filter((c) => c.state === "Z").map((c) => c.pid));
  const lingering = [...zombies].filter((z) => zombiesBefore.has(z)).length;
  zombiesBefore = zombies;
  let ffmpegRss = 0;
  let ffmpegFds = 0;
  for (const child of children) {
    ffmpegRss += await residentBytes(child.pid).catch(() => 0);
    ffmpegFds += await openFiles(child.pid).catch(() => 0);
  }
  return {
    minute: (Date.now() - t0) / MINUTE,
    vigilRss: await residentBytes(pid),
    vigilFds: await openFiles(pid),
    ffmpeg: children.length,
    ffmpegRss,
    ffmpegFds,
    zombies: lingering,
  };
}

async function main(): Promise<number> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "vigil-soak-"));
  const tg = await BotApiStandIn.start();
  let rtsp: RtspTestServer | undefined;
  let run: RunningVigil | undefined;
  try {
    rtsp = await startRtspServer({ mounts: cameras.map((name) => ({ name, clip: footage(CLIP) })) });
    const loopMs = rtsp.clip("cam1").duration * 1000;

    const env = { VIGIL_DATA_DIR: path.join(work, "data"), VIGIL_PASSPHRASE: "soak passphrase", VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "info" };
    const init = await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: tg.token }, undefined, { compiled: true });
    if (init.code !== 0) throw new Error(`vigil init failed: ${init.stderr}`);
    for (const name of cameras) {
      const added = await vigil(["camera", "add", name, rtsp.url(name)], env, undefined, { compiled: true });
      if (added.code !== 0) throw new Error(`vigil camera add ${name} failed: ${added.stderr}`);
    }
    const statsFile = path.join(work, "stats.json");
    run = startVigil(env, { compiled: true, args: ["--stats-file", statsFile] });
    const vigilRun = run;
    const { alice, group } = await claimAndArm(tg, run.output);
    /** An admin's command and its answer (alerts and notices may come before it). */
    const command = (text: string, answer: string, timeoutMs: number) => {
      const sent = tg.send(alice, group, text);
      return tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && Number(r.params.chat_id) === group.id && String(r.params.text).startsWith(answer), { after: sent.mark, timeoutMs });
    };
    await command("/set offline 10", "offline is now 10 s", MINUTE);
    const t0 = Date.now();
    const stopAt = t0 + minutes * MINUTE;
    const minuteOf = (t: number) => Math.round(((t - t0) / MINUTE) * 100) / 100;
    const clock = (t: number) => {
      const s = Math.round((t - t0) / 1000);
      return `${pad(Math.floor(s / 60), 3)}:${String(s % 60).padStart(2, "0")}`;
    };
    console.log(`Soak: ${cameras.length} cameras looping ${CLIP} (${(loopMs / 1000).toFixed(1)} s, a person at ${ENTRY_S} s) for ${minutes} min; Vigil pid ${run.pid}; load average ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores.`);
    console.log(`${"time".padStart(6)}  ${"Vigil RSS".padStart(9)}  fds  ffmpeg  ${"their RSS".padStart(9)}  their fds  alerts in chat`);

    // Alerts in the chat, from every send that Telegram accepted.
    const chatAlerts = (): ChatAlert[] =>
      tg
        .outputs(group)
        .filter((r: RecordedRequest) => r.ok === true && (r.method === "sendPhoto" || r.method === "sendMessage"))
        .flatMap((r) => {
          const m = r.result as Message;
          return alertsIn(m.caption ?? m.text ?? "", r.at);
        });

    const samples: Sample[] = [];
    const faults: FaultRecord[] = [];
    const disturbances: Disturbance[] = [];
    /** When each camera's source came back after a fault (to measure how soon Vigil has pictures again). */
    const returns: { camera: string; fault: "server" | "stall"; at: number }[] = [];
    /** Feeder runs that a stall ended (the clip starts again on resume). */
    const endedRuns = new Map<string, { start: number; end: number }[]>(cameras.map((c) => [c, []]));
    const note = (what: string) => {
      faults.push({ minute: minuteOf(Date.now()), what });
      console.log(`${clock(Date.now())}  ${what}`);
    };

    let sampling = true;
    const sampler = (async () => {
      let nextPrint = 0;
      while (sampling) {
        const s = await sample(vigilRun.pid, t0);
        samples.push(s);
        if (s.minute >= nextPrint) {
          nextPrint = Math.floor(s.minute) + 1;
          console.log(`${clock(Date.now())}  ${pad(mb(s.vigilRss), 6)} MB  ${pad(s.vigilFds, 3)}  ${pad(s.ffmpeg, 6)}  ${pad(mb(s.ffmpegRss), 6)} MB  ${pad(s.ffmpegFds, 9)}  ${chatAlerts().length}${s.zombies ? `  ${s.zombies} zombie ffmpeg` : ""}`);
        }
        await sleep(SAMPLE_MS);
      }
    })();

    // The faults, in 5-minute cycles; each starts only if it is over (and recovered) before the end.
    const fits = (at: number, lasts: number) => at + lasts + RECOVERY_MS + loopMs < stopAt;
    let stalled = 0;
    for (let base = t0; base < stopAt; base += CYCLE_MS) {
      if (fits(base + MINUTE, 70_000)) {
        await sleepUntil(base + MINUTE);
        await tg.refuseConnections();
        note("Telegram refuses connections for 45 s");
        await sleep(45_000);
        tg.fault({ kind: "status", status: 500 });
        await tg.acceptConnections();
        note("Telegram answers 500 for 20 s");
        await sleep(20_000);
        tg.clearFaults();
        tg.fault({ kind: "429", retryAfter: 3, methods: ["sendPhoto", "sendMessage", "editMessageMedia"], count: 4 });
        note("Telegram answers 429 (retry after 3 s) to the next 4 sends");
      }
      if (fits(base + 160_000, 10_000)) {
        await sleepUntil(base + 160_000);
        const from = Date.now();
        await rtsp.kill();
        note("RTSP server killed: every camera drops for 10 s");
        await sleep(10_000);
        await rtsp.restart();
        for (const camera of cameras) {
          disturbances.push({ camera, from, to: Date.now() + RECOVERY_MS });
          returns.push({ camera, fault: "server", at: Date.now() });
        }
        note("RTSP server back");
      }
      if (fits(base + 230_000, 20_000)) {
        await sleepUntil(base + 230_000);
        const pair = [cameras[stalled++ % cameras.length]!, cameras[stalled++ % cameras.length]!];
        const from = Date.now();
        for (const camera of pair) {
          endedRuns.get(camera)!.push({ start: rtsp.loopStarts(camera)[0]!, end: from });
          await rtsp.stall(camera);
        }
        note(`${pair.join(" and ")} stall for 20 s`);
        await sleep(20_000);
        for (const camera of pair) {
          rtsp.resume(camera);
          disturbances.push({ camera, from, to: Date.now() + RECOVERY_MS });
          returns.push({ camera, fault: "stall", at: Date.now() });
        }
        note(`${pair.join(" and ")} send again, from the start of the clip`);
      }
    }
    tg.clearFaults();
    await sleepUntil(stopAt);
    // Disarmed, so nothing alerts while the backlog is delivered; its answer comes after every alert before it.
    const endAt = Date.now();
    await command("/disarm", "Disarmed", 5 * MINUTE);

    // Every alert Vigil recorded, as its event history lists them.
    const history = async (): Promise<ChatAlert[]> =>
      (await listEvents(env, `${Math.ceil(minutes / 60) + 1}h`, { compiled: true })).map((e) => ({ ...e, at: clockToEpoch(e.time, Date.now()) }));
    const key = (a: ChatAlert) => `${a.camera} ${a.time} ${a.label}`;
    const sameAlerts = (a: ChatAlert[], b: ChatAlert[]) => JSON.stringify(a.map(key).sort()) === JSON.stringify(b.map(key).sort());
    let recorded: ChatAlert[] = [];
    const settled = await until(async () => sameAlerts((recorded = await history()), chatAlerts()), 3 * MINUTE, "every recorded alert is in the chat").then(
      () => true,
      () => false,
    );
    sampling = false;
    await sampler;
    const stats = JSON.parse(await fs.readFile(statsFile, "utf8").catch(() => "{}")) as { cameras?: { name: string; alerts: number; framesIn: number; detectorRuns: number; superseded: number }[] };
    const exitCode = await run.stop();
    const output = run.output();
    run = undefined;

    // Entries against alerts, camera by camera.
    const delivered = chatAlerts();
    const perCamera: Record<string, { expected: number; delivered: number; lost: number; duplicates: number; disturbedEntries: number; disturbedAlerts: number; unmatched: number; pipelineAlerts?: number; missedTimes: string[] }> = {};
    const windowsOf = (camera: string) => {
      const runs = [...endedRuns.get(camera)!, { start: rtsp!.loopStarts(camera)[0]!, end: endAt }];
      return runs.flatMap((feed) => {
        const out: { entry: number; from: number; to: number; expected: boolean }[] = [];
        for (let loopStart = feed.start; loopStart + ENTRY_S * 1000 < feed.end; loopStart += loopMs) {
          const entry = loopStart + ENTRY_S * 1000;
          const loopEnd = loopStart + loopMs;
          const touched = disturbances.some((d) => d.camera === camera && d.from < loopEnd && d.to > entry - 2000);
          // Entries before the soak started (Vigil armed a moment earlier) or cut off by its end may alert or not.
          const whole = entry >= t0 + 5000 && loopEnd <= feed.end;
          out.push({ entry, from: entry - WINDOW_BEFORE_MS, to: loopEnd + WINDOW_AFTER_MS, expected: whole && !touched });
        }
        return out;
      });
    };
    const lost: string[] = [];
    for (const camera of cameras) {
      const mine = delivered.filter((a) => a.camera === camera);
      const windows = windowsOf(camera);
      const row = { expected: 0, delivered: 0, lost: 0, duplicates: 0, disturbedEntries: 0, disturbedAlerts: 0, unmatched: 0, missedTimes: [] as string[], ...(stats.cameras ? { pipelineAlerts: stats.cameras.find((c) => c.name === camera)?.alerts ?? 0 } : {}) };
      const matched = new Set<ChatAlert>();
      for (const w of windows) {
        const inside = mine.filter((a) => a.at >= w.from && a.at <= w.to);
        inside.forEach((a) => matched.add(a));
        if (inside.length > 1) row.duplicates += inside.length - 1;
        if (w.expected) {
          row.expected += 1;
          if (inside.length) row.delivered += 1;
          else {
            row.lost += 1;
            const entryClock = new Date(w.entry).toTimeString().slice(0, 8);
            const inHistory = recorded.some((a) => a.camera === camera && a.at >= w.from && a.at <= w.to);
            row.missedTimes.push(`${entryClock} (${inHistory ? "recorded, not delivered" : "not detected"})`);
            lost.push(`${camera} ${entryClock}`);
          }
        } else {
          row.disturbedEntries += 1;
          if (inside.length) row.disturbedAlerts += 1;
        }
      }
      row.unmatched = mine.filter((a) => !matched.has(a)).length;
      perCamera[camera] = row;
    }
    const total = (field: "expected" | "delivered" | "lost" | "duplicates" | "unmatched" | "disturbedEntries" | "disturbedAlerts") => Object.values(perCamera).reduce((sum, c) => sum + c[field], 0);
    const chatKeys = delivered.map(key);
    const historyKeys = new Set(recorded.map(key));
    const notDelivered = recorded.filter((a) => !chatKeys.includes(key(a))).map(key);
    const notRecorded = chatKeys.filter((k) => !historyKeys.has(k));
    const twiceInChat = chatKeys.filter((k, i) => chatKeys.indexOf(k) !== i);

    // Memory: the highest RSS after the warm-up against the highest at the end.
    const baselineWindow = [Math.min(2, minutes * 0.4), Math.min(4, minutes * 0.8)] as const;
    const endWindow = [minutes - Math.min(3, minutes * 0.2), minutes + 10] as const;
    const maxIn = (w: readonly [number, number], field: keyof Sample) => Math.max(...samples.filter((s) => s.minute >= w[0] && s.minute < w[1]).map((s) => s[field]));
    const baselineRss = maxIn(baselineWindow, "vigilRss");
    const endRss = maxIn(endWindow, "vigilRss");
    const growth = endRss / baselineRss - 1;
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const tokenInLog = output.includes(tg.token.split(":")[1]!);
    const log = logLines(output);
    const errors = log.filter((l) => Number(l.level) >= 50);
    // How soon after its source came back each camera had pictures again (Vigil logs the first frame after a drop).
    const backAgain = log.filter((l) => l.msg === "camera stream: pictures again");
    const reconnects = returns.map((r) => {
      const first = backAgain.find((l) => l.camera === r.camera && l.time >= r.at);
      return { ...r, seconds: first ? Math.round(first.time - r.at) / 1000 : null };
    });
    const reconnectSummary = (fault: "server" | "stall") => {
      const times = reconnects.filter((r) => r.fault === fault).map((r) => r.seconds);
      const known = times.filter((t): t is number => t !== null).sort((a, b) => a - b);
      return { count: times.length, neverBack: times.length - known.length, medianSeconds: known[known.length >> 1] ?? null, maxSeconds: known.at(-1) ?? null };
    };
    // Each camera's alerts in message order are in time order (an outage must not reorder them).
    const outOfOrder = cameras.filter((camera) => {
      const times = delivered.filter((a) => a.camera === camera).map((a) => a.at);
      return times.some((t, i) => i > 0 && t < times[i - 1]!);
    });

    const failures = [
      ...(total("lost") ? [`${total("lost")} expected alert(s) not delivered: ${lost.join(", ")}`] : []),
      ...(total("duplicates") ? [`${total("duplicates")} entry(ies) alerted twice`] : []),
      ...(total("unmatched") ? [`${total("unmatched")} alert(s) that match no entry`] : []),
      ...(outOfOrder.length ? [`alerts out of order in the chat for ${outOfOrder.join(", ")}`] : []),
      ...(notDelivered.length || notRecorded.length || twiceInChat.length || !settled ? [`chat and event history disagree: not delivered ${JSON.stringify(notDelivered)}, not recorded ${JSON.stringify(notRecorded)}, twice ${JSON.stringify(twiceInChat)}`] : []),
      ...(growth > MAX_RSS_GROWTH ? [`Vigil's RSS grew ${(growth * 100).toFixed(1)} % (more than ${MAX_RSS_GROWTH * 100} %)`] : []),
      ...(tokenInLog ? ["the bot token is in Vigil's output"] : []),
      ...(exitCode !== 0 ? [`vigil start exited with ${exitCode} on SIGTERM`] : []),
    ];

    console.log("");
    console.log(`camera  expected  delivered  lost  twice  unmatched  entries touched by a fault (alerted)  pipeline alerts`);
    for (const [camera, c] of Object.entries(perCamera)) console.log(`${camera.padEnd(6)}  ${pad(c.expected, 8)}  ${pad(c.delivered, 9)}  ${pad(c.lost, 4)}  ${pad(c.duplicates, 5)}  ${pad(c.unmatched, 9)}  ${pad(`${c.disturbedEntries} (${c.disturbedAlerts})`, 36)}  ${pad(c.pipelineAlerts ?? "-", 15)}`);
    console.log(`total   ${pad(total("expected"), 8)}  ${pad(total("delivered"), 9)}  ${pad(total("lost"), 4)}  ${pad(total("duplicates"), 5)}  ${pad(total("unmatched"), 9)}  ${pad(`${total("disturbedEntries")} (${total("disturbedAlerts")})`, 36)}`);
    console.log(`Event history ${recorded.length} alerts, chat ${delivered.length} (${delivered.length - new Set(chatKeys).size} twice).`);
    console.log(`Vigil RSS: ${mb(first.vigilRss)} MB at the start, ${mb(baselineRss)} MB highest in minutes ${baselineWindow[0]}–${baselineWindow[1]}, ${mb(endRss)} MB highest from minute ${endWindow[0]} (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} %).`);
    console.log(`Open files: Vigil ${first.vigilFds} at the start, ${last.vigilFds} at the end (highest ${Math.max(...samples.map((s) => s.vigilFds))}); its ffmpeg children ${first.ffmpeg} with ${first.ffmpegFds} fds, ${last.ffmpeg} with ${last.ffmpegFds}; zombies left ${SAMPLE_MS / 1000} s or more: ${Math.max(...samples.map((s) => s.zombies))}.`);
    for (const fault of ["server", "stall"] as const) {
      const r = reconnectSummary(fault);
      if (r.count) console.log(`Pictures again after ${fault === "server" ? "the RTSP server came back" : "a stalled camera sent again"}: median ${r.medianSeconds} s, longest ${r.maxSeconds} s over ${r.count} reconnects${r.neverBack ? `; ${r.neverBack} never logged` : ""}.`);
    }
    console.log(`Vigil logged ${errors.length} error(s); exited with ${exitCode} on SIGTERM.`);
    console.log(failures.length ? `FAIL\n- ${failures.join("\n- ")}` : "PASS");

    await fs.mkdir(OUT_DIR, { recursive: true });
    const result = {
      at: new Date(t0).toISOString(),
      minutes,
      cameras: cameras.length,
      clip: CLIP,
      loadAverage: os.loadavg(),
      cores: os.cpus().length,
      alerts: { expected: total("expected"), delivered: total("delivered"), lost: total("lost"), duplicates: total("duplicates"), unmatched: total("unmatched"), entriesTouchedByFaults: total("disturbedEntries"), alertsOnTouchedEntries: total("disturbedAlerts"), perCamera },
      delivery: { recorded: recorded.length, inChat: delivered.length, notDelivered, notRecorded, twiceInChat, settled },
      memory: { rule: `highest Vigil RSS in minutes [${endWindow[0]}, end] against the highest in [${baselineWindow[0]}, ${baselineWindow[1]}); at most +${MAX_RSS_GROWTH * 100} %`, startRss: first.vigilRss, baselineRss, endRss, growth },
      reconnects: { server: reconnectSummary("server"), stall: reconnectSummary("stall"), each: reconnects },
      outOfOrder,
      openFiles: { vigilStart: first.vigilFds, vigilEnd: last.vigilFds, vigilMax: Math.max(...samples.map((s) => s.vigilFds)), ffmpegStart: first.ffmpegFds, ffmpegEnd: last.ffmpegFds, zombiesMax: Math.max(...samples.map((s) => s.zombies)) },
      faults,
      samples,
      // With what went wrong (an errno code, a message), so a failure can be told from the machine's trouble.
      loggedErrors: errors.map((e) => ({ minute: minuteOf(e.time), msg: e.msg, ...(e.err ? { err: e.err } : {}), ...(e.error ? { error: e.error } : {}) })),
      exitCode,
      failures,
    };
    await fs.writeFile(path.join(OUT_DIR, "soak.json"), `${JSON.stringify(result, null, 2)}\n`);
    // Vigil's own log (scrubbed of secrets as always; the token is the stand-in's), to read after a failure.
    await fs.writeFile(path.join(OUT_DIR, "soak-vigil.log"), output);
    console.log(`Written to ${path.relative(process.cwd(), path.join(OUT_DIR, "soak.json"))}, Vigil's log to soak-vigil.log beside it.`);
    return failures.length ? 1 : 0;
  } finally {
    if (run) await run.stop(5000);
    await rtsp?.close();
    await tg.close();
    await fs.rm(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
