/**
 * Vigil's Telegram bot: the whole user interface. The only folder that imports
 * grammY. `createBot(token, deps)` wires one Composer per feature behind an
 * error boundary (the unhandled-command feature last), polls with
 * @grammyjs/runner (sequentialized per chat), and drains the persistent outbox
 * into the alert chats. It owns the runner and the sender: `stop()` ends both.
 */
import { autoRetry } from "@grammyjs/auto-retry";
import { run, sequentialize, type RunnerHandle } from "@grammyjs/runner";
import { Api, Bot, GrammyError, type Context, type Transformer } from "grammy";
import type { PipelineEvent } from "../domain/events.js";
import type { ModeChange } from "../domain/modes.js";
import type { DoorAlert } from "../domain/sensors.js";
import { alertButtonState } from "./alert-view.js";
import { describeApiError } from "./api-errors.js";
import { COMMAND_SCOPES, COMMANDS } from "./commands.js";
import type { BotContext, BotDeps, FeatureDeps } from "./context.js";
import { createErrorHandler } from "./error-handler.js";
import { createAccessGate, createSeenUsersMiddleware } from "./features/access.js";
import { createAddCameraFeature } from "./features/add-camera.js";
import { createAdminsFeature } from "./features/admins.js";
import { createAlertButtonsFeature } from "./features/alert-buttons.js";
import { createArmFeature } from "./features/arm.js";
import { createCamerasFeature } from "./features/cameras.js";
import { createEventsFeature } from "./features/events.js";
import { createClaimFeature, followMigration } from "./features/claim.js";
import { createHeartbeat, createHeartbeatFeature } from "./features/heartbeat.js";
import { createHelpFeature } from "./features/help.js";
import { createModesFeature, modeCameras } from "./features/modes.js";
import { createMuteFeature } from "./features/mute.js";
import { createScheduleFeature } from "./features/schedule.js";
import { createSettingsFeature } from "./features/settings.js";
import { createSnapshotFeature } from "./features/snapshot.js";
import { createSensorsFeature } from "./features/sensors.js";
import { createSatellitesFeature } from "./features/satellites.js";
import { createStatusFeature } from "./features/status.js";
import { createUnhandledFeature } from "./features/unhandled.js";
import { changeNotice } from "./mode-view.js";
import { createEventPublisher, followUpOfflineCameras, restartNotice } from "./publisher.js";
import { ChatRateLimiter, DEFAULT_RATE_LIMITS, type RateLimits } from "./rate-limit.js";
import { createOutboxSender, type SenderOptions } from "./sender.js";
import { sleep } from "../sleep.js";

export type { BotAccess, BotDeps } from "./context.js";
export { claimLine, CLAIM_CODE_TTL_MS } from "./features/claim.js";

export interface VigilBotOptions {
  /** The Bot API server. Default https://api.telegram.org. */
  apiRoot?: string;
  /** Flood limits kept on our side. Default 1 message/s per chat, 20/min per group. */
  rateLimits?: Partial<RateLimits>;
  /** Backoff and timing of the outbox sender (see SenderOptions for the defaults). */
  sender?: Pick<SenderOptions, "initialBackoffMs" | "maxBackoffMs" | "chatUnavailableMs" | "stopGraceMs">;
  /** Long-poll timeout in seconds. Default 25. */
  pollTimeoutSeconds?: number;
}

export interface VigilBot {
  /**
   * Queues the restart notice if the last run crashed, then starts the outbox
   * sender and, in the background, polling (retrying until Telegram answers).
   */
  start(): Promise<void>;
  /** Resolves once the bot is polling for updates. */
  ready(): Promise<void>;
  /** Writes a pipeline event to the outbox (resolves once it is on disk). */
  publish(event: PipelineEvent): Promise<void>;
  /** Writes a door alert to the outbox for every alert chat (resolves once it is on disk). */
  publishDoor(alert: DoorAlert): Promise<void>;
  /** Stops polling and sending; updates being handled and a send in flight finish first. */
  stop(): Promise<void>;
}

/** Methods that put a message in a chat: counted against the flood limits. */
const SEND_METHODS = new Set(["sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendMediaGroup", "sendAnimation"]);

const ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"] as const;

