/**
 * Raw frames from ffmpeg over a Unix socket instead of its stdout. Node reads a
 * socket with `onread` straight into the frame's own buffer, which the caller
 * gives (and reuses): no 64 KB Buffer per read, no stream machinery, a fraction
 * of the reads, and no copy of the frame afterwards. Reading stdout as a
 * stream cost Node twice the CPU of this for the same frames (measured with 4
 * idle cameras: 1.05 % against 0.45 % of a core), which was most of what the
 * pipeline adds to ffmpeg for an idle camera.
 *
 * ffmpeg listens (`-listen 1 unix:PATH`, opened once its input is) in a private
 * 0700 folder; Vigil connects as soon as the path exists and removes it at once.
 * The folder holds no frames, only the sockets' names.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../../errors.js";
import { removeStaleFolders } from "../record/scratch.js";

const PREFIX = "vigil-frames-";
let folder: Promise<string> | undefined;
let count = 0;

async function createFolder(): Promise<string> {
  await removeStaleFolders(os.tmpdir(), PREFIX);
  const created = await fs.promises.mkdtemp(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`)).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`Vigil cannot create a private folder in ${os.tmpdir()} for reading its cameras (${error.code ?? error.message}); set TMPDIR to a writable folder.`, "TMPDIR");
  });
  process.once("exit", () => fs.rmSync(created, { recursive: true, force: true }));
  // A Unix socket's path has at most 107 bytes.
  if (Buffer.byteLength(created) > 90) throw new ConfigError(`The temp folder ${os.tmpdir()} has too long a path for Vigil's frame sockets; set TMPDIR to a shorter one, such as /tmp.`, "TMPDIR");
  return created;
}

/** A fresh socket path for one ffmpeg attempt. */
export async function frameSocketPath(): Promise<string> {
  // A failure is not kept: the next attempt tries again.
  folder ??= createFolder().catch((error: unknown) => {
    folder = undefined;
    throw error;
  });
  return path.join(await folder, `${++count}.sock`);
}

/** ffmpeg's output options and target for a listening socket at `socketPath`. */
export const socketOutput = (socketPath: string) => ({ options: ["-listen", "1"], target: `unix:${socketPath}` });

export interface FrameReceiver {
  /** Reads again after `onFrame` returned false. */
  resume(): void;
  /** Tells the writer one byte (Vigil's own decoder: the frames in between on or off); the latest is sent once connected. */
  send(byte: number): void;
  /** Stops trying to connect; resolves once everything ffmpeg wrote has been read (its exit closes the socket). */
  finish(): Promise<void>;
  /** Stops at once. */
  close(): void;
}

const RETRY_MS = 50;

/**
 * Connects to the socket ffmpeg listens on (retrying until it exists) and calls
 * `onFrame` with each complete frame, read into a buffer of `frameBytes` from
 * `nextBuffer`, taken when the frame's first bytes come. The frame's buffer is
 * the caller's from then on: it is never written again. Return false from
 * `onFrame` to pause until `resume()`.
 */
export function receiveFrames(socketPath: string, frameBytes: number, nextBuffer: () => Buffer, onFrame: (frame: Buffer) => boolean): FrameReceiver {
  let frame: Buffer | undefined;
  let filled = 0;
  let socket: net.Socket | undefined;
  let trying: net.Socket | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  let told: number | undefined;
  let ended!: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));

  function connect(): void {
    if (stopped) return;
    const attempt = (trying = net.connect({
      path: socketPath,
      onread: {
        buffer: () => (frame ??= nextBuffer()).subarray(filled),
        callback(n) {
          filled += n;
          if (filled < frameBytes) return true;
          const done = frame!;
          frame = undefined;
          filled = 0;
          return onFrame(done);
        },
      },
    }));
    attempt.once("connect", () => {
      socket = attempt;
      if (told !== undefined) attempt.write(Buffer.of(told));
      fs.rm(socketPath, { force: true }, () => undefined);
    });
    // Every error ends in "close", which decides; `on`, since a connected socket can fail later too.
    attempt.on("error", () => undefined);
    attempt.once("close", () => {
      if (socket === attempt) return ended();
      // Not listening yet (or ffmpeg is gone): try again, until told to stop.
      if (!stopped) retry = setTimeout(connect, RETRY_MS);
    });
  }
  connect();

  const stopConnecting = () => {
    stopped = true;
    clearTimeout(retry);
    fs.rm(socketPath, { force: true }, () => undefined);
    if (!socket) ended();
  };

  return {
    resume: () => socket?.resume(),
    send(byte) {
      told = byte;
      socket?.write(Buffer.of(byte));
    },
    finish() {
      stopConnecting();
      return closed;
    },
    close() {
      stopConnecting();
      trying?.destroy();
    },
  };
}
