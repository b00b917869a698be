/**
 * A real RTSP server for tests and benchmarks: gst-rtsp-server (Debian packages,
 * see ../shared/RECIPES.md) serving mounts `/cam1` … `/camN`, each looping a clip
 * from ../shared/footage in real time.
 *
 * Each mount relays RTP that a per-mount ffmpeg ("feeder") sends to a local UDP
 * port, so a test can kill and restart the whole server (clients' ffmpeg then
 * exits with code 0), stall one camera while the server stays up (clients hang),
 * or demand credentials. Every feeder start and every loop of the clip is
 * timestamped, so the wall-clock time any frame left the server is known.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FOOTAGE_DIR = path.resolve(HERE, "..", "..", "..", "shared", "footage");
const SERVER_SCRIPT = path.join(HERE, "rtsp_server.py");
const PYTHON = "/usr/bin/python3"; // Debian's, which has python3-gi (pyenv's does not)

/** Path of a clip in ../shared/footage. */
export function footage(name: string): string {
  return path.join(FOOTAGE_DIR, name);
}

export interface ClipOptions {
  /** Scale to this size (the server side of "640x360 streams"). Default: the clip's own size. */
  width?: number;
  height?: number;
  /** Output frame rate. Default: the clip's own. */
  fps?: number;
  /** Encode as H.265 instead of H.264 (a camera Vigil's RTSP client leaves to ffmpeg). Default h264. */
  codec?: "h264" | "h265";
}

export interface PreparedClip {
  /** MPEG-TS, H.264 with a keyframe every second, no B-frames: clients start within a second. */
  file: string;
  fps: number;
  frames: number;
  /** Exact loop length in seconds (frames / fps). */
  duration: number;
  width: number;
  height: number;
}

async function probe(file: string): Promise<{ fps: number; frames: number; width: number; height: number }> {
  const { stdout } = await run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=r_frame_rate,nb_read_packets,width,height", "-of", "json", file]);
  const stream = (JSON.parse(stdout) as { streams: { r_frame_rate: string; nb_read_packets: string; width: number; height: number }[] }).streams[0]!;
  const [num, den] = stream.r_frame_rate.split("/").map(Number) as [number, number];
  return { fps: num / (den || 1), frames: Number(stream.nb_read_packets), width: stream.width, height: stream.height };
}

/**
 * Re-encodes a clip for serving (cached in the OS temp dir): H.264 in MPEG-TS, one
 * keyframe per second, optionally scaled and resampled. The footage's own keyframe
 * interval can be 25 s, which would keep a client waiting that long for a picture.
 */
export async function prepareClip(source: string, options: ClipOptions = {}): Promise<PreparedClip> {
  const cacheDir = path.join(os.tmpdir(), "vigil-footage-cache");
  await fs.mkdir(cacheDir, { recursive: true });
  const stat = await fs.stat(source);
  const key = createHash("sha256").update(JSON.stringify([source, stat.size, stat.mtimeMs, options, 2])).digest("hex").slice(0, 16);
  const file = path.join(cacheDir, `${path.basename(source).replace(/\.\w+$/, "")}-${key}.ts`);
  if (!(await fs.stat(file).catch(() => undefined))) {
    const original = await probe(source);
    const fps = options.fps ?? original.fps;
    const filters = [`fps=${fps}`];
    if (options.width && options.height) filters.push(`scale=${options.width}:${options.height}`);
    const tmp = `${file}.${process.pid}.tmp`;
    const gop = String(Math.max(1, Math.round(fps)));
    const encoder = options.codec === "h265" ? ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", `log-level=error:bframes=0:keyint=${gop}:min-keyint=${gop}`] : ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-bf", "0", "-g", gop];
    await run("ffmpeg", ["-v", "error", "-y", "-i", source, "-an", "-vf", filters.join(","), ...encoder, "-pix_fmt", "yuv420p", "-f", "mpegts", tmp]);
    await fs.rename(tmp, file);
  }
  const info = await probe(file);
  return { file, fps: info.fps, frames: info.frames, duration: info.frames / info.fps, width: info.width, height: info.height };
}

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export interface MountSpec {
  /** Mount name, e.g. `cam1` (served at `/cam1`). */
  name: string;
  /** A clip file; prepared with {@link prepareClip}. */
  clip: string;
  clipOptions?: ClipOptions;
  /** The camera sends nothing until {@link RtspTestServer.resume} (a benchmark starts cameras when it needs them, at chosen times). */
  paused?: boolean;
  /** The mount has an audio track too (silence, G.711 A-law), listed before the video, as many cameras do. */
  audio?: boolean;
}

interface Mount {
  name: string;
  udpPort: number;
  clip: PreparedClip;
  feeder?: ChildProcess | undefined;
  /** Wall-clock ms at which each feeder run started sending frame 0 (estimated from ffmpeg's progress). */
  runStarts: number[];
}

export interface RtspServerOptions {
  mounts: MountSpec[];
  /** Require these credentials. */
  auth?: { user: string; password: string };
  /** Which login the server asks for: `basic` (default) or `digest` (RFC 2617, MD5). */
  authMethod?: "basic" | "digest";
  /** Fixed port; default: any free port. */
  port?: number;
  /** The address it listens on (a test in a network namespace can make it unreachable). Default 127.0.0.1. */
  address?: string;
}

export class RtspTestServer {
  port = 0;
  #server?: ChildProcess | undefined;
  readonly #mounts = new Map<string, Mount>();
  #closed = false;
  #connections = 0;
  #connectionsSeen = 0;

  private constructor(private readonly options: RtspServerOptions) {}