export function createBot(token: string, deps: BotDeps, options: VigilBotOptions = {}): VigilBot {
  const now = deps.now ?? Date.now;
  const logger = deps.logger;
  const apiRoot = options.apiRoot ?? "https://api.telegram.org";
  const limiter = new ChatRateLimiter({ ...DEFAULT_RATE_LIMITS, ...options.rateLimits });
  const { previousCrash: _crash, ...rest } = deps;
  const featureDeps: FeatureDeps = { ...rest, now, timeZone: deps.timeZone, seenUsers: new Map(), mqttStatus: deps.mqttStatus, sensors: deps.sensors, satellites: deps.satellites };
  const heartbeat = createHeartbeat(featureDeps);

  // --- API clients and their transformers --------------------------------------
  let downSince: number | undefined;
  /** Logs when Telegram becomes unreachable and when it is back, once each, instead of every failed poll. */
  const health: Transformer = async (prev, method, payload, signal) => {
    const failed = (detail: string) => {
      if (downSince === undefined) logger.warn({ error: detail }, "Telegram cannot be reached; alerts wait in the outbox until it is back");
      downSince ??= now();
    };
    try {
      const result = await prev(method, payload, signal);
      if (!result.ok && result.error_code >= 500) failed(`${method}: ${result.error_code} ${result.description}`);
      else if (downSince !== undefined) {
        logger.info({ downMs: now() - downSince }, "Telegram can be reached again");
        downSince = undefined;
      }
      return result;
    } catch (error) {
      if (!(signal as { aborted?: boolean } | undefined)?.aborted) failed(describeApiError(error, token));
      throw error;
    }
  };
  const noteSends: Transformer = async (prev, method, payload, signal) => {
    const result = await prev(method, payload, signal);
    const chatId = (payload as { chat_id?: unknown } | undefined)?.chat_id;
    if (result.ok && SEND_METHODS.has(method) && typeof chatId === "number") limiter.note(chatId, now());
    return result;
  };
  // Interactive calls retry a little (a reply 30 s late is still a reply); network errors are not
  // retried here: auto-retry would retry them forever, and the runner has its own loop for polling.
  const bot = new Bot<BotContext>(token, { client: { apiRoot, timeoutSeconds: 60 } });
  bot.api.config.use(health, noteSends, autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 30, rethrowHttpErrors: true }));
  // The outbox handles 429 and outages itself (it waits, folds bursts, survives restarts), and notes
  // its own sends in the limiter: no auto-retry, no noteSends.
  const senderApi = new Api(token, { apiRoot, timeoutSeconds: 60 });
  senderApi.config.use(health);

  // --- middleware --------------------------------------------------------------
  bot.use(async (ctx, next) => {
    ctx.log = logger.child({ update: ctx.update.update_id, chat: ctx.chat?.id, user: ctx.from?.id });
    await next();
  });
  bot.use(sequentialize(sequenceKey));
  bot.use(createSeenUsersMiddleware(featureDeps));
  const guarded = bot.errorBoundary(createErrorHandler(token));
  guarded.use(createClaimFeature(featureDeps));
  guarded.use(createAccessGate(featureDeps));
  // Before the conversation: alert presses are ordered per message, not per chat (see sequenceKey),
  // so they must never reach a conversation that another update of the chat is replaying.
  guarded.use(createAlertButtonsFeature(featureDeps));
  guarded.use(createAddCameraFeature(featureDeps));
  guarded.use(
    createHelpFeature(featureDeps),
    createStatusFeature(featureDeps),
    createArmFeature(featureDeps),
    createModesFeature(featureDeps),
    createScheduleFeature(featureDeps),
    createSnapshotFeature(featureDeps),
    createSettingsFeature(featureDeps),
    createMuteFeature(featureDeps),
    createCamerasFeature(featureDeps),
    createAdminsFeature(featureDeps),
    createEventsFeature(featureDeps),
    createSensorsFeature(featureDeps),
    createSatellitesFeature(featureDeps),
    createHeartbeatFeature(featureDeps, heartbeat),
  );
  guarded.use(createUnhandledFeature(featureDeps));
  bot.catch((error) => logger.error({ error: describeApiError(error.error, token) }, "update failed outside the error boundary"));

  const sender = createOutboxSender({
    api: senderApi,
    outbox: deps.outbox,
    limiter,
    logger,
    token,
    now,
    timeZone: deps.timeZone,
    buttonState: (cameraId) => alertButtonState(deps.control, cameraId),
    doorButtonState: (sensorId) => {
      const sensor = deps.sensors?.sensors().find((s) => s.sensor.id === sensorId)?.sensor;
      return sensor ? { mutedUntil: sensor.mutedUntil, systemArmed: deps.control.isArmed() } : undefined;
    },
    clipSource: (alertId) => deps.control.eventClip(alertId),
    onChatMigrated: (from, to) => followMigration(featureDeps, from, to),
    ...options.sender,
  });
  const publish = createEventPublisher({ outbox: deps.outbox, access: deps.access, logger, now, timeZone: deps.timeZone, isQuiet: (at) => deps.control.isQuiet(at) });

  /** Changes nobody made in a chat (a schedule, presence, Home Assistant) are said in every alert chat, silently. */
  const tellModeChange = (change: ModeChange) => {
    if (change.by.kind === "chat") return;
    const text = changeNotice(change, deps.control.mode().schedules, modeCameras(deps));
    deps.outbox.enqueueNotice(deps.access.chats(), text, { silent: true }).catch((error: unknown) => logger.error({ err: error }, "could not queue the notice of a change of mode"));
  };
  let stopTelling: (() => void) | undefined;

  // --- lifecycle -----------------------------------------------------------------
  const lifetime = new AbortController();
  let runner: RunnerHandle | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let polling: Promise<void> | undefined;

  async function poll(): Promise<void> {
    for (let delay = 1000; !lifetime.signal.aborted; delay = Math.min(delay * 2, 30_000)) {
      try {
        await bot.init(lifetime.signal as unknown as Parameters<typeof bot.init>[0]);
        break;
      } catch (error) {
        const revoked = error instanceof GrammyError && error.error_code === 401;
        logger[revoked ? "error" : "warn"]({ error: describeApiError(error, token) }, revoked ? "Telegram rejects the bot token: create a new one with @BotFather and run `vigil config set-token`" : "cannot reach Telegram yet; retrying");
        await sleep(delay, lifetime.signal);
      }
    }
    if (lifetime.signal.aborted) return;
    await registerCommands();
    while (!lifetime.signal.aborted) {
      runner = run(bot, {
        runner: { fetch: { timeout: options.pollTimeoutSeconds ?? 25, allowed_updates: ALLOWED_UPDATES }, retryInterval: 2000, maxRetryTime: Number.POSITIVE_INFINITY, silent: true },
      });
      logger.info({ bot: bot.botInfo.username }, "bot polling for updates");
      markReady();
      try {
        await runner.task();
        return; // stopped
      } catch (error) {
        // The runner gives up only on 401 (token revoked) and 409 (another process polls with this token).
        logger.error({ error: describeApiError(error, token) }, "polling stopped (another Vigil using this bot token, or the token was revoked); retrying in 30 s");
        await sleep(30_000, lifetime.signal);
      }
    }
  }

  async function registerCommands(): Promise<void> {
    try {
      await bot.api.setMyCommands(COMMANDS);
      for (const scope of COMMAND_SCOPES) await bot.api.setMyCommands(COMMANDS, { scope });
    } catch (error) {
      logger.warn({ error: describeApiError(error, token) }, "could not register the command menu (commands still work)");
    }
  }

  return {
    async start() {
      for (const chat of deps.access.chats()) {
        const queued = deps.outbox.pending(chat.id).filter((e) => e.payload.type === "alert").length;
        const notice = restartNotice(deps.previousCrash, queued, now(), deps.timeZone);
        if (notice) await deps.outbox.enqueueNotice([chat], notice);
      }
      sender.start();
      stopTelling ??= deps.control.onModeChange(tellModeChange);
      if (!polling) {
        heartbeat.start(lifetime.signal);
        followUpOfflineCameras({ outbox: deps.outbox, control: deps.control, publish, logger, now }, lifetime.signal);
      }
      polling ??= poll().catch((error: unknown) => logger.error({ error: describeApiError(error, token) }, "the bot stopped"));
    },
    ready: () => ready,
    publish,
    async publishDoor(alert) {
      const chats = deps.access.chats();
      if (chats.length === 0) {
        logger.info("no alert chat yet (send the /claim code): door alert not sent");
        return;
      }
      await deps.outbox.enqueueDoor(chats, { alertId: alert.id, sensorId: alert.sensorId, sensorName: alert.sensorName, kind: alert.kind, at: alert.at, photos: alert.photos });
    },
    async stop() {
      stopTelling?.();
      stopTelling = undefined;
      lifetime.abort();
      if (runner?.isRunning()) await runner.stop();
      await polling;
      await sender.stop();
    },
  };
}

/**
 * Updates of one chat are handled one at a time, in order (conversations need
 * it). Presses of an alert's buttons are ordered per message instead, so they
 * are answered at once even while that chat waits for a camera to connect.
 */
function sequenceKey(ctx: Context): string | undefined {
  const query = ctx.callbackQuery;
  if (query?.data?.startsWith("al:") && query.message) return `alert:${query.message.chat.id}:${query.message.message_id}`;
  return ctx.chat?.id.toString();
}
