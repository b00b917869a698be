/**
 * The hub's side of the link: the one owner of the hub's connection for
 * satellites (a persistent session, QoS 1), of the adoptions, and of what
 * comes from each satellite.
 *
 * A satellite's announcement makes it *waiting*: listed by `/satellites`,
 * otherwise ignored. An admin's `/adopt <site> <code>` checks the code against
 * the announcement, answers with the hub's key, and from then on that
 * satellite's sealed messages are taken:
 *
 * - events (reliable channel) are processed one at a time, in order, once: an
 *   alert goes to the chat (with its picture) and to the hub's event history,
 *   a visit's news edits its alert, a camera's notices are said, a clip-ready
 *   notice makes the hub fetch the clip part by part (persisted, retried) and
 *   then edit the alert into it. The number of the last one processed is kept
 *   on disk; each is acked after it is processed;
 * - heartbeats say it is alive, with its cameras, versions and health; a
 *   satellite not heard from for a while is said in the chat like an offline
 *   camera, and when it is back;
 * - replies answer the commands the hub sends (`request`), or the request
 *   times out with a sentence.
 *
 * The mode is the hub's: every change is sent to every satellite, and a
 * heartbeat that shows another mode gets it sent again.
 */
import type { AlertEvent, PipelineEvent, VisitEvent } from "../domain/events.js";
import type { ModeView } from "../domain/control.js";
import type { MqttLinkStatus, MqttSettings } from "../domain/mqtt.js";
import type { AdoptResult, SatelliteView } from "../domain/satellites.js";
import { InputError, SatelliteError } from "../errors.js";
import type { Logger } from "../log.js";
import { connectMqtt, type MqttConnection } from "../mqtt/connection.js";
import { formatDuration } from "../domain/duration.js";
import type { EventHistory } from "../store/event-history.js";
import type { Outbox } from "../store/outbox.js";
import type { Chat } from "../store/store.js";
import type { AdoptedSatellite, HubLinkState, OwedClip } from "./link-state.js";
import {
  acceptDatagram,
  commandTimeoutMs,
  DEFAULT_SILENT_AFTER_MS,
  encodeBody,
  initialDatagramState,
  isSilent,
  JOIN_WILDCARD,
  JoinSchema,
  MAX_HELD,
  MAX_MESSAGE_BYTES,
  overdue,
  parseBody,
  parseJson,
  PART_BYTES,
  qualifiedName,
  reliableDecision,
  remoteCameraId,
  satelliteIdOf,
  satelliteTopics,
  UpBodySchema,
  type Command,
  type DatagramState,
  type Header,
  type JoinAnnouncement,
  type PublicCamera,
  type SatelliteStatus,
  type UpBody,
  type WireEvent,
} from "./protocol.js";
import { adoptTag, codeKey, fromBase64, joinTag, normaliseCode, openMessage, sameTag, sealMessage, sessionKeys, toBase64 } from "./sealing.js";

/** The key under which the outbox remembers that the chat was told a satellite is silent. */
export const silenceKey = (satelliteId: string) => `sat:${satelliteId}`;

/** Satellites waiting to be adopted that are remembered at most (announcements are not authenticated until an admin gives the code). */
const MAX_WAITING = 64;
/** Announcements under one name that /adopt tries at most. */
const MAX_SAME_SITE = 8;

export interface HubLinkOptions {
  /** The broker (the one `vigil mqtt set` gives Home Assistant). */
  settings: MqttSettings;
  state: HubLinkState;
  /** Satellites' alerts and visits are kept here too: `/events` and `vigil events list` cover every box. */
  history: EventHistory;
  /** Hands an event to the chat (the bot's publisher: on disk in its outbox when it resolves). */
  publish: (event: PipelineEvent) => Promise<void>;
  /** For notices of the link's own (a silent satellite, its detector). */
  outbox: Outbox;
  chats: () => readonly Chat[];
  /** The hub's mode, sent to every satellite. */
  mode: () => ModeView;
  logger: Logger;
  signal: AbortSignal;
  now?: () => number;
  /** Formats a time for the chat. */
  clock: (at: number) => string;
  /** A satellite not heard from this long is silent. Default 45 s. */
  silentAfterMs?: number;
  reconnectMs?: number;
}

export interface RequestAnswer {
  result: unknown;
  /** The picture or clip, whole (fetched part by part when large). */
  attachment: Buffer;
}

