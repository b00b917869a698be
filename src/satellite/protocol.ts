/**
 * The satellite protocol's pure part: topics, the wire header, message bodies,
 * and every decision a side takes about a message it received (is it the next
 * in order, a duplicate, a replay, from an older start of the peer?), about a
 * request that waits too long, and about a satellite that went silent. No I/O
 * and no clocks here: time is passed in.
 *
 * Two boxes meet on the MQTT broker: the hub (the box with the bot) and any
 * number of satellites (cameras, pipeline, recorder, no bot). Everything on the
 * `up` and `down` topics is sealed end to end (see sealing.ts); the broker sees
 * the header below and ciphertext. There are three channels:
 *
 * - `reliable` (satellite → hub only): what the satellite owes the hub (alerts,
 *   visits, clip notices, camera notices). Numbered from 1 for the life of the
 *   adoption, kept in the satellite's encrypted outbox until the hub acks it,
 *   processed by the hub strictly in order and once (it keeps the last number
 *   it processed on disk).
 * - `datagram` (both ways): heartbeats, commands, their replies, acks. Not
 *   kept: a lost one is a timeout. Numbered per start of the sender (`boot`),
 *   and each carries the receiver's boot as the sender last heard it (`echo`),
 *   so a message recorded before the receiver's last start is refused, and one
 *   recorded in this start is refused by a sliding window.
 * - `hello`: tells the peer our boot (on connect, and when the peer's messages
 *   show it does not know it). Refused when from an older boot than one seen.
 */
import * as v from "valibot";
import { MODES } from "../domain/modes.js";

/** Every satellite topic lives under this. */
export const SAT_ROOT = "vigil/satellites";
/** The hub listens here for satellites asking to be adopted (each retains its announcement on its own topic). */
export const JOIN_WILDCARD = `${SAT_ROOT}/+/join`;

/** A satellite's id: 12 lower-case hex digits, random, chosen at `vigil satellite join`. */
export const SATELLITE_ID = /^[0-9a-f]{12}$/;

export function satelliteTopics(id: string) {
  const base = `${SAT_ROOT}/${id}`;
  return {
    /** The satellite's announcement (retained, clear text, authenticated by the join code). */
    join: `${base}/join`,
    /** The hub's answer to an adoption (retained until the satellite has taken it). */
    adopt: `${base}/adopt`,
    /** Sealed, satellite → hub. */
    up: `${base}/up`,
    /** Sealed, hub → satellite. */
    down: `${base}/down`,
  };
}

/** The satellite id in a `vigil/satellites/<id>/...` topic, if it is one. */
export function satelliteIdOf(topic: string): string | undefined {
  const parts = topic.split("/");
  if (parts.length !== 4 || `${parts[0]}/${parts[1]}` !== SAT_ROOT) return undefined;
  return SATELLITE_ID.test(parts[2]!) ? parts[2] : undefined;
}

// --- the wire header ----------------------------------------------------------

export const WIRE_VERSION = 1;
export const HEADER_BYTES = 26;
export type Channel = "reliable" | "datagram" | "hello";
const CHANNELS: readonly Channel[] = ["reliable", "datagram", "hello"];

export interface Header {
  channel: Channel;
  /** Reliable: the outbox number; datagram and hello: the sender's counter in this boot. */
  seq: number;
  /** The sender's boot counter (it grows by one at every start). */
  boot: number;
  /** The receiver's boot as the sender last heard it; 0 when it has not. */
  echo: number;
}

/** version (1) ‖ channel (1) ‖ seq (8) ‖ boot (8) ‖ echo (8), big-endian. Authenticated as associated data. */
export function encodeHeader(header: Header): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, WIRE_VERSION);
  view.setUint8(1, CHANNELS.indexOf(header.channel));
  view.setBigUint64(2, BigInt(header.seq));
  view.setBigUint64(10, BigInt(header.boot));
  view.setBigUint64(18, BigInt(header.echo));
  return out;
}

