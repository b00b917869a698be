/**
 * Pipeline events → the outbox. Alerts and camera/detector notices are written
 * to the persistent outbox for every alert chat before anything is sent, so a
 * crash or an outage after this point loses nothing.
 */
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
}

export function createEventPublisher(deps: PublisherDeps): (event: PipelineEvent) => Promise<void> {
  const { outbox, access, logger } = deps;
  return async (event) => {
    const chats = access.chats();
    if (chats.length === 0 && (event.type === "alert" || event.type === "camera-offline")) {
      logger.info({ event: event.type }, "no alert chat yet (send the /claim code): event not sent");
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
          jpeg: event.snapshot,
        });
        return;
      case "camera-offline": {
        const last = event.lastFrameAt > 0 ? ` Last picture at ${formatClock(event.lastFrameAt, now, deps.timeZone)}.` : "";
        await outbox.enqueueNotice(chats, `${event.cameraName} is offline: ${event.reason}.${last}`);
        return;
      }
      case "camera-online":
        await outbox.enqueueNotice(chats, `${event.cameraName} is back online${event.downtimeMs > 0 ? ` after ${formatDuration(event.downtimeMs)} offline` : ""}.`, { silent: true });
        return;
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