  static async start(options: RtspServerOptions): Promise<RtspTestServer> {
    const server = new RtspTestServer(options);
    for (const spec of options.mounts) {
      server.#mounts.set(spec.name, { name: spec.name, udpPort: await freeUdpPort(), clip: await prepareClip(spec.clip, spec.clipOptions), runStarts: [] });
    }
    await server.startServer();
    for (const spec of options.mounts) if (!spec.paused) server.startFeeder(server.mount(spec.name));
    return server;
  }

  /** The URL of a mount, with the server's credentials unless `credentials` overrides them (null: none). */
  url(name: string, credentials?: { user: string; password: string } | null): string {
    const creds = credentials === undefined ? this.options.auth : credentials;
    const userinfo = creds ? `${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@` : "";
    return `rtsp://${userinfo}${this.options.address ?? "127.0.0.1"}:${this.port}/${name}`;
  }

  /** RTSP connections open now (one per session for ffmpeg and Vigil's client alike). */
  get connections(): number {
    return this.#connections;
  }

  /** RTSP connections accepted since the server (last) started. */
  get connectionsSeen(): number {
    return this.#connectionsSeen;
  }

  clip(name: string): PreparedClip {
    return this.mount(name).clip;
  }

  /**
   * Wall-clock ms at which the frame at `t` seconds into the clip left the server,
   * for every loop so far (and the next few) of the current feeder run.
   */
  frameTimes(name: string, t: number, upTo = Date.now() + 60_000): number[] {
    const mount = this.mount(name);
    const start = mount.runStarts.at(-1);
    if (start === undefined) return [];
    const out: number[] = [];
    for (let k = 0; ; k++) {
      const at = start + (k * mount.clip.duration + t) * 1000;
      if (at > upTo) return out;
      out.push(at);
    }
  }

  /** Wall-clock ms of each loop start of the current feeder run, up to now. */
  loopStarts(name: string, upTo = Date.now()): number[] {
    return this.frameTimes(name, 0, upTo);
  }

  /** Kills the server process (SIGKILL, like a crash or power cut). Feeders keep running. */
  async kill(): Promise<void> {
    await stopChild(this.#server, "SIGKILL");
    this.#server = undefined;
  }

  /** Starts the server again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.startServer(this.port);
  }

  /** The camera stops sending while the server stays up: clients see a silent, open connection. */
  async stall(name: string): Promise<void> {
    const mount = this.mount(name);
    await stopChild(mount.feeder, "SIGKILL");
    mount.feeder = undefined;
  }

  /** The camera sends (again, or for the first time when it was `paused`), from the start of its clip. */
  resume(name: string): void {
    const mount = this.mount(name);
    if (!mount.feeder) this.startFeeder(mount);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#mounts.values()].map((m) => stopChild(m.feeder, "SIGKILL")));
    await stopChild(this.#server, "SIGTERM");
  }

  private mount(name: string): Mount {
    const mount = this.#mounts.get(name);
    if (!mount) throw new Error(`no mount ${name}`);
    return mount;
  }

  private async startServer(port = this.options.port ?? 0): Promise<void> {
    const args = [SERVER_SCRIPT, "--port", String(port), ...[...this.#mounts.values()].flatMap((m) => ["--mount", `${m.name}=${m.udpPort}`])];
    if (this.options.auth) args.push("--user", this.options.auth.user, "--password", this.options.auth.password, "--auth", this.options.authMethod ?? "basic");
    for (const spec of this.options.mounts) if (spec.audio) args.push("--audio", spec.name);
    for (const spec of this.options.mounts) if (spec.clipOptions?.codec === "h265") args.push("--hevc", spec.name);
    if (this.options.address) args.push("--address", this.options.address);
    const child = spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#server = child;
    this.#connections = 0;
    let lines = "";
    child.stdout.on("data", (d: Buffer) => {
      lines += d.toString();
      const complete = lines.split("\n");
      lines = complete.pop() ?? "";
      for (const line of complete) {
        if (line === "CLIENT +1") {
          this.#connections++;
          this.#connectionsSeen++;
        } else if (line === "CLIENT -1") this.#connections = Math.max(0, this.#connections - 1);
      }
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    this.port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`RTSP server did not start: ${stderr}`)), 15_000);
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const match = /READY (\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`RTSP server exited (${code}) before it was ready: ${stderr}. Is gir1.2-gst-rtsp-server-1.0 installed?`));
      });
    });
  }

  private startFeeder(mount: Mount): void {
    if (this.#closed) return;
    const child = spawn(
      "ffmpeg",
      ["-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", mount.clip.file, "-an", "-c", "copy", "-sdp_file", os.devNull, "-progress", "pipe:1", "-stats_period", "0.5", "-f", "rtp", `rtp://127.0.0.1:${mount.udpPort}?pkt_size=1200`],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    mount.feeder = child;
    const runIndex = mount.runStarts.length;
    let best = Infinity;
    let buffered = "";
    // ffmpeg reports how far into the output it is; with -re that is wall time since
    // the first frame went out, so (now - out_time) bounds the start from above.
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^out_time_us=(\d+)/.exec(line);
        if (!match) continue;
        const estimate = Date.now() - Number(match[1]) / 1000;
        if (estimate < best) {
          best = estimate;
          mount.runStarts[runIndex] = best;
        }
      }
    });
    mount.runStarts[runIndex] = Date.now();
    child.on("exit", () => {
      if (mount.feeder === child) mount.feeder = undefined;
    });
  }
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** Starts a server for a test file and closes it afterwards. */
export async function startRtspServer(options: RtspServerOptions): Promise<RtspTestServer> {
  return RtspTestServer.start(options);
}