export function decodeHeader(bytes: Uint8Array): Header | undefined {
  if (bytes.length < HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (view.getUint8(0) !== WIRE_VERSION) return undefined;
  const channel = CHANNELS[view.getUint8(1)];
  if (!channel) return undefined;
  const big = (at: number) => view.getBigUint64(at);
  const seq = big(2);
  const boot = big(10);
  const echo = big(18);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (seq > max || boot > max || echo > max) return undefined;
  return { channel, seq: Number(seq), boot: Number(boot), echo: Number(echo) };
}

// --- bodies -------------------------------------------------------------------

/** A body is JSON and, for pictures and clip parts, bytes: u32 length of the JSON ‖ JSON ‖ bytes. */
export function encodeBody(json: unknown, attachment?: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(4 + text.length + (attachment?.length ?? 0));
  new DataView(out.buffer).setUint32(0, text.length);
  out.set(text, 4);
  if (attachment) out.set(attachment, 4 + text.length);
  return out;
}

export function decodeBody(bytes: Uint8Array): { json: unknown; attachment: Buffer } | undefined {
  if (bytes.length < 4) return undefined;
  const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (4 + length > bytes.length) return undefined;
  try {
    const json: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(4, 4 + length)));
    return { json, attachment: Buffer.from(bytes.subarray(4 + length)) };
  } catch {
    return undefined;
  }
}

const Box = v.tuple([v.number(), v.number(), v.number(), v.number()]);
const Name = v.pipe(v.string(), v.maxLength(64));
const Id = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/));
const Counts = v.record(v.string(), v.number());

/** A pipeline event as a satellite sends it; an alert's snapshot travels as the body's bytes. */
export const WireEventSchema = v.variant("type", [
  v.object({
    type: v.literal("alert"),
    id: Id,
    cameraId: Id,
    cameraName: Name,
    at: v.number(),
    startedAt: v.number(),
    label: Name,
    score: v.number(),
    box: Box,
    objects: v.pipe(v.array(v.object({ label: Name, score: v.number(), box: Box })), v.maxLength(100)),
    frameWidth: v.number(),
    frameHeight: v.number(),
    motionOnly: v.boolean(),
    mode: v.picklist(MODES),
  }),
  v.object({
    type: v.literal("visit"),
    phase: v.picklist(["update", "end"]),
    id: Id,
    cameraId: Id,
    cameraName: Name,
    at: v.number(),
    startedAt: v.number(),
    lastSeenAt: v.number(),
    label: Name,
    counts: Counts,
    stationary: v.boolean(),
    motionOnly: v.boolean(),
    reason: v.optional(v.picklist(["left", "disarmed", "stopped"])),
  }),
  v.object({ type: v.literal("camera-offline"), cameraId: Id, cameraName: Name, at: v.number(), lastFrameAt: v.number(), reason: v.pipe(v.string(), v.maxLength(300)) }),
  v.object({ type: v.literal("camera-online"), cameraId: Id, cameraName: Name, at: v.number(), downtimeMs: v.number() }),
  v.object({ type: v.literal("clip-ready"), alertId: Id, cameraId: Id, cameraName: Name, durationSeconds: v.number(), bytes: v.number() }),
  v.object({ type: v.literal("detector-status"), ok: v.boolean(), reason: v.optional(v.pipe(v.string(), v.maxLength(300))) }),
]);
export type WireEvent = v.InferOutput<typeof WireEventSchema>;

const SettingsShape = v.record(v.string(), v.unknown());

/** A camera as the hub may know it: no username, no password. */
export const PublicCameraSchema = v.object({
  id: Id,
  name: Name,
  url: v.pipe(v.string(), v.maxLength(2048)),
  recordUrl: v.optional(v.pipe(v.string(), v.maxLength(2048))),
  armed: v.boolean(),
  mutedUntil: v.nullable(v.number()),
  settings: SettingsShape,
});
export type PublicCamera = v.InferOutput<typeof PublicCameraSchema>;

const LiveSchema = v.object({
  state: v.picklist(["starting", "online", "offline", "stopped"]),
  fps: v.number(),
  framesIn: v.number(),
  framesDropped: v.number(),
  lastFrameAt: v.number(),
  lastMotionAt: v.number(),
  lastAlertAt: v.number(),
  lastError: v.optional(v.pipe(v.string(), v.maxLength(300))),
  restarts: v.number(),
});

