#!/usr/bin/env node
/**
 * A stand-in for Raspberry Pi OS's `rpicam-vid` (rpicam-apps), for tests on a
 * machine without a Pi camera. It takes the same options Vigil gives the real
 * one, answers bad ones and a missing camera with the real program's messages
 * (from rpicam-apps: core/rpicam_app.cpp, apps/rpicam_vid.cpp, boost's option
 * parser), and writes what the real one writes with `--codec h264 -o -`:
 * Annex-B H.264 on stdout, in real time, SPS and PPS before every keyframe with
 * `--inline`, a keyframe every `--intra` frames, written out per frame with
 * `--flush` and in 4 KiB blocks without it (stdio's buffer on a pipe). The
 * pictures are footage, encoded by ffmpeg's libx264 at the asked size and rate
 * (single-slice, no B-frames: what the Pi's encoder sends).
 *
 * Test control, none of it part of the real program:
 * - RPICAM_STANDIN_FOOTAGE: the video shown, looped from its start at each run.
 * - RPICAM_STANDIN_DIR: a folder where
 *   - `cameras` (if present) holds how many cameras are connected (default 1;
 *     0 gives "no cameras available");
 *   - `command` is read and removed while it runs: `stall` (the sensor stops:
 *     nothing more is written, "Device timeout" is reported, and SIGINT is no
 *     longer acted on, as in the real event loop) or `exit` (it fails mid-stream,
 *     exit 255);
 *   - `runs.jsonl` gets one line when a run writes its first picture (its pid,
 *     argv and the wall time of footage time 0) and one when it ends;
 *   - `camera-N.pid` marks camera N as open: as libcamera lets one process at
 *     a time acquire a camera, a second stand-in fails while that process lives.
 *
 * Stop it as the real one is stopped: SIGINT ends it cleanly at the next frame
 * (exit 0); SIGTERM and SIGKILL end it at once.
 */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setInterval } from "node:timers";

const argv = process.argv.slice(2);
const dir = process.env.RPICAM_STANDIN_DIR;
const footage = process.env.RPICAM_STANDIN_FOOTAGE;
const started = performance.now();

/** libcamera's log line prefix: `[0:00:01.234567890] [pid]`. */
function libcameraLine(level, text) {
  const seconds = (performance.now() - started) / 1000 + 3.1;
  const clock = `0:00:${seconds.toFixed(9).padStart(12, "0")}`;
  return `[${clock}] [${process.pid}] ${level.padStart(5)} ${text}`;
}

function fail(message) {
  // rpicam_vid.cpp main(): catch (std::exception const &e) { LOG_ERROR("ERROR: *** " << e.what() << " ***"); return -1; }
  process.stderr.write(`ERROR: *** ${message} ***\n`);
  process.exit(255);
}

function record(entry) {
  if (dir) fs.appendFileSync(path.join(dir, "runs.jsonl"), `${JSON.stringify({ pid: process.pid, ...entry })}\n`);
}

// --- Options, as boost::program_options reads rpicam-vid's ------------------

/** Options taking a value (long name → short alias), and the implicit-value switches. */
const VALUED = new Map([
  ["camera", null], ["timeout", "t"], ["width", null], ["height", null], ["framerate", null], ["intra", "g"], ["codec", null],
  ["output", "o"], ["verbose", "v"], ["bitrate", "b"], ["profile", null], ["level", null], ["denoise", null], ["shutter", null],
  ["gain", null], ["awb", null], ["rotation", null], ["tuning-file", null], ["mode", null], ["buffer-count", null],
]);
const SWITCHES = new Map([["nopreview", "n"], ["inline", null], ["flush", null], ["hflip", null], ["vflip", null], ["low-latency", null], ["help", "h"], ["list-cameras", null]]);
const SHORT = new Map([...VALUED, ...SWITCHES].filter(([, s]) => s).map(([long, s]) => [s, long]));

const options = {};
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  let name;
  let value;
  if (arg.startsWith("--")) [name, value] = arg.slice(2).split(/=(.*)/s, 2);
  else if (arg.startsWith("-") && arg.length > 1) name = SHORT.get(arg.slice(1));
  if (!name || (!VALUED.has(name) && !SWITCHES.has(name))) fail(`unrecognised option '${arg}'`);
  if (SWITCHES.has(name)) {
    options[name] = true;
    continue;
  }
  if (value === undefined) {
    value = argv[++i];
    if (value === undefined) fail(`the required argument for option '--${name}' is missing`);
  }
  options[name] = value;
}

function unsigned(name, fallback) {
  const raw = options[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) fail(`the argument ('${raw}') for option '--${name}' is invalid`);
  return Number(raw);
}

/** core/options.hpp TimeVal: a number in ms, or with a unit (5sec, 500ms, 1min). */
function milliseconds(raw) {
  const match = /^(\d+(?:\.\d+)?)(min|s|sec|ms|us)?$/.exec(raw);
  if (!match) fail(`Invalid time string provided`);
  const scale = { min: 60_000, s: 1000, sec: 1000, ms: 1, us: 0.001 }[match[2] ?? "ms"];
  return Number(match[1]) * scale;
}

const camera = unsigned("camera", 0);
const width = unsigned("width", 0) || 640;
const height = unsigned("height", 0) || 480;
const framerate = options.framerate === undefined ? 30 : Number(options.framerate);
if (!(framerate > 0)) fail(`the argument ('${options.framerate}') for option '--framerate' is invalid`);
const intra = unsigned("intra", 0) || 60;
const timeoutMs = milliseconds(options.timeout ?? "5sec");
const codec = options.codec ?? "h264";
if (codec !== "h264") fail(`the rpicam-vid stand-in writes h264 only, not ${codec}`);