export interface HubLink {
  status(): MqttLinkStatus;
  list(): SatelliteView[];
  /** Adopted satellites with their cameras as last heard. */
  adoptedSatellites(): { id: string; site: string; silent: boolean; lastHeardAt: number; cameras: readonly PublicCamera[]; live: SatelliteStatus["cameras"] | undefined }[];
  adopt(site: string, code: string, by: string): Promise<AdoptResult>;
  remove(site: string): Promise<string>;
  /** Sends a command and waits for its answer; a SatelliteError when silent, refused or not answered in time. */
  request(satelliteId: string, command: Command): Promise<RequestAnswer>;
  /** The hub's mode changed: every satellite is told. */
  modeChanged(): void;
  /** Resolves when `satelliteId` has been heard from since `since` (tests, the adoption's answer). */
  heardSince(satelliteId: string, since: number, timeoutMs: number): Promise<boolean>;
  closed(): Promise<void>;
}

interface Live {
  sat: AdoptedSatellite;
  datagrams: DatagramState;
  /** The last reliable message processed. */
  last: number;
  /** Reliable messages that came before one still missing. */
  held: Map<number, { body: Uint8Array }>;
  queue: Promise<unknown>;
  lastHeardAt: number;
  status: SatelliteStatus | undefined;
  silent: boolean;
  lastHelloAt: number;
  lastModePushAt: number;
  sendSeq: number;
}

interface Pending {
  satelliteId: string;
  deadline: number;
  resolve: (answer: { body: Extract<UpBody, { t: "reply" }>; attachment: Buffer }) => void;
  reject: (error: Error) => void;
}

