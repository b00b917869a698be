/**
 * A satellite's side of the link: the one owner of its connection to the
 * broker (a persistent session, QoS 1), its outbox of events owed to the hub,
 * its heartbeats, and the commands it takes from the hub.
 *
 * Until a hub adopts it, it only announces itself (retained, on its `join`
 * topic) and waits for the hub's answer on `adopt`. Once adopted, every event
 * of its pipeline and recorder is written to its encrypted outbox, then sent
 * sealed on the reliable channel; the entry leaves only when the hub acks it.
 * After a reconnect, and every few seconds while acks are missing, what is
 * not acked is sent again: the hub, which keeps the last number it processed,
 * takes each one once.
 */
import { randomBytes } from "node:crypto";
import type { CameraStatus, PipelineEvent } from "../domain/events.js";
import type { Control } from "../domain/control.js";
import type { Camera } from "../domain/camera.js";
import type { MqttLinkStatus } from "../domain/mqtt.js";
import { userMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { connectMqtt, type MqttConnection } from "../mqtt/connection.js";
import { maskUrl } from "../redact.js";
import type { SatelliteConfig } from "../store/store.js";
import type { SatelliteLinkState, SatelliteOutboxEntry } from "./link-state.js";
import {
  acceptDatagram,
  AdoptSchema,
  DownBodySchema,
  encodeBody,
  HEARTBEAT_MS,
  initialDatagramState,
  MAX_MESSAGE_BYTES,
  parseBody,
  parseJson,
  PART_BYTES,
  satelliteTopics,
  type Command,
  type DatagramState,
  type Header,
  type PublicCamera,
  type SatelliteStatus,
  type WireEvent,
} from "./protocol.js";
import { adoptTag, codeKey, fromBase64, joinTag, openMessage, sameTag, sealMessage, sessionKeys, toBase64, type SessionKeys } from "./sealing.js";

export interface SatelliteLinkOptions {
  config: SatelliteConfig;
  state: SatelliteLinkState;
  /** This box's own control: the hub's commands are carried out through it. */
  control: Control;
  logger: Logger;
  /** Ends the link (the connection closes; the outbox stays on disk). */
  signal: AbortSignal;
  version: string;
  now?: () => number;
  /** Between heartbeats. Default 10 s. */
  heartbeatMs?: number;
  /** How long an unacked entry waits before it is sent again. Default 10 s. */
  resendMs?: number;
  /** Between connection attempts. Default 2 s. */
  reconnectMs?: number;
}

export interface SatelliteLink {
  /** Every pipeline and recorder event; kept for the hub (except motion, which stays on the box). Never throws. */
  handle(event: PipelineEvent): void;
  /** Adopted yet, the broker connection, events waiting for the hub's ack. */
  status(): { adopted: boolean; link: MqttLinkStatus; queued: number };
  /** Resolves when this box is adopted (at once when it already is). */
  adopted(): Promise<void>;
  /** Waits for events being written, then closes the connection. */
  closed(): Promise<void>;
}

/** The longest wait between resends while the hub acks nothing. */
const MAX_RESEND_MS = 300_000;

/** Large answers (clips) wait this long for the hub to fetch their parts. */
const PARTS_KEPT_MS = 120_000;

/** The adoption line printed while no hub has adopted the box. */
export function adoptLine(site: string, code: string): string {
  return `Send this in your Telegram group to adopt this box: /adopt ${site} ${code}`;
}

export function publicCamera(camera: Camera): PublicCamera {
  return {
    id: camera.id,
    name: camera.name,
    url: maskUrl(camera.url),
    ...(camera.recordUrl ? { recordUrl: maskUrl(camera.recordUrl) } : {}),
    armed: camera.armed,
    mutedUntil: camera.mutedUntil,
    settings: { ...camera.settings },
  };
}

function liveOf(live: CameraStatus | undefined) {
  if (!live) return undefined;
  const { state, fps, framesIn, framesDropped, lastFrameAt, lastMotionAt, lastAlertAt, lastError, restarts } = live;
  return { state, fps, framesIn, framesDropped, lastFrameAt, lastMotionAt, lastAlertAt, ...(lastError ? { lastError: lastError.slice(0, 300) } : {}), restarts };
}

function toWire(event: PipelineEvent): { wire: WireEvent; jpeg?: Buffer } | undefined {
  switch (event.type) {
    case "alert": {
      const { snapshot, type, id, cameraId, cameraName, at, startedAt, label, score, box, objects, frameWidth, frameHeight, motionOnly, mode } = event;
      return { wire: { type, id, cameraId, cameraName, at, startedAt, label, score, box, objects: objects.slice(0, 100).map((o) => ({ label: o.label, score: o.score, box: o.box })), frameWidth, frameHeight, motionOnly, mode }, jpeg: snapshot };
    }
    case "visit": {
      const { type, phase, id, cameraId, cameraName, at, startedAt, lastSeenAt, label, counts, stationary, motionOnly, reason } = event;
      return { wire: { type, phase, id, cameraId, cameraName, at, startedAt, lastSeenAt, label, counts: { ...counts }, stationary, motionOnly, ...(reason ? { reason } : {}) } };
    }
    case "camera-offline":
      return { wire: { type: event.type, cameraId: event.cameraId, cameraName: event.cameraName, at: event.at, lastFrameAt: event.lastFrameAt, reason: event.reason.slice(0, 300) } };
    case "camera-online":
      return { wire: { type: event.type, cameraId: event.cameraId, cameraName: event.cameraName, at: event.at, downtimeMs: event.downtimeMs } };
    case "clip-ready":
      return { wire: { type: event.type, alertId: event.alertId, cameraId: event.cameraId, cameraName: event.cameraName, durationSeconds: event.durationSeconds, bytes: event.bytes } };
    case "detector-status":
      return { wire: { type: event.type, ok: event.ok, ...(event.reason ? { reason: event.reason.slice(0, 300) } : {}) } };
    case "motion":
      return undefined;
  }
}

export function createSatelliteLink(options: SatelliteLinkOptions): SatelliteLink {
  const { config, state, control, logger } = options;
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const resendMs = options.resendMs ?? 10_000;
  let resendEvery = resendMs;
  const topics = satelliteTopics(config.id);
  const startedAt = now();
  let identity = state.identity();
  let session: SessionKeys | undefined;
  let datagrams: DatagramState = initialDatagramState(state.boot, state.hubBoot());
  let sendSeq = 0;
  /** When each entry was last sent. */
  const sentAt = new Map<number, number>();
  /** The last ack, so a resend starts after it. */
  let writes: Promise<unknown> = Promise.resolve();
  let lastHelloAt = 0;
  const loggedAt = new Map<string, number>();
  const parts = new Map<string, { bytes: Buffer; until: number }>();
  let markAdopted!: () => void;
  const adoptedPromise = new Promise<void>((resolve) => (markAdopted = resolve));
  /** The join code's key, derived once (Argon2id takes a while). */
  const joinKey = identity.join ? codeKey(identity.join.code, identity.join.salt) : undefined;
  joinKey?.catch(() => undefined);

  const sometimes = (key: string, log: () => void) => {
    const t = now();
    if ((loggedAt.get(key) ?? 0) > t - 10_000) return;
    loggedAt.set(key, t);
    log();
  };

  if (identity.hub) {
    session = identity.hub.session;
    markAdopted();
  }

  const connection: MqttConnection = connectMqtt({
    settings: { url: config.url, username: config.username, password: config.password, caFile: config.caFile, site: config.site, discoveryPrefix: "homeassistant" },
    clientId: `vigil-sat-${config.id}`,
    clean: false,
    subscribeQos: 1,
    logger,
    signal: options.signal,
    ...(options.reconnectMs !== undefined ? { reconnectMs: options.reconnectMs } : {}),
    maxIncomingBytes: MAX_MESSAGE_BYTES,
    now,
    onConnect: () => {
      connection.subscribe([topics.down, topics.adopt]);
      if (!identity.hub) void announce();
      else {
        sendHello();
        resendAll(true);
        void heartbeat();
      }
    },
    onMessage: (topic, payload) => {
      if (topic === topics.adopt) void onAdopt(payload);
      else if (topic === topics.down) void onDown(payload);
    },
  });

  async function announce(): Promise<void> {
    const join = identity.join;
    if (!join || !joinKey) {
      sometimes("no-join", () => logger.error("this satellite has neither a hub nor a join code: run `vigil satellite join` again"));
      return;
    }
    const tag = await joinTag(await joinKey, { id: config.id, site: config.site, publicKey: identity.keys.publicKey, salt: join.salt });
    const announcement = { v: 1, id: config.id, site: config.site, version: options.version, key: toBase64(identity.keys.publicKey), salt: toBase64(join.salt), tag: toBase64(tag) };
    connection.publish(topics.join, JSON.stringify(announcement), { retain: true, qos: 1 });
    logger.info({ site: config.site }, "satellite: waiting for a hub to adopt this box");
  }

  async function onAdopt(payload: Buffer): Promise<void> {
    if (identity.hub || payload.length === 0) return;
    const answer = parseJson(AdoptSchema, payload);
    if (!answer || !identity.join || !joinKey) return void sometimes("bad-adopt", () => logger.warn("satellite: an adoption answer that is not one was ignored"));
    const hubKey = fromBase64(answer.key);
    const expected = await adoptTag(await joinKey, { id: config.id, satelliteKey: identity.keys.publicKey, hubId: answer.hub, hubKey });
    if (!(await sameTag(fromBase64(answer.tag), expected))) {
      return void sometimes("forged-adopt", () => logger.warn("satellite: an adoption answer not made with this box's join code was refused"));
    }
    const keys = await sessionKeys("satellite", identity.keys, hubKey);
    await state.adopted({ id: answer.hub, key: hubKey, session: keys, at: now() });
    identity = state.identity();
    session = keys;
    logger.info({ hub: answer.hub }, "satellite: adopted by the hub");
    connection.publish(topics.join, "", { retain: true, qos: 1 });
    markAdopted();
    sendHello();
    void heartbeat();
    resendAll(true);
  }

  // --- sending ---------------------------------------------------------------

  async function seal(header: Header, body: Uint8Array): Promise<Uint8Array | undefined> {
    if (!session) return undefined;
    return sealMessage(session.tx, header, config.id, "up", body);
  }

  /** QoS 0 for heartbeats: one that cannot be delivered is stale by the next, and the broker need not queue them for a hub that is away. */
  function sendDatagram(json: unknown, attachment?: Uint8Array, channel: "datagram" | "hello" = "datagram", qos: 0 | 1 = 1): void {
    if (!session || connection.status().state !== "connected") return;
    sendSeq += 1;
    const header: Header = { channel, seq: sendSeq, boot: state.boot, echo: datagrams.peerBoot };
    void seal(header, encodeBody(json, attachment)).then((wire) => wire && connection.publish(topics.up, Buffer.from(wire), { qos }));
  }

  function sendHello(): void {
    lastHelloAt = now();
    sendDatagram({ t: "hello" }, undefined, "hello");
  }

  async function sendEntry(entry: SatelliteOutboxEntry): Promise<void> {
    if (!session || connection.status().state !== "connected") return;
    const photo = await state.photo(entry);
    const wire = await seal({ channel: "reliable", seq: entry.seq, boot: state.boot, echo: datagrams.peerBoot }, encodeBody({ t: "event", event: entry.event }, photo));
    if (!wire) return;
    connection.publish(topics.up, Buffer.from(wire), { qos: 1 });
    sentAt.set(entry.seq, now());
  }

  /**
   * Sends again what the hub has not acked: all of it after a (re)connect or
   * when the hub says it is there, else what waited longer than the resend
   * interval. That interval doubles (up to 5 min) while no ack comes, so a hub
   * that is away for hours is not sent the same pictures every few seconds.
   */
  function resendAll(all: boolean): void {
    writes = writes.then(async () => {
      const t = now();
      const pending = state.pending();
      const stale = pending.filter((e) => all || t - (sentAt.get(e.seq) ?? 0) >= resendEvery);
      if (stale.length === 0) return;
      if (all) resendEvery = resendMs;
      else resendEvery = Math.min(resendEvery * 2, MAX_RESEND_MS);
      if (!all) logger.info({ entries: stale.length, from: stale[0]!.seq }, "satellite: the hub has not acked these yet; sending them again");
      for (const entry of stale.slice(0, 200)) await sendEntry(entry);
    }).catch((error: unknown) => logger.error({ err: error }, "satellite: could not send the outbox"));
  }

  async function statusNow(): Promise<SatelliteStatus> {
    const status = await control.status();
    return {
      version: options.version,
      site: config.site,
      startedAt,
      mode: status.mode.mode,
      exitDelay: status.mode.exitDelay,
      detector: { ok: status.detector.ok, model: status.detector.model, ...(status.detector.reason ? { reason: status.detector.reason.slice(0, 300) } : {}) },
      ...(status.disk ? { disk: { usedBytes: status.disk.usedBytes, freeBytes: status.disk.freeBytes, ...(status.disk.paused ? { paused: status.disk.paused.slice(0, 300) } : {}) } } : {}),
      cameras: status.cameras.map((c) => ({ camera: publicCamera(c.camera), ...(c.live ? { live: liveOf(c.live) } : {}) })),
      queued: state.pending().length,
    };
  }

  async function heartbeat(): Promise<void> {
    if (!session || connection.status().state !== "connected") return;
    try {
      sendDatagram({ t: "heartbeat", status: await statusNow() }, undefined, "datagram", 0);
    } catch (error) {
      logger.error({ err: error }, "satellite: could not make a heartbeat");
    }
  }

  const timer = setInterval(() => {
    void heartbeat();
    if (session && connection.status().state === "connected") resendAll(false);
    const t = now();
    for (const [ref, kept] of parts) if (kept.until < t) parts.delete(ref);
  }, Math.min(heartbeatMs, resendMs));
  timer.unref();
  options.signal.addEventListener("abort", () => clearInterval(timer), { once: true });

  // --- receiving ----------------------------------------------------------------

  async function onDown(payload: Buffer): Promise<void> {
    if (!session) return;
    const opened = await openMessage(session.rx, payload, config.id, "down");
    if (!opened) return void sometimes("forged", () => logger.warn({ bytes: payload.length }, "satellite: a message on the broker not sealed by the hub was refused"));
    const { header, body } = opened;
    if (header.channel === "reliable") return void sometimes("unexpected", () => logger.warn("satellite: an unexpected message from the hub was refused"));
    const verdict = acceptDatagram(datagrams, header);
    if (!verdict.accept) {
      if (verdict.reason === "stale-echo" && now() - lastHelloAt > 2000) sendHello(); // the hub does not know this start yet
      if (verdict.reason !== "stale-echo") sometimes(`replay-${verdict.reason}`, () => logger.warn({ reason: verdict.reason }, "satellite: a replayed or outdated message from the hub was refused"));
      return;
    }
    datagrams = verdict.state;
    if (verdict.newPeerBoot) void state.noteHubBoot(header.boot).catch((error: unknown) => logger.error({ err: error }, "satellite: could not write the hub's boot"));
    if (header.echo !== state.boot && now() - lastHelloAt > 2000) sendHello();
    const parsed = parseBody(DownBodySchema, body);
    if (!parsed) return void sometimes("bad-body", () => logger.warn("satellite: a message from the hub that is not one Vigil knows was ignored"));
    const message = parsed.body;
    switch (message.t) {
      case "hello":
        // The hub (re)started or reconnected: what it did not ack, and a heartbeat it can take now that this box knows its start.
        resendAll(true);
        void heartbeat();
        return;
      case "ack":
        writes = writes.then(async () => {
          const gone = await state.ack(message.upTo);
          if (gone) resendEvery = resendMs;
          for (const seq of sentAt.keys()) if (seq <= message.upTo) sentAt.delete(seq);
          if (gone) logger.debug({ upTo: message.upTo, gone }, "satellite: the hub acked");
        }).catch((error: unknown) => logger.error({ err: error }, "satellite: could not remove acked entries"));
        return;
      case "command":
        await runCommand(message.id, message.command);
        return;
    }
  }

  /** Keeps a large answer for the hub to fetch part by part; returns the first part and how to get the rest. */
  function answer(bytes: Buffer): { attachment: Buffer; whole?: { ref: string; total: number } } {
    if (bytes.length <= PART_BYTES) return { attachment: bytes };
    const ref = randomBytes(8).toString("hex");
    parts.set(ref, { bytes, until: now() + PARTS_KEPT_MS });
    return { attachment: bytes.subarray(0, PART_BYTES), whole: { ref, total: bytes.length } };
  }

  const cameras = () => control.cameras().map(publicCamera);

  async function runCommand(id: number, command: Command): Promise<void> {
    const reply = (fields: Record<string, unknown>, attachment?: Uint8Array) => sendDatagram({ t: "reply", re: id, ...fields }, attachment);
    try {
      switch (command.op) {
        case "mode": {
          const view = control.mode();
          if (view.exitDelay !== command.exitDelay) await control.setExitDelay(command.exitDelay);
          if (view.mode !== command.mode) {
            await control.setMode(command.mode, command.by);
            logger.info({ mode: command.mode }, "satellite: mode set by the hub");
          }
          return reply({ ok: true, result: { mode: command.mode } });
        }
        case "snapshot": {
          const shot = await control.snapshot(command.camera);
          const { attachment, whole } = answer(shot.jpeg);
          return reply({ ok: true, result: { cameraId: shot.cameraId, cameraName: shot.cameraName, at: shot.at }, ...(whole ? { whole } : {}) }, attachment);
        }
        case "clip":
        case "event-clip": {
          const clip = command.op === "clip" ? await control.clip(command.camera, command.seconds) : await control.eventClip(command.alertId);
          const { attachment, whole } = answer(clip.mp4);
          return reply({ ok: true, result: { durationSeconds: clip.durationSeconds, width: clip.width, height: clip.height, transcoded: clip.transcoded }, ...(whole ? { whole } : {}) }, attachment);
        }
        case "part": {
          const kept = parts.get(command.ref);
          if (!kept) return reply({ ok: false, error: "That answer is no longer kept on the satellite; ask again." });
          return reply({ ok: true, result: { offset: command.offset } }, kept.bytes.subarray(command.offset, command.offset + PART_BYTES));
        }
        case "arm":
          await (command.armed ? control.arm(command.camera) : control.disarm(command.camera));
          return reply({ ok: true, cameras: cameras() });
        case "mute": {
          const names = await control.mute(command.camera, command.until);
          return reply({ ok: true, result: { cameras: names }, cameras: cameras() });
        }
        case "set": {
          const result = await control.setSetting(command.camera, command.key, command.value);
          return reply({ ok: true, result, cameras: cameras() });
        }
        case "probe-camera": {
          const probe = await control.probeCamera(command.input);
          const { attachment, whole } = answer(probe.jpeg);
          return reply({ ok: true, result: { firstFrameMs: probe.firstFrameMs, width: probe.width, height: probe.height }, ...(whole ? { whole } : {}) }, attachment);
        }
        case "add-camera": {
          const added = await control.addCamera(command.input);
          return reply({ ok: true, result: { camera: publicCamera(added) }, cameras: cameras() });
        }
        case "remove-camera": {
          const removed = await control.removeCamera(command.camera);
          return reply({ ok: true, result: { camera: publicCamera(removed) }, cameras: cameras() });
        }
        case "rename-camera": {
          const renamed = await control.renameCamera(command.camera, command.newName);
          return reply({ ok: true, result: { camera: publicCamera(renamed) }, cameras: cameras() });
        }
      }
    } catch (error) {
      logger.info({ op: command.op, err: error }, "satellite: a command from the hub failed");
      reply({ ok: false, error: userMessage(error) });
    }
  }

  return {
    handle(event) {
      const made = toWire(event);
      // No hub adopted it yet: it owes nobody anything (and a hub adopting it tomorrow wants no old news).
      if (!made || !identity.hub) return;
      const at = now();
      writes = writes.then(async () => {
        const entry = await state.append(made.wire, at, made.jpeg);
        await sendEntry(entry);
      }).catch((error: unknown) => logger.error({ err: error, event: event.type }, "satellite: could not keep an event for the hub"));
    },
    status: () => ({ adopted: identity.hub !== null, link: connection.status(), queued: state.pending().length }),
    adopted: () => adoptedPromise,
    async closed() {
      clearInterval(timer);
      await writes;
      await connection.closed();
      await state.flush();
    },
  };
}
