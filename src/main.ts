/**
 * The one place that wires Vigil together: store, pipeline, bot. Everything else
 * receives what it needs as arguments.
 */
import { createControl, type OwnedControl } from "./app/control.js";
import { startStatsFile } from "./app/stats-file.js";
import { claimLine, CLAIM_CODE_TTL_MS, createBot, type VigilBot, type VigilBotOptions } from "./bot/index.js";
import type { CameraDiscovery } from "./domain/discovery.js";
import { machineTimeZone } from "./domain/local-time.js";
import type { PipelineEvent } from "./domain/events.js";
import type { PipelineHandle } from "./domain/pipeline.js";
import type { RecorderHandle } from "./domain/recorder.js";
import type { Env } from "./env.js";
import type { Logger } from "./log.js";
import { createOnvifDiscovery } from "./onvif/index.js";
import { createPipeline } from "./pipeline/index.js";
import { createRecorder } from "./pipeline/record/index.js";
import { createH264Feeds, type H264Feeds } from "./pipeline/source/h264-feed.js";
import { feedProducers } from "./pipeline/source/feed-producers.js";
import { EventHistory } from "./store/event-history.js";
import { acquireLock, previousCrash, type Store } from "./store/index.js";
import { createSystemdNotifier } from "./systemd.js";
import { Outbox } from "./store/outbox.js";
import { createMqttBridge, type MqttBridge } from "./mqtt/bridge.js";
import { createAlertGate } from "./sensors/alert-gate.js";
import { createDoorAlarm } from "./sensors/door-alarm.js";
import { createSensorHub, type SensorHub } from "./sensors/hub.js";
import { startSensorSources, type SensorSources } from "./sensors/sources.js";
import { VIGIL_VERSION } from "./version.js";
import { formatClock } from "./bot/format.js";
import { createFederatedControl } from "./satellite/federated-control.js";
import { createHubLink, type HubLink } from "./satellite/hub-link.js";
import { HubLinkState, SatelliteLinkState } from "./satellite/link-state.js";
import { adoptLine, createSatelliteLink, type SatelliteLink } from "./satellite/satellite-link.js";

export interface RunOptions {
  env: Env;
  store: Store;
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT: everything shuts down cleanly. */
  signal: AbortSignal;
  /** Where user-facing lines go (the claim code). Default stdout. */
  print?: (line: string) => void;
  /** Write the pipeline's live figures here every second (`vigil start --stats-file`). */
  statsFile?: string | undefined;
}

export interface AssembleOptions {
  store: Store;
  pipeline: PipelineHandle;
  recorder: RecorderHandle;
  /** The search for ONVIF cameras that /addcamera offers (`VIGIL_ONVIF_INTERFACE`, `VIGIL_ONVIF_MULTICAST`). */
  discovery: CameraDiscovery;
  logger: Logger;
  /** The Bot API server (`VIGIL_TELEGRAM_API_ROOT`). */
  apiRoot: string;
  /** Set when the previous run died without stopping: the chat is told once. */
  previousCrash?: { lastSeenAt: number } | undefined;
  /** Where the claim line goes on a first start (no admin yet). */
  print: (line: string) => void;
  /** Bot tuning for tests and benchmarks. */
  bot?: Omit<VigilBotOptions, "apiRoot">;
  /** MQTT reconnect tuning (tests). */
  mqtt?: { reconnectMs?: number; refusedReconnectMs?: number };
  /**
   * The event history (the recorder's). With it and MQTT set up, this box is a
   * hub: satellites can be adopted, and their alerts are kept here too.
   */
  history?: EventHistory;
  /** A satellite not heard from this long is said to be silent (VIGIL_SATELLITE_SILENT_AFTER). Default 45 s. */
  satelliteSilentAfterMs?: number;
  now?: () => number;
  /** The control's clock (schedules, the exit delay, mutes). Default `now`; tests move it to a schedule's boundary while the cameras keep real time. */
  controlNow?: () => number;
  /** The zone of schedules, quiet hours and the chat's times (VIGIL_TZ). Default: the machine's. */
  timeZone?: string;
}

/** Vigil's running parts around the pipeline and the recorder: control, outbox and bot, connected. */
export interface Vigil {
  control: OwnedControl;
  outbox: Outbox;
  bot: VigilBot;
  sensors: SensorHub;
  /** The webhook listener and the gpiomon children. */
  sources: SensorSources;
  /** Present when MQTT is set up (`vigil mqtt set`). */
  mqtt: MqttBridge | undefined;
  /** Present when MQTT is set up and the history given: satellites meet this hub on the broker. */
  satellites: HubLink | undefined;
  /** Stops the bot (polling and sending) and the control; the pipeline, the recorder and the store belong to the caller. */
  stop(): Promise<void>;
}

/**
 * Opens the outbox, puts the control over the store, the pipeline and the
 * recorder, starts the bot, and connects the events: every pipeline event goes
 * to the recorder and the bot, every clip-ready event of the recorder to the
 * bot. Prints a claim code while Vigil has no admin.
 */
