/**
 * Footage the tests need beyond ../shared/footage, made from it with ffmpeg at
 * run time (never committed): visits separated by empty gaps, two visitors at
 * once, a visitor who stays, a car that drives in and stays. Frames are decoded
 * once, arranged here (cut, repeated, frozen, side by side), and encoded as
 * H.264 in MPEG-TS at 10 fps with a keyframe every second, so the same file
 * serves `vigil replay`, a local-file camera and the RTSP test server. Made
 * files are cached in the OS temp folder by what they contain.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeThrough } from "./video.js";
import { footage } from "./rtsp-server.js";

/** Frame rate of every made clip, and of the wallflower footage it is made from. */
export const MADE_FPS = 10;

interface Frames {
  width: number;
  height: number;
  frames: Buffer[];
}

const decoded = new Map<string, Promise<Frames>>();

/** Every frame of a footage file at 10 fps as yuv420p, optionally cropped (`w:h:x:y`). Memoised. */
function decode(name: string, width: number, height: number, crop?: string): Promise<Frames> {
  const key = `${name}|${crop ?? ""}`;
  let found = decoded.get(key);
  if (!found) {
    const filters = [`fps=${MADE_FPS}`, ...(crop ? [`crop=${crop}`] : [])].join(",");
    found = pipeThrough("ffmpeg", ["-v", "error", "-i", footage(name), "-an", "-vf", filters, "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1"]).then((raw) => {
      const size = (width * height * 3) / 2;
      return { width, height, frames: Array.from({ length: Math.floor(raw.length / size) }, (_, i) => raw.subarray(i * size, (i + 1) * size)) };
    });
    decoded.set(key, found);
  }
  return found;
}

/** Two yuv420p frames of the same height side by side. */
function sideBySide(a: Buffer, b: Buffer, width: number, height: number): Buffer {
  const out = Buffer.alloc(a.length * 2);
  let o = 0;
  const planes: [number, number, number][] = [
    [0, width, height],
    [width * height, width / 2, height / 2],
    [width * height * 1.25, width / 2, height / 2],
  ];
  for (const [offset, w, h] of planes) {
    for (let y = 0; y < h; y++) {
      a.copy(out, o, offset + y * w, offset + (y + 1) * w);
      o += w;
      b.copy(out, o, offset + y * w, offset + (y + 1) * w);
      o += w;
    }
  }
  return out;
}

/** Encodes raw frames (with sensor noise, so held frames look like a live camera, not a still) into a cached MPEG-TS file. */
async function encode(name: string, frames: readonly Buffer[], width: number, height: number): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`${width}x${height}|v1`);
  for (const f of frames) hash.update(f);
  const dir = path.join(os.tmpdir(), "vigil-made-footage");
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}-${hash.digest("hex").slice(0, 16)}.ts`);
  if (await fs.stat(file).catch(() => undefined)) return file;
  const tmp = `${file}.${process.pid}.tmp`;
  await new Promise<void>((resolve, reject) => {
    const args = ["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", `${width}x${height}`, "-r", String(MADE_FPS), "-i", "pipe:0", "-vf", "noise=alls=4:allf=t:all_seed=7", "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-bf", "0", "-g", String(MADE_FPS), "-pix_fmt", "yuv420p", "-f", "mpegts", tmp];
    const child = spawn("ffmpeg", args, { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err.slice(-400)}`))));
    child.stdin.on("error", () => undefined);
    void (async () => {
      for (const frame of frames) if (!child.stdin.write(frame)) await new Promise((r) => child.stdin.once("drain", r));
      child.stdin.end();
    })();
  });
  await fs.rename(tmp, file);
  return file;
}

/**
 * Wallflower "Waving Trees": a conifer swaying, then a man walks in from the
 * right edge at frame 242 (24.2 s), stands in the middle, and leaves through
 * the left edge by frame 260 (26.0 s). Frames 0-239 have no person.
 */
const WALLFLOWER = "wallflower_wavingtrees_10fps.mp4";
export const WALLFLOWER_ENTRY = 242;
/** The visit: from 0.2 s before he comes in to 0.2 s after he has gone. */
const VISIT = { from: 240, to: 262 };

/** `count` tree-only frames that end where the visit segment begins (frame 239), repeating the tree part as needed. */
function treeFrames(count: number): number[] {
  const out: number[] = [];
  while (out.length < count) out.unshift(VISIT.from - 1 - (out.length % VISIT.from));
  return out;
}

export interface MadeClip {
  file: string;
  width: number;
  height: number;
  /** Seconds into the clip at which each visitor comes in. */
  entries: number[];
  /** Length in seconds. */
  duration: number;
}

