/**
 * What recording costs: N cameras over the real RTSP test server, each with its
 * ring buffer (ffmpeg -c copy into memory), for a while; prints the CPU of the
 * recorder's ffmpeg children and of this Node process (which parses the MPEG-TS),
 * memory, and what one event clip costs to join.
 *
 *   node --import tsx bench/record.ts [cameras=4] [seconds=60] [width=1280] [height=720] [fps=15]
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { defaultSettings } from "../src/domain/camera.js";
import { createRecorder } from "../src/pipeline/record/index.js";
import { EventHistory } from "../src/store/event-history.js";
import { createKeyFile, createStore } from "../src/store/index.js";
import { footage, startRtspServer } from "../test/support/rtsp-server.js";
import { childProcesses } from "../test/support/video.js";

const [cameras = 4, seconds = 60, width = 1280, height = 720, fps = 15] = process.argv.slice(2).map(Number);
const TICKS = 100; // USER_HZ on Linux

async function cpuTicks(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vigil-bench-"));
const server = await startRtspServer({ mounts: Array.from({ length: cameras }, (_, i) => ({ name: `cam${i + 1}`, clip: footage("opencv-vtest_480x360_10fps.mp4"), clipOptions: { width, height, fps } })) });
try {
  await createKeyFile(path.join(dir, "key"));
  const store = await createStore({ dataDir: path.join(dir, "data"), unlock: { keyFile: path.join(dir, "key") }, token: "" });
  const history = await EventHistory.open(store.vault);
  const recorder = createRecorder({ history, retention: { dataDir: store.vault.dataDir, limits: () => store.retention() } });
  recorder.reconcile(Array.from({ length: cameras }, (_, i) => ({ id: `c${i + 1}`, name: `cam${i + 1}`, url: server.url(`cam${i + 1}`), armed: true, mutedUntil: null, settings: defaultSettings() })));
  await new Promise((resolve) => setTimeout(resolve, 10_000)); // connect and fill the ring
  const pids = await childProcesses("dump_extra");
  const before = await Promise.all(pids.map(cpuTicks));
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const after = await Promise.all(pids.map(cpuTicks));
  const node = process.cpuUsage(nodeBefore);
  const perFfmpeg = after.map((t, i) => ((t - before[i]!) / TICKS / elapsed) * 100);
  const status = recorder.status();
  const clipStart = performance.now();
  const clip = await recorder.clip("c1", 10);
  const clipMs = performance.now() - clipStart - 10_000;
  console.log(`${cameras} cameras at ${width}x${height} ${fps} fps, measured over ${elapsed.toFixed(0)} s on ${os.cpus().length} cores`);
  console.log(`ffmpeg (-c copy) per camera: ${perFfmpeg.map((p) => p.toFixed(1)).join(", ")} % of one core`);
  console.log(`Node (MPEG-TS parsing, ring): ${(((node.user + node.system) / 1e6 / elapsed) * 100).toFixed(1)} % of one core in all; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  console.log(`ring per camera: ${status.cameras.map((c) => `${c.bufferSeconds} s / ${(c.bufferBytes / 1e6).toFixed(1)} MB`).join(", ")}`);
  console.log(`a 10 s on-demand clip: ${(clip.bytes / 1e6).toFixed(2)} MB, ${clip.durationSeconds} s, ready ${(clipMs / 1000).toFixed(1)} s after its end`);
  await recorder.stop();
} finally {
  await server.close();
  await fs.rm(dir, { recursive: true, force: true });
}