export async function assembleVigil(options: AssembleOptions): Promise<Vigil> {
  const { store, pipeline, recorder, logger } = options;
  const now = options.now ?? Date.now;
  const outbox = await Outbox.open(store.vault, { now, logger });
  const timeZone = options.timeZone ?? machineTimeZone();
  const control = createControl({ store, pipeline, recorder, discovery: options.discovery, now: options.controlNow ?? now, timeZone, logger });
  const lifetime = new AbortController();
  const sensors = createSensorHub({ store, logger, now });
  const gate = createAlertGate(() => store.cameras(), (id) => sensors.lastOpenedFor(id));
  const mqttSettings = store.mqtt();
  // No `vigil mqtt set`: no client, no socket, Vigil as it always was.
  const mqtt = mqttSettings
    ? createMqttBridge({
        settings: mqttSettings,
        control,
        sensors: { sensors: () => sensors.configured(), states: () => sensors.states(), reading: (r) => sensors.reading(r), sawContactDevice: (n, t, at) => sensors.sawContactDevice(n, t, at) },
        logger,
        signal: lifetime.signal,
        version: VIGIL_VERSION,
        ...options.mqtt,
        now,
      })
    : undefined;
  // Satellites' events go to the bot made just below (nothing can arrive before: the link connects later).
  const satellites =
    mqttSettings && options.history
      ? createHubLink({
          settings: mqttSettings,
          state: await HubLinkState.open(store.vault),
          history: options.history,
          publish: (event) => bot.publish(event),
          outbox,
          chats: () => store.chats(),
          mode: () => control.mode(),
          logger,
          signal: lifetime.signal,
          now,
          clock: (at) => formatClock(at, now(), timeZone),
          ...(options.satelliteSilentAfterMs !== undefined ? { silentAfterMs: options.satelliteSilentAfterMs } : {}),
          ...(options.mqtt?.reconnectMs !== undefined ? { reconnectMs: options.mqtt.reconnectMs } : {}),
        })
      : undefined;
  const chatControl = satellites && options.history ? createFederatedControl({ local: control, link: satellites, history: options.history }) : control;
  const bot = createBot(store.token(), { control: chatControl, access: store, outbox, logger, now, timeZone, sensors, ...(satellites ? { satellites } : {}), ...(mqtt ? { mqttStatus: () => mqtt.status() } : {}), ...(options.previousCrash ? { previousCrash: options.previousCrash } : {}) }, { ...options.bot, apiRoot: options.apiRoot });
  // Started before events flow, so the restart notice is queued behind what was
  // already waiting and ahead of anything new.
  await bot.start();
  // After the bot listens: a schedule boundary passed while Vigil was stopped is applied now, and said in the chat.
  control.start();
  const sources = startSensorSources({ sensors: () => store.sensors(), webhook: () => store.webhook(), reading: (r) => sensors.reading(r), logger, signal: lifetime.signal, now });
  const doorAlarm = createDoorAlarm({
    control,
    sensors: () => store.sensors(),
    alert: (alert) => bot.publishDoor(alert),
    record: (event) => recorder.recordDoor(event),
    triggered: () => mqtt?.trigger(),
    logger,
    now,
  });
  const publish = (event: PipelineEvent) => {
    bot.publish(event).catch((error: unknown) => logger.error({ err: error, event: event.type }, "could not queue an event for the chat"));
  };
  const unsubscribe = [
    pipeline.subscribe((event) => {
      if (!gate.pass(event)) return;
      recorder.handle(event);
      publish(event);
      mqtt?.handle(event);
    }),
    recorder.subscribe((event) => {
      publish(event);
      mqtt?.handle(event);
    }),
    sensors.subscribe((event) => {
      mqtt?.door(event);
      doorAlarm(event).catch((error: unknown) => logger.error({ err: error, sensor: event.sensorName }, "could not queue a door alert for the chat"));
    }),
    sensors.onDetails(() => mqtt?.sensorChanged()),
    control.onModeChange(() => {
      mqtt?.modeChanged();
      satellites?.modeChanged();
    }),
    store.onChange((change) => {
      if (change === "cameras" || change === "sensors") mqtt?.configChanged();
      if (change === "sensors") sources.reconcile();
    }),
  ];
  if (store.admins().length === 0) {
    const code = await store.newClaimCode(now() + CLAIM_CODE_TTL_MS);
    options.print(claimLine(code));
    options.print(`The code works once, for 24 hours; restart Vigil for a new one.`);
  }
  return {
    control,
    outbox,
    bot,
    sensors,
    sources,
    mqtt,
    satellites,
    async stop() {
      for (const off of unsubscribe) off();
      lifetime.abort();
      await satellites?.closed();
      await mqtt?.closed();
      await sources.stopped();
      sensors.close();
      await bot.stop();
      control.close();
      await outbox.flush();
    },
  };
}

export interface AssembleSatelliteOptions {
  store: Store;
  pipeline: PipelineHandle;
  recorder: RecorderHandle;
  discovery: CameraDiscovery;
  logger: Logger;
  /** Where the adoption line goes while no hub adopted this box. */
  print: (line: string) => void;
  now?: () => number;
  timeZone?: string;
  /** Link tuning (tests). */
  link?: { heartbeatMs?: number; resendMs?: number; reconnectMs?: number };
}

