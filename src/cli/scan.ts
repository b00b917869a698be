/**
 * `vigil camera scan`: the ONVIF cameras on the LAN, and with a login their main
 * and sub stream URLs (credentials masked) and the `vigil camera add` line to
 * use. Without any camera found, the one sentence and the usual URL patterns.
 * It needs no store: it only looks.
 */
import { describeFoundCamera, KNOWN_URL_PATTERNS, NO_CAMERA_FOUND, type CameraDiscovery, type CameraStreams, type FoundCamera } from "../domain/discovery.js";
import { withCredentials } from "../domain/stream-url.js";
import { InputError, userMessage } from "../errors.js";
import { maskUrl } from "../redact.js";
import { formatTable } from "./table.js";

export interface ScanIo {
  out: (line: string) => void;
  /** Progress, to stderr: stdout keeps only the result. */
  note: (line: string) => void;
}

export interface ScanLogin {
  username: string;
  password: string | undefined;
}

/** `--timeout 3` (seconds, 0.5 to 60) → ms. */
export function parseScanTimeout(value: string): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || seconds < 0.5 || seconds > 60) throw new InputError(`--timeout takes seconds from 0.5 to 60 (for example 3), not "${value.slice(0, 20)}".`);
  return Math.round(seconds * 1000);
}

/** Single quotes for a POSIX shell: a stream URL often has `&` and `?`. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The line that adds a camera whose streams were read (the password comes from stdin, never the command line). */
export function cameraAddLine(streams: CameraStreams, username: string | undefined): string {
  const parts = ["vigil camera add NAME", shellQuote(streams.detect.url)];
  if (username) parts.push("--username", shellQuote(username), "--password-stdin");
  if (streams.record.url !== streams.detect.url) parts.push("--record-url", shellQuote(streams.record.url));
  return parts.join(" ");
}

/** Runs the scan; resolves with the exit code (0: cameras found and, with a login, read; 1: none found or none read). */
export async function runCameraScan(discovery: CameraDiscovery, login: ScanLogin | undefined, io: ScanIo): Promise<number> {
  const cameras = await discovery.find();
  if (cameras.length === 0) {
    io.out(NO_CAMERA_FOUND);
    io.out("The usual stream URLs (put the camera's address in place of IP):");
    const width = Math.max(...KNOWN_URL_PATTERNS.map(([brand]) => brand.length));
    for (const [brand, pattern] of KNOWN_URL_PATTERNS) io.out(`  ${brand.padEnd(width)}  ${pattern}`);
    io.out("Then: vigil camera add NAME URL --username USER --password-stdin");
    return 1;
  }
  if (!login) {
    io.out(formatTable(["address", "camera", "ONVIF service"], cameras.map((c) => [c.address, describeFoundCamera(c), c.xaddr])));
    io.out("Give --username USER --password-stdin to read each camera's stream URLs.");
    return 0;
  }

  const read: { camera: FoundCamera; streams: CameraStreams }[] = [];
  const failed: { camera: FoundCamera; sentence: string }[] = [];
  for (const camera of cameras) {
    io.note(`Asking ${camera.address} for its streams…`);
    try {
      read.push({ camera, streams: await discovery.streams(camera, login) });
    } catch (error) {
      failed.push({ camera, sentence: userMessage(error) });
    }
  }
  const shown = (url: string, width: number, height: number) => `${maskUrl(withCredentials(url, login.username, login.password))} (${width}x${height})`;
  if (read.length) {
    io.out(formatTable(["address", "camera", "main stream (clips)", "sub-stream (detection)"], read.map(({ camera, streams: s }) => [camera.address, describeFoundCamera(camera), shown(s.record.url, s.record.width, s.record.height), shown(s.detect.url, s.detect.width, s.detect.height)])));
  }
  for (const { camera, sentence } of failed) io.out(`${camera.address} ${describeFoundCamera(camera)}: ${sentence}`);
  if (read.length) {
    io.out("");
    io.out(read.length === 1 ? "To add it (the password is read from standard input):" : "To add one (the password is read from standard input):");
    for (const { streams } of read) io.out(`  ${cameraAddLine(streams, login.username)}`);
  }
  return read.length ? 0 : 1;
}