/** What a heartbeat says about a satellite. */
export const SatelliteStatusSchema = v.object({
  version: v.pipe(v.string(), v.maxLength(40)),
  site: Name,
  startedAt: v.number(),
  mode: v.picklist(MODES),
  exitDelay: v.number(),
  detector: v.object({ ok: v.boolean(), model: Name, reason: v.optional(v.pipe(v.string(), v.maxLength(300))) }),
  disk: v.optional(v.object({ usedBytes: v.number(), freeBytes: v.number(), paused: v.optional(v.pipe(v.string(), v.maxLength(300))) })),
  cameras: v.pipe(v.array(v.object({ camera: PublicCameraSchema, live: v.optional(LiveSchema) })), v.maxLength(64)),
  /** Entries waiting in its outbox for the hub's ack. */
  queued: v.number(),
});
export type SatelliteStatus = v.InferOutput<typeof SatelliteStatusSchema>;

const ModeSourceSchema = v.variant("kind", [
  v.object({ kind: v.literal("chat"), userId: v.optional(v.number()), name: v.optional(Name) }),
  v.object({ kind: v.literal("mqtt") }),
  v.object({ kind: v.literal("schedule"), scheduleId: Name, edge: v.picklist(["start", "end"]) }),
  v.object({ kind: v.literal("presence"), presence: v.picklist(["home", "not_home"]) }),
  v.object({ kind: v.literal("setup") }),
]);

const CameraInputSchema = v.object({
  name: Name,
  url: v.pipe(v.string(), v.maxLength(2048)),
  username: v.optional(v.pipe(v.string(), v.maxLength(256))),
  password: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  recordUrl: v.optional(v.pipe(v.string(), v.maxLength(2048))),
});

/** What the hub may ask of a satellite. */
export const CommandSchema = v.variant("op", [
  v.object({ op: v.literal("mode"), mode: v.picklist(MODES), by: ModeSourceSchema, exitDelay: v.number() }),
  v.object({ op: v.literal("snapshot"), camera: Name }),
  v.object({ op: v.literal("clip"), camera: Name, seconds: v.optional(v.number()) }),
  v.object({ op: v.literal("event-clip"), alertId: Id }),
  v.object({ op: v.literal("part"), ref: Id, offset: v.number() }),
  v.object({ op: v.literal("arm"), camera: Name, armed: v.boolean() }),
  v.object({ op: v.literal("mute"), camera: v.optional(Name), until: v.nullable(v.number()) }),
  v.object({ op: v.literal("set"), camera: v.optional(Name), key: Name, value: v.pipe(v.string(), v.maxLength(4096)) }),
  v.object({ op: v.literal("probe-camera"), input: CameraInputSchema }),
  v.object({ op: v.literal("add-camera"), input: CameraInputSchema }),
  v.object({ op: v.literal("remove-camera"), camera: Name }),
  v.object({ op: v.literal("rename-camera"), camera: Name, newName: Name }),
]);
export type Command = v.InferOutput<typeof CommandSchema>;

/** Sealed bodies, satellite → hub. */
export const UpBodySchema = v.variant("t", [
  v.object({ t: v.literal("event"), event: WireEventSchema }),
  v.object({ t: v.literal("heartbeat"), status: SatelliteStatusSchema }),
  v.object({
    t: v.literal("reply"),
    re: v.number(),
    ok: v.boolean(),
    /** The sentence to show when not ok. */
    error: v.optional(v.pipe(v.string(), v.maxLength(1000))),
    result: v.optional(v.unknown()),
    /** The satellite's cameras after the command, so the hub's view is current at once. */
    cameras: v.optional(v.array(PublicCameraSchema)),
  }),
  v.object({ t: v.literal("hello") }),
]);
export type UpBody = v.InferOutput<typeof UpBodySchema>;

/** Sealed bodies, hub → satellite. */
export const DownBodySchema = v.variant("t", [
  v.object({ t: v.literal("ack"), upTo: v.number() }),
  v.object({ t: v.literal("command"), id: v.number(), command: CommandSchema }),
  v.object({ t: v.literal("hello") }),
]);
export type DownBody = v.InferOutput<typeof DownBodySchema>;

/** A satellite's announcement on its `join` topic (clear text; the tag proves it knows the join code). */
export const JoinSchema = v.object({
  v: v.literal(1),
  id: v.pipe(v.string(), v.regex(SATELLITE_ID)),
  site: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,32}$/)),
  version: v.pipe(v.string(), v.maxLength(40)),
  /** X25519 public key (crypto_kx), base64. */
  key: v.pipe(v.string(), v.maxLength(100)),
  /** Argon2id salt of the join code, base64. */
  salt: v.pipe(v.string(), v.maxLength(100)),
  tag: v.pipe(v.string(), v.maxLength(100)),
});
export type JoinAnnouncement = v.InferOutput<typeof JoinSchema>;

