/**
 * The one owner of Vigil's connection to the MQTT broker (MQTT.js). It
 * connects with a last will (`offline`, retained, on the availability topic),
 * says `online` there on every connect, reconnects by itself, and tells its
 * owner after every connect so that what must be retained is published again.
 *
 * A broker that is down, refuses the login or restarts is one log line per
 * change of state and one sentence in {@link MqttConnection.status}; nothing
 * here throws after start. While disconnected, publishes are dropped, not
 * queued: an outage of hours must not fill memory, and every retained state
 * is published again on reconnect.
 */
import fs from "node:fs";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { MqttLinkStatus, MqttSettings } from "../domain/mqtt.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { maskUrl } from "../redact.js";

export interface MqttConnectionOptions {
  settings: MqttSettings;
  /** `vigil/<site>/availability`: `online` while connected, `offline` (the last will) otherwise. None: no will, nothing said. */
  availabilityTopic?: string | undefined;
  /** Default `vigil-<site>-<random>`. A persistent session needs the same id at every connect. */
  clientId?: string;
  /**
   * false: a persistent session. The broker keeps the subscriptions and queues
   * QoS 1 messages for this client while it is away, and the client resends its
   * unacknowledged QoS 1 messages on reconnect (the satellite link). Default true.
   */
  clean?: boolean;
  /** QoS of subscriptions. Default 0. */
  subscribeQos?: 0 | 1;
  logger: Logger;
  /** Ends the connection (publishing `offline` first). */
  signal: AbortSignal;
  /** Called after every connect, first or again: subscribe and publish what is retained. */
  onConnect: () => void;
  onMessage: (topic: string, payload: Buffer) => void;
  /** Between attempts while the broker is down. Default 2 s. */
  reconnectMs?: number;
  /** Between attempts after the broker refused the login (it locks nothing, but its log fills). Default 30 s. */
  refusedReconnectMs?: number;
  /** Largest message accepted from the broker; larger ones are dropped by the client. Default 256 KiB. */
  maxIncomingBytes?: number;
  now?: () => number;
}

export interface MqttConnection {
  status(): MqttLinkStatus;
  /** Publishes when connected; dropped otherwise (see the top of this file). */
  publish(topic: string, payload: string | Buffer, options?: { retain?: boolean; qos?: 0 | 1 }): void;
  subscribe(topics: readonly string[]): void;
  unsubscribe(topics: readonly string[]): void;
  /** Resolves once `offline` is published and the connection closed (at most ~2 s). */
  closed(): Promise<void>;
}

/** One sentence for why the broker could not be used. */
export function describeMqttError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const code = e?.code;
  const message = typeof e?.message === "string" ? e.message : String(error);
  if (code === 4 || code === 134 || /bad user name or password/i.test(message)) return "the broker refused the login: wrong username or password";
  if (code === 5 || code === 135 || /not authori[sz]ed/i.test(message)) return "the broker refused the login: not authorised";
  if (code === "ECONNREFUSED") return "connection refused (is Mosquitto running?)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the broker's host name does not resolve";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "the broker's address cannot be reached";
  if (code === "ETIMEDOUT" || /timeout/i.test(message)) return "the broker did not answer in time";
  if (typeof code === "string" && /^(ERR_TLS|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(code)) return `the broker's TLS certificate is not trusted (${code}); give its CA with --ca-file`;
  return maskUrl(message).slice(0, 200);
}

/** Checks a broker URL as typed: mqtt://, mqtts://, ws:// or wss://, with a host. Credentials in it are refused (give --username and --password-stdin). */
export function parseBrokerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`"${maskUrl(raw).slice(0, 80)}" is not a broker URL; it looks like mqtt://192.168.1.2:1883 or mqtts://broker.lan:8883.`, "url");
  }
  if (!["mqtt:", "mqtts:", "ws:", "wss:"].includes(url.protocol)) throw new ConfigError(`A broker URL starts with mqtt://, mqtts://, ws:// or wss://, not ${url.protocol}//.`, "url");
  if (!url.hostname) throw new ConfigError("The broker URL has no host.", "url");
  if (url.username || url.password) throw new ConfigError("Give the broker's username with --username and its password with --password-stdin, not inside the URL (it would be stored and shown in clear).", "url");
  return url.toString().replace(/\/$/, "");
}