/** A satellite's running parts: its control (carrying out the hub's commands) and the link to the hub. */
export interface Satellite {
  control: OwnedControl;
  link: SatelliteLink;
  stop(): Promise<void>;
}

/**
 * A satellite: cameras, pipeline and recorder as on any box, no bot. Every
 * pipeline event goes to the recorder and, with every clip-ready event of the
 * recorder, to the link, which owes them to the hub. Prints the adoption line
 * while no hub adopted it.
 */
export async function assembleSatellite(options: AssembleSatelliteOptions): Promise<Satellite> {
  const { store, pipeline, recorder, logger } = options;
  const config = store.satellite();
  if (!config) throw new Error("assembleSatellite on a box that is not a satellite");
  const now = options.now ?? Date.now;
  const control = createControl({ store, pipeline, recorder, discovery: options.discovery, now, timeZone: options.timeZone ?? machineTimeZone(), logger });
  const lifetime = new AbortController();
  const state = await SatelliteLinkState.open(store.vault);
  const link = createSatelliteLink({ config, state, control, logger, signal: lifetime.signal, version: VIGIL_VERSION, now, ...options.link });
  const join = state.identity().join;
  if (!state.identity().hub && join) {
    options.print(adoptLine(config.site, join.code));
    options.print("The code works once; `vigil satellite join` again makes a new one.");
  }
  const unsubscribe = [
    pipeline.subscribe((event) => {
      recorder.handle(event);
      link.handle(event);
    }),
    recorder.subscribe((event) => link.handle(event)),
  ];
  return {
    control,
    link,
    async stop() {
      for (const off of unsubscribe) off();
      lifetime.abort();
      await link.closed();
      control.close();
    },
  };
}

/**
 * Runs Vigil until `signal` aborts: the pipeline, the recorder and the bot over
 * the store. On the way out, in this order: no new alerts (pipeline), open
 * clips finished (recorder), the outbox flushed and polling stopped (bot), the
 * store written; so whatever was queued is on disk for the next start.
 */
export async function runVigil(options: RunOptions): Promise<void> {
  const { env, store, logger, signal } = options;
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  // Read before taking the lock: taking it clears what a killed Vigil left.
  const crash = await previousCrash(env.dataDir);
  const release = await acquireLock(env.dataDir);
  const systemd = createSystemdNotifier({ notifySocket: env.systemd.notifySocket, watchdogMs: env.systemd.watchdogMs, logger });
  let pipeline: PipelineHandle | undefined;
  let recorder: RecorderHandle | undefined;
  let vigil: { stop(): Promise<void> } | undefined;
  let stats: { stop(): Promise<void> } | undefined;
  // One registry for the camera feeds, so detection and the recorder read each camera once: the Pi camera opens in one
  // process only, and an RTSP camera gets one session instead of two.
  const feeds: H264Feeds = createH264Feeds({ producer: feedProducers({ rpicamPath: env.rpicamPath, logger }), logger });
  try {
    if (crash) logger.warn({ pid: crash.pid, lastSeenAt: new Date(crash.lastSeenAt).toISOString() }, "the previous Vigil stopped without shutting down");
    const created = await createPipeline({ logger, modelsDir: env.modelsDir, ffmpegPath: env.ffmpegPath, feeds, ...(env.detectorThreads ? { detectorThreads: env.detectorThreads } : {}) });
    pipeline = created;
    if (options.statsFile) stats = startStatsFile({ file: options.statsFile, pipeline: created, logger });
    const history = await EventHistory.open(store.vault);
    recorder = createRecorder({ history, retention: { dataDir: env.dataDir, limits: () => store.retention() }, ffmpegPath: env.ffmpegPath, ffprobePath: env.ffprobePath, logger, feeds });
    const discovery = createOnvifDiscovery({ ...env.onvif, logger });
    if (store.satellite()) {
      const satellite = await assembleSatellite({ store, pipeline, recorder, discovery, logger, print, timeZone: env.timeZone });
      vigil = satellite;
      logger.info({ cameras: store.cameras().length, site: store.satellite()?.site, adopted: satellite.link.status().adopted }, "Vigil started as a satellite");
    } else {
      const hub = await assembleVigil({ store, pipeline, recorder, discovery, logger, apiRoot: env.telegramApiRoot, previousCrash: crash, print, timeZone: env.timeZone, history, ...(env.satelliteSilentAfterMs !== undefined ? { satelliteSilentAfterMs: env.satelliteSilentAfterMs } : {}) });
      vigil = hub;
      logger.info({ cameras: store.cameras().length, mode: hub.control.mode().mode, timeZone: env.timeZone }, "Vigil started");
    }
    await systemd.ready(`${store.cameras().length} camera(s)`);
    systemd.startWatchdog(signal);
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
  } finally {
    await systemd.stopping();
    await stats?.stop();
    await pipeline?.stop();
    await recorder?.stop();
    await feeds.stop();
    await vigil?.stop();
    await store.flush();
    await release();
    logger.info("Vigil stopped");
  }
}