/** The hub's answer on `adopt`: its public key, authenticated with the same code. */
export const AdoptSchema = v.object({
  v: v.literal(1),
  hub: v.pipe(v.string(), v.regex(/^[0-9a-f]{12}$/)),
  key: v.pipe(v.string(), v.maxLength(100)),
  tag: v.pipe(v.string(), v.maxLength(100)),
});
export type AdoptAnswer = v.InferOutput<typeof AdoptSchema>;

export function parseJson<T>(schema: v.GenericSchema<unknown, T>, bytes: Uint8Array): T | undefined {
  try {
    const result = v.safeParse(schema, JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
}

export function parseBody<T>(schema: v.GenericSchema<unknown, T>, bytes: Uint8Array): { body: T; attachment: Buffer } | undefined {
  const decoded = decodeBody(bytes);
  if (!decoded) return undefined;
  const result = v.safeParse(schema, decoded.json);
  return result.success ? { body: result.output, attachment: decoded.attachment } : undefined;
}

// --- decisions on what arrives -------------------------------------------------

/** Messages held while an earlier one is missing (the sender resends it): more than this is a sender gone wrong. */
export const MAX_HELD = 512;

/**
 * The reliable channel: `last` is the number of the last message processed.
 * The next one is processed; one already processed is a duplicate (a resend,
 * or a replay: acked again, never processed twice); a later one waits for the
 * ones before it.
 */
export function reliableDecision(last: number, seq: number): "process" | "duplicate" | "hold" | "too-far" {
  if (!Number.isSafeInteger(seq) || seq < 1) return "too-far";
  if (seq <= last) return "duplicate";
  if (seq === last + 1) return "process";
  return seq - last <= MAX_HELD ? "hold" : "too-far";
}

/** Datagram numbers remembered below the highest, so one arriving late is still taken once. */
export const REPLAY_WINDOW = 256;

/** What one side knows of its peer's datagrams. */
export interface DatagramState {
  /** Our own boot counter: datagrams must echo it. */
  myBoot: number;
  /** The peer's boot, from its newest message (0: none yet). */
  peerBoot: number;
  /** The highest datagram number taken in `peerBoot`. */
  top: number;
  /** Numbers taken in (top - REPLAY_WINDOW, top]. */
  seen: readonly number[];
}

export function initialDatagramState(myBoot: number, peerBoot = 0): DatagramState {
  return { myBoot, peerBoot, top: 0, seen: [] };
}

export type DatagramVerdict =
  | { accept: true; state: DatagramState; newPeerBoot: boolean }
  | { accept: false; reason: "stale-echo" | "old-boot" | "replay" | "too-old"; state: DatagramState };

/**
 * Whether to take a datagram or a hello with this header. A datagram must
 * echo our boot (so nothing recorded before our start passes); both must come
 * from the peer's newest boot, and each number is taken once.
 */
export function acceptDatagram(state: DatagramState, header: Header): DatagramVerdict {
  if (header.channel === "datagram" && header.echo !== state.myBoot) return { accept: false, reason: "stale-echo", state };
  if (header.boot < state.peerBoot) return { accept: false, reason: "old-boot", state };
  if (header.boot > state.peerBoot) {
    return { accept: true, newPeerBoot: true, state: { ...state, peerBoot: header.boot, top: header.seq, seen: [header.seq] } };
  }
  if (header.seq > state.top) {
    const top = header.seq;
    return { accept: true, newPeerBoot: false, state: { ...state, top, seen: [...state.seen.filter((s) => s > top - REPLAY_WINDOW), top] } };
  }
  if (header.seq <= state.top - REPLAY_WINDOW) return { accept: false, reason: "too-old", state };
  if (state.seen.includes(header.seq)) return { accept: false, reason: "replay", state };
  return { accept: true, newPeerBoot: false, state: { ...state, seen: [...state.seen, header.seq] } };
}

// --- requests, silence ----------------------------------------------------------

/** Requests whose answer is overdue. */
export function overdue<T extends { deadline: number }>(pending: Iterable<[number, T]>, now: number): number[] {
  const out: number[] = [];
  for (const [id, request] of pending) if (request.deadline <= now) out.push(id);
  return out;
}

/** Heartbeats come this often. */
export const HEARTBEAT_MS = 10_000;
/** A satellite not heard from for this long is said to be silent (four heartbeats and a half: one lost heartbeat is no news). */
export const DEFAULT_SILENT_AFTER_MS = 45_000;

/** Whether a satellite last heard at `lastHeardAt` is silent now. */
export function isSilent(lastHeardAt: number, now: number, silentAfterMs = DEFAULT_SILENT_AFTER_MS): boolean {
  return now - lastHeardAt >= silentAfterMs;
}

/** How long to wait for an answer to a command: a clip takes its seconds, and a picture of a camera just starting up takes a while. */
export function commandTimeoutMs(command: Command): number {
  switch (command.op) {
    case "clip":
      return ((command.seconds ?? 10) + 40) * 1000;
    case "probe-camera":
      return 45_000;
    case "event-clip":
    case "part":
      return 30_000;
    default:
      return 20_000;
  }
}

// --- camera names across boxes -----------------------------------------------------

/** A satellite's camera, as the chat names it: `site/camera`. */
export function qualifiedName(site: string, camera: string): string {
  return `${site}/${camera}`;
}

/** A camera's id on the hub: the satellite's id and the camera's own (callback data allows `-`, not `:` or `/`). */
export function remoteCameraId(satelliteId: string, cameraId: string): string {
  return `${satelliteId}-${cameraId}`;
}

export function splitRemoteCameraId(id: string): { satelliteId: string; cameraId: string } | undefined {
  const match = /^([0-9a-f]{12})-(.+)$/.exec(id);
  return match ? { satelliteId: match[1]!, cameraId: match[2]! } : undefined;
}

export interface NamedSatellite {
  id: string;
  site: string;
  cameras: readonly { name: string }[];
}

export type CameraOwner = { box: "local"; name: string } | { box: "satellite"; satelliteId: string; site: string; name: string } | { box: "none" } | { box: "ambiguous"; names: string[] };

/**
 * Which box a camera name typed in the chat belongs to: `site/camera` names a
 * satellite's camera; a bare name is the hub's own camera, or a satellite's
 * when exactly one satellite has a camera of that name and the hub has none.
 */
export function resolveCamera(name: string, local: readonly { name: string }[], satellites: readonly NamedSatellite[]): CameraOwner {
  const key = name.trim().toLowerCase();
  const slash = key.indexOf("/");
  if (slash >= 0) {
    const site = key.slice(0, slash);
    const camera = key.slice(slash + 1);
    const satellite = satellites.find((s) => s.site.toLowerCase() === site);
    if (!satellite) return { box: "none" };
    const found = satellite.cameras.find((c) => c.name.toLowerCase() === camera);
    return found ? { box: "satellite", satelliteId: satellite.id, site: satellite.site, name: found.name } : { box: "none" };
  }
  const own = local.find((c) => c.name.toLowerCase() === key);
  if (own) return { box: "local", name: own.name };
  const matches = satellites.flatMap((s) => s.cameras.filter((c) => c.name.toLowerCase() === key).map((c) => ({ s, c })));
  if (matches.length === 1) return { box: "satellite", satelliteId: matches[0]!.s.id, site: matches[0]!.s.site, name: matches[0]!.c.name };
  if (matches.length > 1) return { box: "ambiguous", names: matches.map((m) => qualifiedName(m.s.site, m.c.name)) };
  return { box: "none" };
}

/** A new camera's name typed as `site/camera` puts it on that satellite; undefined: on the hub. */
export function siteOfNewCamera(name: string): { site: string; camera: string } | undefined {
  const slash = name.indexOf("/");
  if (slash < 0) return undefined;
  return { site: name.slice(0, slash).trim(), camera: name.slice(slash + 1).trim() };
}

/** The pieces a clip or any large answer is sent in. Under the broker's and the link's message limit with room to spare. */
export const PART_BYTES = 192 * 1024;
/** Largest sealed message either side takes. */
export const MAX_MESSAGE_BYTES = 512 * 1024;
