/**
 * Pipeline events → the outbox. Alerts and camera/detector notices are written
 * to the persistent outbox for every alert chat before anything is sent, so a
 * crash or an outage after this point loses nothing.
 */
import type { Control } from "../domain/control.js";
import type { PipelineEvent } from "../domain/events.js";
import type { Logger } from "../log.js";
import type { Outbox } from "../store/outbox.js";
import type { BotAccess } from "./context.js";
import { formatClock, formatDuration } from "./format.js";

export interface PublisherDeps {
  outbox: Outbox;
  access: Pick<BotAccess, "chats">;
  logger: Logger;
  now: () => number;
  timeZone: string | undefined;
  /** Whether an alert at this time falls in the quiet hours (it is then sent without a sound). Default: never. */
  isQuiet?: (at: number) => boolean;
}

export function createEventPublisher(deps: PublisherDeps): (event: PipelineEvent) => Promise<void> {
  const { outbox, access, logger } = deps;
  return async (event) => {
    const chats = access.chats();
    if (chats.length === 0 && (event.type === "alert" || event.type === "visit" || event.type === "camera-offline")) {
      if (event.type !== "visit") logger.info({ event: event.type }, "no alert chat yet (send the /claim code): event not sent");
      return;
    }
    const now = deps.now();
    switch (event.type) {
      case "alert":
        await outbox.enqueueAlert(chats, {
          alertId: event.id,
          cameraId: event.cameraId,
          cameraName: event.cameraName,
          label: event.label,
          score: event.score,
          at: event.at,
          motionOnly: event.motionOnly,
          mode: event.mode,
          silent: deps.isQuiet?.(event.at) ?? false,
          ...(event.satellite !== undefined ? { satellite: event.satellite, receivedAt: now } : {}),
          jpeg: event.snapshot,
        });
        return;
      case "visit":
        await outbox.enqueueVisit(chats, {
          alertId: event.id,
          cameraId: event.cameraId,
          cameraName: event.cameraName,
          label: event.label,
          at: event.at,
          startedAt: event.startedAt,
          lastSeenAt: event.lastSeenAt,
          counts: event.counts,
          stationary: event.stationary,
          motionOnly: event.motionOnly,
          ...(event.phase === "end" ? { ended: event.reason ?? "left" } : {}),
        });
        return;
      case "camera-offline": {
        const last = event.lastFrameAt > 0 ? ` Last picture at ${formatClock(event.lastFrameAt, now, deps.timeZone)}.` : "";
        // Once: after a restart the new pipeline reports a camera that is still down again.
        await outbox.enqueueCameraNotice(chats, event.cameraId, { since: event.lastFrameAt || event.at }, `${event.cameraName} is offline: ${event.reason}.${last}`);
        return;
      }
      case "camera-online": {
        // Down since before a restart: this run's pipeline only knows about its own part of it.
        const since = outbox.offlineCameras().get(event.cameraId);
        const downtimeMs = Math.max(event.downtimeMs, since === undefined ? 0 : event.at - since);
        await outbox.enqueueCameraNotice(chats, event.cameraId, null, `${event.cameraName} is back online${downtimeMs > 0 ? ` after ${formatDuration(downtimeMs)} offline` : ""}.`, { silent: true });
        return;
      }
      case "detector-status":
        await outbox.enqueueNotice(chats, event.ok ? "The object detector works again: alerts are confirmed by it." : `The object detector stopped${event.reason ? ` (${event.reason})` : ""}: alerts now come from motion alone and say so.`);
        return;
      case "clip-ready":
        // Queued behind the alert itself, so its message exists when the edit comes.
        await outbox.enqueueClip(chats, { alertId: event.alertId, cameraId: event.cameraId, cameraName: event.cameraName });
        return;
      case "motion":
        return;
    }
  };
}

export interface FollowUpDeps {
  outbox: Outbox;
  control: Pick<Control, "cameras" | "status">;
  publish: (event: PipelineEvent) => Promise<void>;
  logger: Logger;
  now: () => number;
}

/**
 * Cameras the chat was told are offline before this start: this run's pipeline
 * never saw them go down, so it will not say when they are back. They are
 * followed here until they send pictures (then "back online" goes out through
 * the publisher, once) or are removed. Checks every `everyMs` until `signal` aborts.
 */
export function followUpOfflineCameras(deps: FollowUpDeps, signal: AbortSignal, everyMs = 2000): void {
  // Other things said to be offline (a silent satellite, `sat:<id>`) are followed by their owner.
  const waiting = new Set([...deps.outbox.offlineCameras().keys()].filter((id) => !id.startsWith("sat:")));
  if (waiting.size === 0) return;
  const check = async () => {
    const live = new Map((await deps.control.status()).cameras.map((c) => [c.camera.id, c]));
    for (const id of waiting) {
      const since = deps.outbox.offlineCameras().get(id);
      const state = live.get(id);
      if (since === undefined) waiting.delete(id); // this run's pipeline said it is back
      else if (!state) {
        waiting.delete(id);
        await deps.outbox.forgetOffline(id);
      } else if (state.live?.state === "online") {
        waiting.delete(id);
        const at = deps.now();
        await deps.publish({ type: "camera-online", cameraId: id, cameraName: state.camera.name, at, downtimeMs: at - since });
      }
    }
    if (waiting.size === 0) clearInterval(timer);
  };
  const timer = setInterval(() => void check().catch((error: unknown) => deps.logger.error({ err: error }, "could not follow up an offline camera")), everyMs);
  timer.unref();
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}

/**
 * The message after an unclean restart. It is queued behind what was already
 * waiting for the chat, and a chat's messages go out in order, so by the time
 * it arrives the queued alerts have been sent. Undefined after a clean stop.
 * `crash` is what the data directory's lock file says (see `previousCrash`):
 * when the dead process was last seen alive, at most 30 s before it died.
 */
export function restartNotice(crash: { lastSeenAt: number } | undefined, queuedAlerts: number, now: number, timeZone: string | undefined): string | undefined {
  if (!crash) return undefined;
  const queued = queuedAlerts === 0 ? "no alerts were waiting to be sent" : queuedAlerts === 1 ? "1 alert was queued and has been sent" : `${queuedAlerts} alerts were queued and have been sent`;
  return `Vigil restarted after a crash at ${formatClock(crash.lastSeenAt, now, timeZone)}; ${queued}.`;
}
