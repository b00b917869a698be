/**
 * `npx tsx bench/rtsp-latency.ts [seconds]`: how late a decoded frame is, Vigil's
 * RTSP client against ffmpeg's RTSP input, side by side on one camera of the
 * RTSP test server (gst-rtsp-server, 640x360 at 10 fps).
 *
 * - Vigil's path: its RTSP client (src/pipeline/source/rtsp/) hands each picture
 *   on at its RTP marker bit; the picture and an access unit delimiter go to
 *   `ffmpeg -f h264 -probesize 32 -analyzeduration 0 -threads 1 -i pipe:0`, as
 *   the camera feeds write them. Measured: marker bit → decoded frame out of ffmpeg.
 * - ffmpeg's path: `ffmpeg -rtsp_transport tcp -i rtsp://…` with the same output.
 *
 * Both decode to small grey frames; a frame decoded by both (identical bytes)
 * is matched, and the difference of the two arrival times is what ffmpeg's
 * input costs. Prints medians and p95s, writes bench/out/rtsp-latency.json.
 * Measured on the 2-core build machine (load 1.7, 30 s, 287 frames, all matched):
 * marker → frame 1.7 ms (p95 3.0 ms); ffmpeg's input 100.5 ms later (p95 121.7 ms).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ACCESS_UNIT_DELIMITER } from "../src/pipeline/source/annexb.js";
import { runRtspSession } from "../src/pipeline/source/rtsp/session.js";
import { footage, startRtspServer } from "../test/support/rtsp-server.js";

const SECONDS = Number(process.argv[2] ?? 30);
const OUT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "out");
const W = 160;
const H = 90;
const OUTPUT = ["-an", "-vf", `scale=${W}:${H}:flags=bilinear`, "-fps_mode", "passthrough", "-pix_fmt", "gray", "-threads", "1", "-f", "rawvideo", "pipe:1"];

/** Runs ffmpeg; calls `onFrame` with each decoded frame's hash and arrival time. */
function decoder(args: string[], onFrame: (hash: string, at: number) => void) {
  const child = spawn("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "error", ...args, ...OUTPUT], { stdio: ["pipe", "pipe", "ignore"] });
  let pending = Buffer.alloc(0);
  child.stdout.on("data", (chunk: Buffer) => {
    const at = performance.now();
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= W * H) {
      onFrame(createHash("sha1").update(pending.subarray(0, W * H)).digest("hex"), at);
      pending = pending.subarray(W * H);
    }
  });
  child.stdin.on("error", () => undefined);
  return child;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN) * 10) / 10;
}

const server = await startRtspServer({ mounts: [{ name: "cam", clip: footage("wallflower_wavingtrees_10fps.mp4"), clipOptions: { width: 640, height: 360, fps: 10 } }] });
const url = server.url("cam");
const markers: number[] = [];
const ours = new Map<string, number>();
const theirs = new Map<string, number>();
const markerToFrame: number[] = [];
let decoded = 0;

const fed = decoder(["-f", "h264", "-probesize", "32", "-analyzeduration", "0", "-threads", "1", "-i", "pipe:0"], (hash, at) => {
  const marker = markers[decoded++];
  if (marker !== undefined) markerToFrame.push(at - marker);
  if (!ours.has(hash)) ours.set(hash, at);
});
const direct = decoder(["-rtsp_transport", "tcp", "-analyzeduration", "1000000", "-probesize", "1000000", "-threads", "1", "-i", url], (hash, at) => {
  if (!theirs.has(hash)) theirs.set(hash, at);
});
const controller = new AbortController();
let started = false;
const session = runRtspSession({
  url,
  signal: controller.signal,
  onUnit(unit) {
    // Start at a keyframe, as a feed's consumer does; every picture written with its delimiter, in one write.
    if (!started && !unit.keyframe) return;
    started = true;
    markers.push(performance.now());
    // A keyframe from the client carries its SPS and PPS.
    fed.stdin.write(Buffer.concat([unit.data, ACCESS_UNIT_DELIMITER]));
  },
});
process.stdout.write(`rtsp latency: ${SECONDS} s of 640x360 at 10 fps, both clients on one camera\n`);
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
controller.abort();
await session;
fed.stdin.end();
direct.kill("SIGTERM");
await server.close();

const deltas: number[] = [];
for (const [hash, at] of ours) {
  const other = theirs.get(hash);
  if (other !== undefined) deltas.push(other - at);
}
const settled = markerToFrame.slice(5);
const result = {
  seconds: SECONDS,
  frames: { vigil: ours.size, ffmpeg: theirs.size, matched: deltas.length },
  vigil_marker_to_frame_ms: { p50: quantile(settled, 0.5), p95: quantile(settled, 0.95) },
  ffmpeg_input_later_ms: { p50: quantile(deltas, 0.5), p95: quantile(deltas, 0.95) },
};
await fs.mkdir(OUT_DIR, { recursive: true });
await fs.writeFile(path.join(OUT_DIR, "rtsp-latency.json"), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
