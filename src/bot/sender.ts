/**
 * Drains the persistent outbox into Telegram. One lane per chat sends that
 * chat's entries strictly in order, one at a time, within the flood limits
 * (see rate-limit.ts); lanes of different chats do not wait for each other.
 *
 * - 429: the lane waits exactly `retry_after`.
 * - Network errors and 5xx: exponential backoff (1 s doubling to 15 s), so
 *   delivery resumes within seconds of Telegram coming back.
 * - A burst does not fall behind: when an alert goes out, the alerts of the
 *   same camera still waiting in that chat (up to MAX_FOLDED) are folded into
 *   it, each listed with its time and object (`+2 more on cam2: 14:30:07
 *   person, 14:30:22 car`).
 * - A message Telegram rejects as such (400) is tried once more in its plainest
 *   form (text, no topic; a clip as a new video instead of an edit), then dropped
 *   with an error in the log: one broken message must not block every alert
 *   behind it.
 * - A clip entry edits the alert's message in place into the video
 *   (editMessageMedia), keeping its caption and redrawing its buttons.
 */
import { InputFile, type Api } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import type { Logger } from "../log.js";
import type { VideoClip } from "../domain/recorder.js";
import type { AlertDelivery, AlertPayload, Delivered, Outbox, OutboxEntry } from "../store/outbox.js";
import { classifyApiError, describeApiError, isNotModified } from "./api-errors.js";
import { alertCaption, alertKeyboard, doorCaption, doorKeyboard, MAX_FOLDED, visitLine, type AlertButtonState } from "./alert-view.js";
import { escapeHtml, html } from "./html.js";
import type { ChatRateLimiter } from "./rate-limit.js";

export interface DeliveryPlan {
  /** The entry whose message this is. */
  head: OutboxEntry;
  /** Later alerts of the same camera folded into it. */
  folded: OutboxEntry[];
}

/**
 * What the next message of a chat is, given its pending entries (oldest first). Pure.
 * Alerts and notices go in order; a visit's news (a small edit of an alert already
 * sent) waits until none of them does, and a clip (an edit uploading up to two
 * minutes of video) until neither does, so no edit keeps the next alert waiting.
 * Measured with `npm run bench` (two-minute clips of swaying trees): alerts queued
 * behind clip uploads arrived 1.2 to 7.8 s late; now only an alert that meets an
 * upload already under way waits for it (0.6 s there).
 */
export function planDelivery(pending: readonly OutboxEntry[]): DeliveryPlan | undefined {
  const rank = (e: OutboxEntry) => (e.payload.type === "clip" ? 2 : e.payload.type === "visit" ? 1 : 0);
  const best = Math.min(...pending.map(rank));
  const index = pending.findIndex((e) => rank(e) === best);
  const head = pending[index];
  if (!head) return undefined;
  if (head.payload.type !== "alert") return { head, folded: [] };
  const cameraId = head.payload.cameraId;
  return { head, folded: pending.slice(index + 1).filter((e) => e.payload.type === "alert" && e.payload.cameraId === cameraId).slice(0, MAX_FOLDED) };
}

/** An alert's caption as sent, with its visit's line under it. */
function captionOf(shown: AlertDelivery, visit: string | undefined): string {
  return [shown.caption, visit].filter((part): part is string => part !== undefined && part !== "").join("\n");
}

export interface SenderOptions {
  api: Api;
  outbox: Outbox;
  limiter: ChatRateLimiter;
  logger: Logger;
  /** For scrubbing log lines. */
  token: string;
  now: () => number;
  timeZone: string | undefined;
  /** An alert's stored clip (the recorder), to edit its message into. */
  clipSource: (alertId: string) => Promise<Pick<VideoClip, "mp4" | "durationSeconds" | "width" | "height">>;
  /** The buttons' state for a camera at the time of sending; undefined when the camera no longer exists. */
  buttonState: (cameraId: string) => AlertButtonState | undefined;
  /** The buttons' state of a door alert's sensor; undefined when it no longer exists (no buttons). */
  doorButtonState?: (sensorId: string) => AlertButtonState | undefined;
  /** A group became a supergroup: the chat list and the queued entries must follow. */
  onChatMigrated: (fromChatId: number, toChatId: number) => Promise<void>;
  /** First backoff after a network error or 5xx. Default 1000 ms. */
  initialBackoffMs?: number;
  /** Longest backoff. Default 15 s. */
  maxBackoffMs?: number;
  /** Wait after 403 / chat not found before trying that chat again. Default 5 min. */
  chatUnavailableMs?: number;
  /** How long stop() lets a request in flight finish before aborting it. Default 10 s. */
  stopGraceMs?: number;
}