/**
 * The wallflower visit again and again, each time after `gaps[i]` seconds with
 * nobody in view (from the moment he has gone to the moment he comes in again),
 * after `leadIn` seconds of tree alone.
 */
export async function repeatedVisits(gaps: readonly number[], leadIn = 5): Promise<MadeClip> {
  const src = await decode(WALLFLOWER, 160, 120);
  const order: number[] = [];
  const entries: number[] = [];
  const visit = () => {
    entries.push((order.length + WALLFLOWER_ENTRY - VISIT.from) / MADE_FPS);
    for (let f = VISIT.from; f < VISIT.to; f++) order.push(f);
  };
  order.push(...treeFrames(Math.round(leadIn * MADE_FPS)));
  visit();
  // He has gone at frame 260 and comes in at 242: 0.2 s of each visit segment belong to the gap.
  const inSegment = (VISIT.to - 260 + WALLFLOWER_ENTRY - VISIT.from) / MADE_FPS;
  for (const gap of gaps) {
    order.push(...treeFrames(Math.round((gap - inSegment) * MADE_FPS)));
    visit();
  }
  order.push(...treeFrames(30));
  const file = await encode("visits", order.map((i) => src.frames[i]!), 160, 120);
  return { file, width: 160, height: 120, entries, duration: order.length / MADE_FPS };
}

/** Two wallflower scenes side by side (320x120), the right one `offset` seconds behind: a second man comes in while the first is in view. */
export async function twoVisitors(offset = 0.8): Promise<MadeClip> {
  const src = await decode(WALLFLOWER, 160, 120);
  const lag = Math.round(offset * MADE_FPS);
  const first = 200;
  const frames: Buffer[] = [];
  for (let f = first; f < 280; f++) frames.push(sideBySide(src.frames[f]!, src.frames[f - lag]!, 160, 120));
  const file = await encode("two-visitors", frames, 320, 120);
  const entry = (WALLFLOWER_ENTRY - first) / MADE_FPS;
  return { file, width: 320, height: 120, entries: [entry, entry + lag / MADE_FPS], duration: frames.length / MADE_FPS };
}

/**
 * The man comes in and stays `seconds` without moving (one frame held, with
 * sensor noise), then leaves; `tail` seconds of tree follow (a camera looping
 * the clip sees him again only after them).
 */
export async function longVisit(seconds: number, tail = 3): Promise<MadeClip> {
  const src = await decode(WALLFLOWER, 160, 120);
  const hold = 249; // standing in the middle, facing the camera
  const order = [...treeFrames(40), ...range(VISIT.from, hold), ...Array<number>(Math.round(seconds * MADE_FPS)).fill(hold), ...range(hold, VISIT.to), ...treeFrames(Math.round(tail * MADE_FPS))];
  const file = await encode(`long-visit-${seconds}-${tail}`, order.map((i) => src.frames[i]!), 160, 120);
  return { file, width: 160, height: 120, entries: [(40 + WALLFLOWER_ENTRY - VISIT.from) / MADE_FPS], duration: order.length / MADE_FPS };
}

/**
 * The road from its overpass, lower half only (320x120), where one car at a
 * time comes close. `driveIn`: it starts on the empty near lanes and a dark car
 * drives in, then the picture holds (`parkedSeconds`, with sensor noise) as if
 * it had parked there. Without `driveIn`, the held picture alone: a car that is
 * there from the start.
 */
export async function parkedCar(parkedSeconds: number, driveIn: boolean): Promise<MadeClip & { arrival: number }> {
  const src = await decode("bgslibrary_video03_road-traffic-trees.avi", 320, 120, "320:120:0:120");
  const hold = PARKED_FRAME;
  const arrivalFrame = CAR_ARRIVES_FRAME;
  const order = [...(driveIn ? range(EMPTY_ROAD_FRAME, hold) : []), ...Array<number>(Math.round(parkedSeconds * MADE_FPS)).fill(hold)];
  const file = await encode(`parked-car-${parkedSeconds}-${driveIn}`, order.map((i) => src.frames[i]!), 320, 120);
  return { file, width: 320, height: 120, entries: driveIn ? [(arrivalFrame - EMPTY_ROAD_FRAME) / MADE_FPS] : [], arrival: driveIn ? (arrivalFrame - EMPTY_ROAD_FRAME) / MADE_FPS : 0, duration: order.length / MADE_FPS };
}

/** Road frames (10 fps): the near lanes empty, a dark car coming into them, and that car in the middle of the near lanes. */
const EMPTY_ROAD_FRAME = 82;
const CAR_ARRIVES_FRAME = 110;
const PARKED_FRAME = 114;

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