// --- The camera ---------------------------------------------------------------

process.stderr.write(`${libcameraLine("INFO", "Camera camera_manager.cpp:327 libcamera v0.4.0+53-29156679")}\n`);
const connected = dir && fs.existsSync(path.join(dir, "cameras")) ? Number(fs.readFileSync(path.join(dir, "cameras"), "utf8").trim()) : 1;
// core/rpicam_app.cpp, RPiCamApp::OpenCamera().
if (connected === 0) fail("no cameras available");
if (camera >= connected) fail("selected camera is not available");
if (!footage) fail("RPICAM_STANDIN_FOOTAGE is not set (the stand-in has nothing to show)");
// RPiCamApp::OpenCamera(): camera_->acquire() fails while another process holds the camera.
const CAMERA_ID = `/base/soc/i2c0mux/i2c@1/imx708@1a`;
if (dir) {
  const lock = path.join(dir, `camera-${camera}.pid`);
  const holder = Number(fs.existsSync(lock) ? fs.readFileSync(lock, "utf8") : 0);
  let held = false;
  try {
    held = holder > 0 && holder !== process.pid && process.kill(holder, 0);
  } catch {
    held = false;
  }
  if (held) {
    process.stderr.write(`${libcameraLine("ERROR", "Camera camera.cpp:1011 Camera in use by another process")}\n`);
    fail(`failed to acquire camera ${CAMERA_ID}`);
  }
  fs.writeFileSync(lock, String(process.pid));
}
process.stderr.write(`Mode selection for ${width}:${height}:12:P\n`);

// --- The pictures -------------------------------------------------------------

const toStdout = options.output === "-";
const encoder = spawn("ffmpeg", [
  "-hide_banner", "-loglevel", "error", "-nostdin",
  "-re", "-stream_loop", "-1", "-i", footage,
  "-an", "-vf", `fps=${framerate},scale=${width}:${height}`,
  "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-threads", "1", "-bf", "0",
  "-g", String(intra), "-keyint_min", String(intra), "-sc_threshold", "0",
  ...(options.inline ? ["-x264-params", "repeat-headers=1"] : []),
  "-bsf:v", "h264_mp4toannexb", "-flush_packets", "1", "-f", "h264", "pipe:1",
], { stdio: ["ignore", "pipe", "inherit"] });

let stalled = false;
let stopping = false;
let pending = Buffer.alloc(0);
let firstAt = 0;

function quit(code) {
  encoder.kill("SIGKILL");
  record({ event: "exit", at: Date.now(), code });
  process.exit(code);
}

process.stdout.on("error", () => {
  // SIGPIPE is caught by rpicam-vid; the failed fwrite then throws.
  record({ event: "exit", at: Date.now(), code: 255 });
  encoder.kill("SIGKILL");
  fail("failed to write output bytes");
});

encoder.stdout.on("data", (chunk) => {
  if (stalled) return;
  if (firstAt === 0) {
    firstAt = Date.now();
    record({ event: "start", at: firstAt, argv });
  }
  if (!toStdout) return;
  if (options.flush) {
    process.stdout.write(chunk);
  } else {
    // Without --flush, stdio writes a pipe in whole blocks.
    pending = Buffer.concat([pending, chunk]);
    const whole = pending.length - (pending.length % 4096);
    if (whole > 0) {
      process.stdout.write(pending.subarray(0, whole));
      pending = pending.subarray(whole);
    }
  }
  if (stopping) {
    // SIGINT is acted on at the next frame: the camera stops, the output is flushed.
    if (pending.length) process.stdout.write(pending);
    process.stdout.end(() => quit(0));
    stopping = false;
    stalled = true;
  }
  if (timeoutMs > 0 && Date.now() - firstAt > timeoutMs) {
    process.stderr.write(`Halting: reached timeout of ${timeoutMs} milliseconds.\n`);
    stalled = true;
    process.stdout.end(() => quit(0));
  }
});
encoder.on("exit", (code) => {
  if (stalled) return;
  if (!stopping) fail(`the stand-in's encoder stopped (ffmpeg exit ${code})`);
  // Asked to stop and the encoder went first (a terminal's Ctrl-C reaches the whole group).
  if (pending.length && toStdout) process.stdout.write(pending);
  process.stdout.end(() => quit(0));
});

process.once("SIGTERM", () => {
  // Not caught by rpicam-vid: it dies of it. Logged first, then died of for real.
  encoder.kill("SIGKILL");
  record({ event: "exit", at: Date.now(), signal: "SIGTERM" });
  process.kill(process.pid, "SIGTERM");
});

process.on("SIGINT", () => {
  process.stderr.write("Received signal 2\n");
  if (!stalled) stopping = true;
});

if (dir) {
  const command = path.join(dir, "command");
  setInterval(() => {
    let text;
    try {
      text = fs.readFileSync(command, "utf8").trim();
      fs.rmSync(command);
    } catch {
      return;
    }
    if (text === "stall") {
      stalled = true;
      encoder.kill("SIGKILL");
      record({ event: "stall", at: Date.now() });
      process.stderr.write("ERROR: Device timeout detected, attempting a restart!!!\n");
    } else if (text === "exit") {
      process.stderr.write("ERROR: *** failed to queue request ***\n");
      quit(255);
    }
  }, 100);
}