export interface OutboxSender {
  start(): void;
  /** Stops every lane; a request in flight may finish first (within the grace time). */
  stop(): Promise<void>;
}

export function createOutboxSender(options: SenderOptions): OutboxSender {
  const { api, outbox, limiter, logger, now } = options;
  const initialBackoff = options.initialBackoffMs ?? 1000;
  const maxBackoff = options.maxBackoffMs ?? 15_000;
  const chatUnavailableMs = options.chatUnavailableMs ?? 5 * 60_000;
  const lanes = new Map<number, Promise<void>>();
  /** Delivered but not yet recorded (the outbox write failed, e.g. disk full): never sent twice, recorded later. */
  const unrecorded = new Map<number, { seqs: number[]; delivered: Delivered }>();
  let stopping: AbortController | undefined;
  let inFlight = new AbortController();
  let unsubscribe: (() => void) | undefined;

  async function recordUnrecorded(): Promise<void> {
    for (const [key, pending] of [...unrecorded]) {
      try {
        await outbox.complete(pending.seqs, pending.delivered);
        unrecorded.delete(key);
      } catch {
        return; // still failing; tried again on the next round
      }
    }
  }

  /** Sends one message (or edits one, for a clip). "gone": there is nothing left to do for it. */
  async function deliver(plan: DeliveryPlan, chatId: number, plain: boolean): Promise<Delivered | "gone"> {
    const { head } = plan;
    // grammY types its signal as the abort-controller shim's; the client accepts Node's own at run time.
    const signal = inFlight.signal as unknown as Parameters<Api["sendMessage"]>[3];
    const thread = head.threadId !== undefined && !plain ? { message_thread_id: head.threadId } : {};
    const payload = head.payload;
    if (payload.type === "notice") {
      const sent = await api.sendMessage(chatId, escapeHtml(payload.text), { parse_mode: "HTML", ...thread, link_preview_options: { is_disabled: true }, ...(payload.silent ? { disable_notification: true } : {}) }, signal);
      return { chatId, messageId: sent.message_id };
    }
    const t = now();
    const buttons = (cameraId: string): { reply_markup?: InlineKeyboardMarkup } => {
      const state = options.buttonState(cameraId);
      return state ? { reply_markup: alertKeyboard(cameraId, state, t, options.timeZone) } : {};
    };
    if (payload.type === "visit") {
      const shown = outbox.deliveries(payload.alertId).find((d) => d.chatId === chatId && d.coalescedInto === undefined);
      if (!shown) return "gone"; // folded into another alert's message, or never shown here
      const line = visitLine(payload, t, options.timeZone).value;
      try {
        await api.editMessageCaption(chatId, shown.messageId, { caption: captionOf(shown, line), parse_mode: "HTML", ...buttons(payload.cameraId) }, signal);
      } catch (error) {
        if (!isNotModified(error)) throw error;
      }
      return { chatId, messageId: shown.messageId, visit: line };
    }
    if (payload.type === "clip") {
      const shown = outbox.deliveries(payload.alertId).find((d) => d.chatId === chatId && d.coalescedInto === undefined);
      if (!shown) return "gone"; // folded into another alert's message, or never shown here
      let clip: Awaited<ReturnType<SenderOptions["clipSource"]>>;
      try {
        clip = await options.clipSource(payload.alertId);
      } catch (error) {
        logger.warn({ alert: payload.alertId, error: describeApiError(error, options.token) }, "the alert's clip cannot be read; its photo stays");
        return "gone";
      }
      const caption = captionOf(shown, shown.visit) || html`<b>${payload.cameraName}</b>`.value;
      const video = { caption, parse_mode: "HTML" as const, width: clip.width, height: clip.height, duration: Math.round(clip.durationSeconds), supports_streaming: true };
      if (!plain) {
        await api.editMessageMedia(chatId, shown.messageId, { type: "video", media: new InputFile(clip.mp4, "clip.mp4"), ...video }, buttons(payload.cameraId), signal);
        return { chatId, messageId: shown.messageId };
      }
      // The alert's message cannot be edited (deleted, too old): the clip comes as a reply to it.
      const sent = await api.sendVideo(chatId, new InputFile(clip.mp4, "clip.mp4"), { ...video, ...buttons(payload.cameraId), reply_parameters: { message_id: shown.messageId, allow_sending_without_reply: true } }, signal);
      return { chatId, messageId: sent.message_id };
    }
    if (payload.type === "door") {
      const caption = doorCaption(payload, t, options.timeZone).value;
      const state = options.doorButtonState?.(payload.sensorId);
      const keyboard = state ? { reply_markup: doorKeyboard(payload.sensorId, state, t, options.timeZone) } : {};
      const photos = plain ? [] : await outbox.doorPhotos(head);
      if (photos.length <= 1) {
        const common = { parse_mode: "HTML" as const, ...thread, ...keyboard };
        const sent = photos[0] ? await api.sendPhoto(chatId, new InputFile(photos[0].jpeg, "door.jpg"), { ...common, caption }, signal) : await api.sendMessage(chatId, caption, common, signal);
        return { chatId, messageId: sent.message_id, caption };
      }
      // An album cannot carry buttons: they follow it in a message of their own, best effort (the album is the alert).
      const album = await api.sendMediaGroup(chatId, photos.slice(0, 10).map((p, i) => ({ type: "photo" as const, media: new InputFile(p.jpeg, `door-${i + 1}.jpg`), caption: i === 0 ? `${caption} · ${escapeHtml(p.cameraName)}` : escapeHtml(p.cameraName), parse_mode: "HTML" as const })), { ...thread }, signal);
      const first = album[0]!.message_id;
      if (state) {
        await api.sendMessage(chatId, caption, { parse_mode: "HTML", ...keyboard, reply_parameters: { message_id: first, allow_sending_without_reply: true } }, signal).catch((error: unknown) => logger.warn({ chat: chatId, error: describeApiError(error, options.token) }, "the buttons under a door alert's album could not be sent"));
      }
      return { chatId, messageId: first, caption };
    }
    const caption = alertCaption(payload, plan.folded.map((e) => e.payload as AlertPayload), t, options.timeZone).value;
    let photo: Buffer | undefined;
    if (!plain) {
      try {
        photo = await outbox.photo(head);
      } catch (error) {
        logger.error({ err: error, alert: payload.alertId }, "alert photo unreadable: sending the alert as text");
      }
    }
    // Quiet hours: silent when every alert in the message is; one that is not makes it ring.
    const silent = payload.silent && plan.folded.every((e) => e.payload.type === "alert" && e.payload.silent);
    const common = { parse_mode: "HTML" as const, ...thread, ...buttons(payload.cameraId), ...(silent ? { disable_notification: true } : {}) };
    const sent = photo ? await api.sendPhoto(chatId, new InputFile(photo, "alert.jpg"), { ...common, caption }, signal) : await api.sendMessage(chatId, caption, common, signal);
    return { chatId, messageId: sent.message_id, caption };
  }

  async function runLane(chatId: number, stop: AbortSignal): Promise<void> {
    let failures = 0;
    let retryAt = 0;
    let plainFor: number | undefined; // seq of a head Telegram rejected once
    let outageSince: number | undefined;
    while (!stop.aborted) {
      if (unrecorded.size) await recordUnrecorded();
      const plan = planDelivery(sendable(chatId));
      if (!plan) return;
      const t = now();
      const edit = plan.head.payload.type === "visit" || plan.head.payload.type === "clip";
      const due = Math.max(retryAt, limiter.nextAt(chatId, t, edit));
      if (due > t) {
        await untilDueOrQueued(chatId, due - t, stop);
        continue;
      }
      const seqs = [plan.head.seq, ...plan.folded.map((e) => e.seq)];
      let delivered: Delivered | "gone";
      try {
        delivered = await deliver(plan, chatId, plainFor === plan.head.seq);
        if (delivered !== "gone") limiter.note(chatId, now(), edit);
      } catch (error) {
        if (stop.aborted) return;
        const failure = classifyApiError(error);
        const detail = describeApiError(error, options.token);
        switch (failure.kind) {
          case "rate-limited":
            retryAt = now() + failure.retryAfterMs;
            logger.warn({ chat: chatId, retryAfterMs: failure.retryAfterMs }, "Telegram asked to slow down; waiting");
            break;
          case "migrated":
            logger.info({ from: chatId, to: failure.chatId }, "the alert group became a supergroup; following it");
            await options.onChatMigrated(chatId, failure.chatId);
            return; // the new chat id gets its own lane
          case "unavailable":
          case "fatal": {
            outageSince ??= now();
            const backoff = Math.min(maxBackoff, initialBackoff * 2 ** failures);
            failures += 1;
            retryAt = now() + backoff * (0.8 + Math.random() * 0.4);
            if (failures === 1 || failure.kind === "fatal") logger.warn({ chat: chatId, error: detail }, "could not send to Telegram; retrying with backoff");
            break;
          }
          case "chat-unavailable":
            retryAt = now() + chatUnavailableMs;
            logger.error({ chat: chatId, error: detail }, "Telegram refuses messages to this chat (bot removed, or chat gone); messages stay queued");
            break;
          case "rejected":
            if (plainFor !== plan.head.seq) {
              plainFor = plan.head.seq;
              logger.warn({ chat: chatId, error: detail }, "Telegram rejected a message; trying it once as plain text");
            } else {
              logger.error({ chat: chatId, error: detail, seqs }, "Telegram rejected a message twice; dropping it");
              await outbox.discard(seqs);
            }
            break;
        }
        continue;
      }
      try {
        await (delivered === "gone" ? outbox.discard(seqs) : outbox.complete(seqs, delivered));
      } catch (error) {
        if (delivered === "gone") throw error;
        unrecorded.set(plan.head.seq, { seqs, delivered });
        logger.error({ err: error }, "sent, but could not record it in the outbox (disk full?); it will not be sent again");
      }
      if (outageSince !== undefined) logger.info({ chat: chatId, afterMs: now() - outageSince }, "delivering again after an outage");
      failures = 0;
      retryAt = 0;
      outageSince = undefined;
    }
  }

  const unrecordedSeqs = () => new Set([...unrecorded.values()].flatMap((u) => u.seqs));
  const sendable = (chatId: number) => {
    const skip = unrecordedSeqs();
    return outbox.pending(chatId).filter((e) => !skip.has(e.seq));
  };

  function ensureLane(chatId: number): void {
    if (!stopping || stopping.signal.aborted || lanes.has(chatId)) return;
    const signal = stopping.signal;
    const lane = runLane(chatId, signal).then(
      () => false,
      (error: unknown) => {
        logger.error({ err: error, chat: chatId }, "outbox lane failed; restarting it");
        return true;
      },
    );
    lanes.set(
      chatId,
      lane.then((failed) => {
        lanes.delete(chatId);
        // An entry may have been queued between the lane's last look and now: look again.
        if (signal.aborted || sendable(chatId).length === 0) return;
        if (failed) setTimeout(() => ensureLane(chatId), 1000).unref();
        else ensureLane(chatId);
      }),
    );
  }

  /**
   * A lane waits for its next message's turn here, and an entry queued meanwhile cuts the wait short:
   * the lane plans again, since the newcomer may go sooner (an alert does not wait for an edit's second).
   */
  const waiting = new Map<number, () => void>();
  function untilDueOrQueued(chatId: number, ms: number, stop: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop.removeEventListener("abort", done);
        waiting.delete(chatId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stop.addEventListener("abort", done, { once: true });
      waiting.set(chatId, done);
    });
  }

  const wakeAll = () => {
    for (const chatId of outbox.chatsWithPending()) {
      waiting.get(chatId)?.();
      ensureLane(chatId);
    }
  };

  return {
    start() {
      if (stopping && !stopping.signal.aborted) return;
      stopping = new AbortController();
      inFlight = new AbortController();
      unsubscribe = outbox.onEnqueue(wakeAll);
      wakeAll();
    },
    async stop() {
      if (!stopping) return;
      unsubscribe?.();
      stopping.abort();
      const grace = setTimeout(() => inFlight.abort(), options.stopGraceMs ?? 10_000);
      await Promise.all([...lanes.values()]);
      clearTimeout(grace);
      if (unrecorded.size) await recordUnrecorded();
    },
  };
}