export function createHubLink(options: HubLinkOptions): HubLink {
  const { state, logger, history } = options;
  const now = options.now ?? Date.now;
  const silentAfter = options.silentAfterMs ?? DEFAULT_SILENT_AFTER_MS;
  const started = now();
  const live = new Map<string, Live>();
  const waiting = new Map<string, { announcement: JoinAnnouncement; seenAt: number }>();
  const pending = new Map<number, Pending>();
  const heardWaiters = new Set<() => void>();
  const loggedAt = new Map<string, number>();
  let requestSeq = 0;
  let fetching = false;
  let lastClipTry = 0;

  const sometimes = (key: string, log: () => void) => {
    const t = now();
    if ((loggedAt.get(key) ?? 0) > t - 10_000) return;
    if (loggedAt.size > 500) loggedAt.clear();
    loggedAt.set(key, t);
    log();
  };

  const track = (sat: AdoptedSatellite, heardAt: number): Live => {
    const entry: Live = { sat, datagrams: initialDatagramState(state.boot, sat.peerBoot), last: sat.last, held: new Map(), queue: Promise.resolve(), lastHeardAt: heardAt, status: undefined, silent: false, lastHelloAt: 0, lastModePushAt: 0, sendSeq: 0 };
    live.set(sat.id, entry);
    return entry;
  };
  for (const sat of state.satellites()) track(sat, started);

  const connection: MqttConnection = connectMqtt({
    settings: options.settings,
    clientId: `vigil-hub-${state.id}`,
    clean: false,
    subscribeQos: 1,
    logger,
    signal: options.signal,
    ...(options.reconnectMs !== undefined ? { reconnectMs: options.reconnectMs } : {}),
    maxIncomingBytes: MAX_MESSAGE_BYTES,
    now,
    onConnect: () => {
      connection.subscribe([JOIN_WILDCARD, ...[...live.keys()].map((id) => satelliteTopics(id).up)]);
      for (const entry of live.values()) sendHello(entry);
    },
    onMessage: (topic, payload) => {
      const id = satelliteIdOf(topic);
      if (!id) return;
      if (topic === satelliteTopics(id).join) onJoin(id, payload);
      else if (topic === satelliteTopics(id).up) void onUp(id, payload);
    },
  });

  // --- adoption ------------------------------------------------------------------

  function onJoin(id: string, payload: Buffer): void {
    if (payload.length === 0) {
      waiting.delete(id);
      return;
    }
    const announcement = parseJson(JoinSchema, payload);
    if (!announcement || announcement.id !== id) return void sometimes(`join-${id}`, () => logger.warn({ topic: satelliteTopics(id).join }, "satellites: an announcement that is not one was ignored"));
    const adopted = live.get(id);
    // An adopted satellite that announces itself with the key it has is a stale retained message; with a new key, it joined again.
    if (adopted && toBase64(adopted.sat.key) === announcement.key) return;
    if (!waiting.has(id)) logger.info({ site: announcement.site, id }, "satellites: a satellite is waiting to be adopted (/adopt in the chat)");
    waiting.delete(id);
    waiting.set(id, { announcement, seenAt: now() });
    // Anyone on the broker can announce: a flood of them keeps the newest few.
    while (waiting.size > MAX_WAITING) waiting.delete(waiting.keys().next().value!);
  }

  async function adopt(site: string, code: string, by: string): Promise<AdoptResult> {
    const wanted = site.trim().toLowerCase();
    // Each candidate costs an Argon2id: the newest few that claim the name are tried.
    const candidates = [...waiting.values()].filter((w) => w.announcement.site.toLowerCase() === wanted).slice(-MAX_SAME_SITE);
    if (candidates.length === 0) {
      const names = [...waiting.values()].map((w) => w.announcement.site);
      throw new InputError(names.length ? `No satellite called ${site.slice(0, 32)} is waiting to be adopted; those waiting are ${names.join(", ")}.` : `No satellite called ${site.slice(0, 32)} is waiting to be adopted: run \`vigil satellite join\` on it, start it, and check that it reaches the same MQTT broker.`);
    }
    if (normaliseCode(code).length !== 10) throw new InputError("A join code has 10 letters and digits, like abcde-fghjk (the satellite printed it).");
    // Several boxes may claim the same site (one of them perhaps forged): only the one whose tag the code makes is adopted.
    for (const { announcement } of candidates) {
      const salt = fromBase64(announcement.salt);
      const satelliteKey = fromBase64(announcement.key);
      const key = await codeKey(code, salt);
      const expected = await joinTag(key, { id: announcement.id, site: announcement.site, publicKey: satelliteKey, salt });
      if (!(await sameTag(fromBase64(announcement.tag), expected))) continue;
      const clash = [...live.values()].find((l) => l.sat.site.toLowerCase() === wanted && l.sat.id !== announcement.id);
      if (clash) throw new InputError(`A satellite called ${clash.sat.site} is already adopted; remove it first with /satellites remove ${clash.sat.site}.`);
      const hubKeys = state.keys();
      const session = await sessionKeys("hub", hubKeys, satelliteKey);
      const tag = await adoptTag(key, { id: announcement.id, satelliteKey, hubId: state.id, hubKey: hubKeys.publicKey });
      const at = now();
      await state.adopt({ id: announcement.id, site: announcement.site, key: satelliteKey, session, at, by, version: announcement.version });
      const entry = track(state.satellite(announcement.id)!, at);
      waiting.delete(announcement.id);
      const topics = satelliteTopics(announcement.id);
      connection.subscribe([topics.up]);
      connection.publish(topics.adopt, JSON.stringify({ v: 1, hub: state.id, key: toBase64(hubKeys.publicKey), tag: toBase64(tag) }), { retain: true, qos: 1 });
      logger.info({ site: announcement.site, id: announcement.id, by }, "satellites: adopted");
      const answered = await heardSince(announcement.id, at, 15_000);
      return { site: announcement.site, cameras: answered && entry.status ? entry.status.cameras.map((c) => qualifiedName(announcement.site, c.camera.name)) : undefined };
    }
    throw new InputError(`That code does not match the satellite ${candidates[0]!.announcement.site}; check the line it printed (each code works once; \`vigil satellite join\` again makes a new one).`);
  }

  async function remove(site: string): Promise<string> {
    const entry = [...live.values()].find((l) => l.sat.site.toLowerCase() === site.trim().toLowerCase());
    if (!entry) throw new InputError(`No satellite called ${site.slice(0, 32)} is adopted${live.size ? `; the satellites are ${[...live.values()].map((l) => l.sat.site).join(", ")}` : ""}.`);
    await state.remove(entry.sat.id);
    live.delete(entry.sat.id);
    connection.unsubscribe([satelliteTopics(entry.sat.id).up]);
    connection.publish(satelliteTopics(entry.sat.id).adopt, "", { retain: true, qos: 1 });
    await options.outbox.forgetOffline(silenceKey(entry.sat.id));
    logger.info({ site: entry.sat.site }, "satellites: removed");
    return entry.sat.site;
  }

  // --- sending -----------------------------------------------------------------

  async function sendDown(entry: Live, json: unknown, channel: "datagram" | "hello" = "datagram"): Promise<boolean> {
    if (connection.status().state !== "connected") return false;
    entry.sendSeq += 1;
    const header: Header = { channel, seq: entry.sendSeq, boot: state.boot, echo: entry.datagrams.peerBoot };
    const wire = await sealMessage(entry.sat.session.tx, header, entry.sat.id, "down", encodeBody(json));
    connection.publish(satelliteTopics(entry.sat.id).down, Buffer.from(wire), { qos: 1 });
    return true;
  }

  function sendHello(entry: Live): void {
    entry.lastHelloAt = now();
    void sendDown(entry, { t: "hello" }, "hello");
  }

  function pushMode(entry: Live): void {
    const view = options.mode();
    entry.lastModePushAt = now();
    void request(entry.sat.id, { op: "mode", mode: view.mode, by: view.by, exitDelay: view.exitDelay }).catch((error: unknown) =>
      logger.warn({ site: entry.sat.site, err: error }, "satellites: could not pass the mode on (it is sent again when the satellite is heard from)"),
    );
  }

  async function request(satelliteId: string, command: Command): Promise<RequestAnswer> {
    const entry = live.get(satelliteId);
    if (!entry) throw new SatelliteError("That satellite is no longer adopted.", satelliteId, "unknown");
    const site = entry.sat.site;
    if (entry.silent) throw new SatelliteError(`The satellite ${site} is silent since ${options.clock(entry.lastHeardAt)}; try again when it is back.`, site, "silent");
    const first = await ask(entry, command);
    const whole = (first.body as { whole?: { ref: string; total: number } }).whole;
    if (!whole) return { result: first.body.result, attachment: first.attachment };
    // A large answer: the rest comes part by part.
    const out = Buffer.alloc(whole.total);
    first.attachment.copy(out, 0);
    for (let offset = first.attachment.length; offset < whole.total; ) {
      const part = await ask(entry, { op: "part", ref: whole.ref, offset });
      if (part.attachment.length === 0) throw new SatelliteError(`The satellite ${site} sent an incomplete answer; try again.`, site, "refused");
      part.attachment.copy(out, offset);
      offset += Math.min(part.attachment.length, PART_BYTES);
    }
    return { result: first.body.result, attachment: out };
  }

  async function ask(entry: Live, command: Command): Promise<{ body: Extract<UpBody, { t: "reply" }>; attachment: Buffer }> {
    const site = entry.sat.site;
    if (connection.status().state !== "connected") throw new SatelliteError(`The hub is not connected to the MQTT broker, so the satellite ${site} cannot be asked; it retries by itself.`, site, "not-connected");
    const id = ++requestSeq;
    const timeoutMs = commandTimeoutMs(command);
    const answer = new Promise<{ body: Extract<UpBody, { t: "reply" }>; attachment: Buffer }>((resolve, reject) => {
      pending.set(id, {
        satelliteId: entry.sat.id,
        deadline: now() + timeoutMs,
        resolve,
        reject: (error) => reject(error),
      });
    });
    // The timeout's sentence is made here, where the command is known.
    const timed = answer.catch((error: unknown) => {
      if ((error as { reason?: string }).reason === "timeout") throw new SatelliteError(`The satellite ${site} did not answer within ${Math.round(timeoutMs / 1000)} s; ${command.op === "mode" || command.op === "snapshot" || command.op === "clip" || command.op === "event-clip" || command.op === "part" || command.op === "probe-camera" ? "try again" : "it may or may not have done it (/status shows its state once it is heard from)"}.`, site, "timeout");
      throw error;
    });
    await sendDown(entry, { t: "command", id, command });
    const reply = await timed;
    if (!reply.body.ok) throw new SatelliteError(reply.body.error ?? `The satellite ${site} refused.`, site, "refused");
    return reply;
  }

  // --- receiving ----------------------------------------------------------------

  async function onUp(id: string, payload: Buffer): Promise<void> {
    const entry = live.get(id);
    if (!entry) return void sometimes(`unadopted-${id}`, () => logger.info({ id }, "satellites: a message from a satellite nobody adopted was ignored"));
    const opened = await openMessage(entry.sat.session.rx, payload, id, "up");
    if (!opened) return void sometimes(`forged-${id}`, () => logger.warn({ site: entry.sat.site, bytes: payload.length }, "satellites: a message on the broker not sealed by the satellite was refused"));
    const { header, body } = opened;
    if (header.channel === "reliable") return reliable(entry, header.seq, body);
    const verdict = acceptDatagram(entry.datagrams, header);
    if (!verdict.accept) {
      if (verdict.reason === "stale-echo" && now() - entry.lastHelloAt > 2000) sendHello(entry);
      if (verdict.reason !== "stale-echo") sometimes(`replay-${id}`, () => logger.warn({ site: entry.sat.site, reason: verdict.reason }, "satellites: a replayed or outdated message was refused"));
      return;
    }
    entry.datagrams = verdict.state;
    heard(entry);
    if (verdict.newPeerBoot) void state.heard(id, { peerBoot: header.boot }).catch((error: unknown) => logger.error({ err: error }, "satellites: could not write a satellite's boot"));
    if (header.echo !== state.boot && now() - entry.lastHelloAt > 2000) sendHello(entry);
    const parsed = parseBody(UpBodySchema, body);
    if (!parsed) return void sometimes(`body-${id}`, () => logger.warn({ site: entry.sat.site }, "satellites: a message that is not one Vigil knows was ignored"));
    const message = parsed.body;
    switch (message.t) {
      case "hello":
        // It (re)started or reconnected: it may have missed the mode, and where its outbox stands.
        connection.publish(satelliteTopics(id).adopt, "", { retain: true, qos: 1 });
        void sendDown(entry, { t: "ack", upTo: entry.last });
        pushMode(entry);
        return;
      case "heartbeat": {
        entry.status = message.status;
        void state.heard(id, { version: message.status.version, cameras: message.status.cameras.map((c) => c.camera) }).catch((error: unknown) => logger.error({ err: error }, "satellites: could not write what a satellite said"));
        const view = options.mode();
        if ((message.status.mode !== view.mode || message.status.exitDelay !== view.exitDelay) && now() - entry.lastModePushAt > 5000) pushMode(entry);
        return;
      }
      case "reply": {
        if (message.cameras) {
          if (entry.status) entry.status = { ...entry.status, cameras: message.cameras.map((camera) => ({ camera, live: entry.status?.cameras.find((c) => c.camera.id === camera.id)?.live })) };
          void state.heard(id, { cameras: message.cameras }).catch((error: unknown) => logger.error({ err: error }, "satellites: could not write what a satellite said"));
        }
        const waiter = pending.get(message.re);
        if (!waiter || waiter.satelliteId !== id) return;
        pending.delete(message.re);
        waiter.resolve({ body: message, attachment: parsed.attachment });
        return;
      }
      case "event":
        return; // events come on the reliable channel only
    }
  }

  function heard(entry: Live): void {
    entry.lastHeardAt = now();
    if (entry.silent) {
      entry.silent = false;
      void tellBack(entry);
    }
    for (const wake of heardWaiters) wake();
  }

  function reliable(entry: Live, seq: number, body: Uint8Array): void {
    const decision = reliableDecision(entry.last, seq);
    if (decision === "duplicate") {
      // A resend of what was processed (its ack was lost), or a replay: never processed twice.
      void sendDown(entry, { t: "ack", upTo: entry.last });
      return;
    }
    if (decision === "too-far") return void sometimes(`far-${entry.sat.id}`, () => logger.warn({ site: entry.sat.site, seq, last: entry.last }, "satellites: a message numbered far ahead was refused"));
    if (decision === "hold") {
      if (entry.held.size < MAX_HELD) entry.held.set(seq, { body });
      return;
    }
    entry.held.set(seq, { body });
    entry.queue = entry.queue.then(() => drain(entry)).catch((error: unknown) => logger.error({ err: error, site: entry.sat.site }, "satellites: could not process a satellite's event; it is taken again when resent"));
  }

  /** Processes held messages in order from `last + 1`, each once, acking as it goes. */
  async function drain(entry: Live): Promise<void> {
    for (;;) {
      const next = entry.last + 1;
      const held = entry.held.get(next);
      if (!held) break;
      entry.held.delete(next);
      const parsed = parseBody(UpBodySchema, held.body);
      let owe: OwedClip | undefined;
      if (parsed?.body.t === "event") owe = await processEvent(entry, parsed.body.event, parsed.attachment);
      else sometimes(`rbody-${entry.sat.id}`, () => logger.warn({ site: entry.sat.site }, "satellites: an event that is not one Vigil knows was skipped"));
      await state.processed(entry.sat.id, next, owe);
      entry.last = next;
      heard(entry);
    }
    for (const seq of entry.held.keys()) if (seq <= entry.last) entry.held.delete(seq);
    await sendDown(entry, { t: "ack", upTo: entry.last });
    kickClips();
  }

  const remoteIds = (entry: Live, cameraId: string, cameraName: string) => ({ cameraId: remoteCameraId(entry.sat.id, cameraId), cameraName: qualifiedName(entry.sat.site, cameraName) });

  /** One event of a satellite, into the chat and the history. Each step can be taken twice without doing anything twice. */
  async function processEvent(entry: Live, event: WireEvent, attachment: Buffer): Promise<OwedClip | undefined> {
    switch (event.type) {
      case "alert": {
        const alert: AlertEvent = { ...event, ...remoteIds(entry, event.cameraId, event.cameraName), snapshot: attachment, satellite: entry.sat.site };
        if (!options.outbox.knowsAlert(alert.id)) await options.publish(alert);
        await history.record(alert).catch((error: unknown) => logger.error({ err: error, site: entry.sat.site }, "satellites: an alert could not be kept in the event history"));
        return undefined;
      }
      case "visit": {
        const visit: VisitEvent = { ...event, ...remoteIds(entry, event.cameraId, event.cameraName) };
        await options.publish(visit);
        if (visit.phase === "end") await history.endVisit(visit.id, { endedAt: visit.lastSeenAt, counts: visit.counts }).catch((error: unknown) => logger.error({ err: error }, "satellites: a visit's end could not be kept"));
        return undefined;
      }
      case "camera-offline":
      case "camera-online":
        await options.publish({ ...event, ...remoteIds(entry, event.cameraId, event.cameraName) });
        return undefined;
      case "clip-ready": {
        const ids = remoteIds(entry, event.cameraId, event.cameraName);
        return { satelliteId: entry.sat.id, alertId: event.alertId, cameraId: ids.cameraId, cameraName: ids.cameraName, since: now() };
      }
      case "detector-status":
        await options.outbox.enqueueNotice(options.chats(), event.ok ? `On ${entry.sat.site}, the object detector works again: alerts are confirmed by it.` : `On ${entry.sat.site}, the object detector stopped${event.reason ? ` (${event.reason})` : ""}: its alerts now come from motion alone and say so.`);
        return undefined;
    }
  }

  // --- clips ----------------------------------------------------------------------

  /** Fetches the clips satellites said are ready, one at a time; what fails is tried again later (for a day). */
  function kickClips(): void {
    if (fetching) return;
    fetching = true;
    void (async () => {
      try {
        for (const owed of [...state.owedClips()]) {
          if (options.signal.aborted) return;
          const entry = live.get(owed.satelliteId);
          if (!entry || entry.silent) continue;
          try {
            if (!history.get(owed.alertId)?.clip) {
              const answer = await request(owed.satelliteId, { op: "event-clip", alertId: owed.alertId });
              const meta = answer.result as { durationSeconds?: number; width?: number; height?: number };
              await history.attachClip([owed.alertId], answer.attachment, { durationSeconds: meta.durationSeconds ?? 0, width: meta.width ?? 0, height: meta.height ?? 0 });
            }
            const clip = history.get(owed.alertId)?.clip;
            if (clip) await options.publish({ type: "clip-ready", alertId: owed.alertId, cameraId: owed.cameraId, cameraName: owed.cameraName, blob: clip.blob, durationSeconds: clip.durationSeconds, bytes: clip.bytes });
            await state.clipDone(owed.alertId);
          } catch (error) {
            const stale = now() - owed.since > 24 * 3600_000;
            logger.warn({ site: entry.sat.site, alert: owed.alertId, err: error }, stale ? "satellites: a clip could not be fetched for a day; given up" : "satellites: a clip could not be fetched yet; trying again later");
            if (stale) await state.clipDone(owed.alertId);
          }
        }
      } finally {
        fetching = false;
      }
    })().catch((error: unknown) => logger.error({ err: error }, "satellites: fetching clips failed"));
  }

  // --- silence --------------------------------------------------------------------

  async function tellBack(entry: Live): Promise<void> {
    const since = options.outbox.offlineCameras().get(silenceKey(entry.sat.id));
    const away = since === undefined ? "" : ` after ${formatDuration(now() - since)}`;
    await options.outbox.enqueueCameraNotice(options.chats(), silenceKey(entry.sat.id), null, `The satellite ${entry.sat.site} is back${away}.`, { silent: true }).catch((error: unknown) => logger.error({ err: error }, "satellites: could not queue a notice"));
    kickClips();
  }

  async function tellSilent(entry: Live): Promise<void> {
    const cameras = (entry.status?.cameras.map((c) => c.camera) ?? entry.sat.cameras).map((c) => qualifiedName(entry.sat.site, c.name));
    const text = `The satellite ${entry.sat.site} is silent: nothing from it since ${options.clock(entry.lastHeardAt)}${cameras.length ? `, so no alerts from ${cameras.join(", ")} until it is back` : ""}.`;
    await options.outbox.enqueueCameraNotice(options.chats(), silenceKey(entry.sat.id), { since: entry.lastHeardAt }, text).catch((error: unknown) => logger.error({ err: error }, "satellites: could not queue a notice"));
  }

  const ticker = setInterval(() => {
    const t = now();
    for (const entry of live.values()) {
      if (!entry.silent && isSilent(entry.lastHeardAt, t, silentAfter)) {
        entry.silent = true;
        logger.warn({ site: entry.sat.site }, "satellites: a satellite is silent");
        void tellSilent(entry);
      }
    }
    for (const id of overdue(pending, t)) {
      const waiter = pending.get(id)!;
      pending.delete(id);
      waiter.reject(Object.assign(new Error("timeout"), { reason: "timeout" }));
    }
    if (state.owedClips().length && t - lastClipTry >= 30_000) {
      lastClipTry = t;
      kickClips();
    }
  }, 1000);
  ticker.unref();

  function heardSince(satelliteId: string, since: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        const entry = live.get(satelliteId);
        if (entry && entry.lastHeardAt > since && entry.status) finish(true);
      };
      const finish = (value: boolean) => {
        clearTimeout(timer);
        heardWaiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      heardWaiters.add(check);
      check();
    });
  }

  return {
    status: () => connection.status(),
    list() {
      const t = now();
      const adopted: SatelliteView[] = [...live.values()]
        .sort((a, b) => a.sat.site.localeCompare(b.sat.site))
        .map((entry) => ({
          id: entry.sat.id,
          site: entry.sat.site,
          state: "adopted",
          version: entry.status?.version ?? entry.sat.version,
          lastHeardAt: entry.lastHeardAt,
          silent: entry.silent || isSilent(entry.lastHeardAt, t, silentAfter),
          cameras: (entry.status?.cameras ?? entry.sat.cameras.map((camera) => ({ camera, live: undefined }))).map((c) => ({ name: qualifiedName(entry.sat.site, c.camera.name), state: c.live?.state })),
          ...(entry.status ? { detector: entry.status.detector, queued: entry.status.queued } : {}),
          adoptedAt: entry.sat.adoptedAt,
          adoptedBy: entry.sat.adoptedBy,
        }));
      const waits: SatelliteView[] = [...waiting.values()]
        .sort((a, b) => a.announcement.site.localeCompare(b.announcement.site))
        .map((w) => ({ id: w.announcement.id, site: w.announcement.site, state: "waiting", version: w.announcement.version, lastHeardAt: w.seenAt, silent: false, cameras: [] }));
      return [...adopted, ...waits];
    },
    adoptedSatellites: () =>
      [...live.values()].map((entry) => ({
        id: entry.sat.id,
        site: entry.sat.site,
        silent: entry.silent,
        lastHeardAt: entry.lastHeardAt,
        cameras: entry.status?.cameras.map((c) => c.camera) ?? entry.sat.cameras,
        live: entry.status?.cameras,
      })),
    adopt,
    remove,
    request,
    modeChanged() {
      for (const entry of live.values()) if (!entry.silent) pushMode(entry);
    },
    heardSince,
    async closed() {
      clearInterval(ticker);
      for (const [id, waiter] of pending) {
        pending.delete(id);
        waiter.reject(new SatelliteError("Vigil is stopping.", "", "not-connected"));
      }
      await Promise.all([...live.values()].map((e) => e.queue));
      await connection.closed();
      await state.flush();
    },
  };
}