export function connectMqtt(options: MqttConnectionOptions): MqttConnection {
  const { settings, logger, availabilityTopic } = options;
  const now = options.now ?? Date.now;
  const reconnectMs = options.reconnectMs ?? 2000;
  const refusedMs = options.refusedReconnectMs ?? 30_000;
  const where = maskUrl(settings.url);
  let status: MqttLinkStatus = { state: "connecting", url: where, since: now() };
  let loggedProblem: string | undefined;

  // A CA file that went missing since `vigil mqtt set` is a sentence in /status, not a failed start.
  let ca: Buffer | undefined;
  try {
    ca = settings.caFile ? fs.readFileSync(settings.caFile) : undefined;
  } catch (error) {
    const sentence = `the CA file ${settings.caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}); run \`vigil mqtt set\` again with --ca-file`;
    logger.error({ broker: where }, `MQTT: ${sentence}`);
    const down: MqttLinkStatus = { state: "down", url: where, since: now(), reason: sentence };
    return { status: () => down, publish: () => undefined, subscribe: () => undefined, unsubscribe: () => undefined, closed: () => Promise.resolve() };
  }
  const clientOptions: IClientOptions = {
    clientId: options.clientId ?? `vigil-${settings.site}-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: reconnectMs,
    connectTimeout: 10_000,
    keepalive: 30,
    clean: options.clean ?? true,
    // The owner subscribes again in onConnect (a clean session forgets them); mqtt.js doing it too would double them.
    resubscribe: false,
    queueQoSZero: false,
    protocolVersion: 4,
    ...(availabilityTopic !== undefined ? { will: { topic: availabilityTopic, payload: Buffer.from("offline"), qos: 1 as const, retain: true } } : {}),
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(ca ? { ca } : {}),
  };
  const client: MqttClient = mqtt.connect(settings.url, clientOptions);
  const maxIncoming = options.maxIncomingBytes ?? 256 * 1024;

  const problem = (sentence: string) => {
    status = { state: "down", url: where, since: status.state === "down" ? status.since : now(), reason: sentence };
    if (loggedProblem !== sentence) logger.warn({ broker: where }, `MQTT: ${sentence}; retrying by itself`);
    loggedProblem = sentence;
  };

  client.on("connect", () => {
    const wasDown = status.state === "down" ? now() - status.since : undefined;
    status = { state: "connected", url: where, since: now() };
    client.options.reconnectPeriod = reconnectMs;
    loggedProblem = undefined;
    logger.info({ broker: where, ...(wasDown !== undefined ? { downMs: wasDown } : {}) }, wasDown !== undefined ? "MQTT: connected again" : "MQTT: connected");
    if (availabilityTopic !== undefined) client.publish(availabilityTopic, "online", { qos: 1, retain: true });
    try {
      options.onConnect();
    } catch (error) {
      logger.error({ err: error }, "MQTT: publishing the retained state failed");
    }
  });
  client.on("error", (error) => {
    const sentence = describeMqttError(error);
    if (sentence.startsWith("the broker refused the login")) client.options.reconnectPeriod = refusedMs;
    problem(sentence);
  });
  client.on("close", () => {
    if (options.signal.aborted) return;
    if (status.state === "connected") problem("the connection to the broker was lost");
  });
  client.on("offline", () => {
    if (!options.signal.aborted && status.state !== "down") problem("the broker cannot be reached");
  });
  client.on("message", (topic, payload) => {
    // MQTT 3.1.1 has no way to ask the broker for a size limit: a huge message reaches us, and goes no further.
    if (payload.length > maxIncoming) {
      logger.warn({ topic: topic.slice(0, 120), bytes: payload.length }, "MQTT: a message over the size limit was ignored");
      return;
    }
    try {
      options.onMessage(topic, payload);
    } catch (error) {
      logger.error({ err: error, topic: topic.slice(0, 120) }, "MQTT: handling a message failed; it was ignored");
    }
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const end = () => client.end(false, {}, () => resolve());
      if (client.connected && availabilityTopic !== undefined) {
        const timer = setTimeout(end, 2000);
        client.publish(availabilityTopic, "offline", { qos: 1, retain: true }, () => {
          clearTimeout(timer);
          end();
        });
      } else if (client.connected) client.end(false, {}, () => resolve());
      else client.end(true, {}, () => resolve());
    }).then(() => {
      status = { state: "stopped", url: where, since: now() };
    });
    return closing;
  };
  if (options.signal.aborted) void close();
  else options.signal.addEventListener("abort", () => void close(), { once: true });

  return {
    status: () => status,
    publish(topic, payload, publishOptions = {}) {
      if (!client.connected) return;
      client.publish(topic, payload, { qos: publishOptions.qos ?? 0, retain: publishOptions.retain ?? false });
    },
    subscribe(topics) {
      if (topics.length) client.subscribe([...topics], { qos: options.subscribeQos ?? 0 });
    },
    unsubscribe(topics) {
      if (topics.length) client.unsubscribe([...topics]);
    },
    closed: () => closing ?? close(),
  };
}
