/**
 * `/heartbeat on|off`, and the heartbeat itself: once a day, a silent message
 * that Vigil is running (the mode, cameras online, the detector), so that a
 * quiet chat means "nothing happened", not "Vigil died". The first one goes out
 * when it is switched on, which sets the time of day. When the last one was sent
 * is kept in the store, so a restart neither repeats nor skips one.
 */
import { Composer } from "grammy";
import type { SystemStatus } from "../../domain/control.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { words } from "../format.js";
import { html } from "../html.js";
import { modeLabel } from "../mode-view.js";
import { say } from "../reply.js";

export const HEARTBEAT_EVERY_MS = 24 * 3600_000;
/** How often the heartbeat checks whether one is due. */
const CHECK_EVERY_MS = 60_000;

/** Whether a day has passed since the last heartbeat. Pure. */
export function heartbeatDue(lastSentAt: number, now: number): boolean {
  return now - lastSentAt >= HEARTBEAT_EVERY_MS;
}

/** One line: the mode, how many cameras send pictures (naming the ones that do not), the detector. Pure. */
export function heartbeatText(status: SystemStatus): string {
  const offline = status.cameras.filter((c) => c.live?.state !== "online").map((c) => c.camera.name);
  const total = status.cameras.length;
  const cameras = total === 0 ? "no cameras yet" : `${total - offline.length} of ${total} camera${total === 1 ? "" : "s"} online${offline.length ? ` (not ${offline.join(", ")})` : ""}`;
  const detector = status.detector.ok ? "the detector works" : "the detector is not working, so alerts come from motion alone";
  return `Daily heartbeat: Vigil is running, ${modeLabel(status.mode.mode).toLowerCase()}; ${cameras}; ${detector}. /heartbeat off stops these.`;
}

export interface Heartbeat {
  /** Queues a heartbeat for every alert chat when one is due. */
  beat(): Promise<void>;
  /** Queues one now (it was just switched on): the day starts from here. */
  beatNow(): Promise<void>;
  /** Checks every minute until `signal` aborts. */
  start(signal: AbortSignal): void;
}

export function createHeartbeat(deps: FeatureDeps): Heartbeat {
  const { access, logger } = deps;
  // Also kept here: a store that cannot be written (disk full) must not turn the heartbeat into one a minute.
  let lastSentAt = 0;
  let forced = false;
  let running: Promise<void> | undefined;

  async function beatOnce(): Promise<void> {
    const now = deps.now();
    const chats = access.chats();
    const due = access.heartbeat() && (forced || heartbeatDue(Math.max(lastSentAt, access.heartbeatSentAt()), now));
    if (chats.length === 0 || !due) return;
    forced = false;
    lastSentAt = now;
    await access.noteHeartbeat(now).catch((error: unknown) => logger.warn({ err: error }, "could not save when the heartbeat was sent"));
    await deps.outbox.enqueueNotice(chats, heartbeatText(await deps.control.status()), { silent: true });
  }

  const beat = () => (running ??= beatOnce().finally(() => (running = undefined)));

  return {
    beat,
    async beatNow() {
      await running;
      forced = true;
      await beat();
    },
    start(signal) {
      const check = () => void beat().catch((error: unknown) => logger.error({ err: error }, "the heartbeat failed"));
      const timer = setInterval(check, CHECK_EVERY_MS);
      timer.unref();
      signal.addEventListener("abort", () => clearInterval(timer), { once: true });
      check();
    },
  };
}

export function createHeartbeatFeature(deps: FeatureDeps, heartbeat: Heartbeat): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  composer.command("heartbeat", async (ctx) => {
    const [choice, ...rest] = words(ctx.match).map((w) => w.toLowerCase());
    if (rest.length || (choice !== undefined && choice !== "on" && choice !== "off")) throw new InputError("Use /heartbeat on or /heartbeat off.");
    if (choice === undefined) {
      return say(ctx, deps.access.heartbeat() ? html`The daily heartbeat is on. /heartbeat off stops it.` : html`The daily heartbeat is off. /heartbeat on sends a silent message each day that Vigil is running.`);
    }
    const on = choice === "on";
    if (on === deps.access.heartbeat()) return say(ctx, html`The daily heartbeat is already ${choice}.`);
    await deps.access.setHeartbeat(on);
    ctx.log.info({ on }, "heartbeat switched");
    await say(ctx, on ? html`Heartbeat on: a silent message each day at this time says Vigil is running; the first comes now.` : html`Heartbeat off.`);
    // Switching on starts the day from now.
    if (on) await heartbeat.beatNow();
  });
  return composer;
}
