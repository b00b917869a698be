/**
 * The persistent outbox: every alert and notice Vigil owes a chat, encrypted at
 * rest like the store (`outbox.db` as a sealed document, alert photos as
 * secretstream blobs in `media/`).
 *
 * An entry is written (fsync'd) before anything is sent, and removed in the
 * same atomic write that records its delivery, so a restart or a SIGKILL at any
 * point either still has the entry (it is sent later) or has its delivery
 * record (it is not sent again). The one window left is between Telegram's
 * answer and that write, a few milliseconds: a kill exactly there sends the
 * message again on the next start, because a lost alert is worse than a
 * repeated one.
 *
 * Nothing here knows about Telegram: the sender in `src/bot` decides when and
 * how to send; this keeps what must be sent, in order per chat.
 */
import { randomBytes } from "node:crypto";
import * as v from "valibot";
import { BlobStore } from "./blob-store.js";
import { EncryptedDocument, type DocumentSpec } from "./document.js";
import type { Chat } from "./store.js";
import type { Vault } from "./vault.js";

const AlertPayloadSchema = v.object({
  type: v.literal("alert"),
  alertId: v.string(),
  cameraId: v.string(),
  cameraName: v.string(),
  label: v.string(),
  score: v.number(),
  /** Epoch ms of the frame that confirmed the object. */
  at: v.number(),
  motionOnly: v.boolean(),
  /** Blob name of the annotated JPEG; null when it was not kept (see `maxPhotosPerCamera`). */
  photo: v.nullable(v.string()),
});

const NoticePayloadSchema = v.object({
  type: v.literal("notice"),
  /** Plain text (the sender escapes it). */
  text: v.string(),
  /** Send without a notification sound (heartbeats, recoveries). */
  silent: v.optional(v.boolean(), false),
});

/** An alert's clip is ready: its message (photo) is to be edited into the video. */
const ClipPayloadSchema = v.object({
  type: v.literal("clip"),
  alertId: v.string(),
  cameraId: v.string(),
  cameraName: v.string(),
});

const EntrySchema = v.object({
  /** Position in the outbox, increasing: per chat, entries go out in `seq` order. */
  seq: v.number(),
  chatId: v.number(),
  threadId: v.optional(v.number()),
  createdAt: v.number(),
  payload: v.variant("type", [AlertPayloadSchema, NoticePayloadSchema, ClipPayloadSchema]),
});

const DeliverySchema = v.object({
  alertId: v.string(),
  chatId: v.number(),
  messageId: v.number(),
  sentAt: v.number(),
  /** Set when this alert was folded into the message of an earlier one (`+3 more on cam2`). */
  coalescedInto: v.optional(v.string()),
  /** The message's caption as sent (HTML), so the clip that replaces its photo keeps it. */
  caption: v.optional(v.string()),
});

export const OUTBOX_VERSION = 1;

const OutboxSchema = v.object({
  version: v.literal(OUTBOX_VERSION),
  nextSeq: v.optional(v.number(), 1),
  entries: v.optional(v.array(EntrySchema), () => []),
  /** Recent alert deliveries, newest last: the clip and `/events` find an alert's message here. */
  delivered: v.optional(v.array(DeliverySchema), () => []),
});

type OutboxData = v.InferOutput<typeof OutboxSchema>;
export type OutboxEntry = v.InferOutput<typeof EntrySchema>;
export type AlertPayload = v.InferOutput<typeof AlertPayloadSchema>;
export type NoticePayload = v.InferOutput<typeof NoticePayloadSchema>;
export type ClipPayload = v.InferOutput<typeof ClipPayloadSchema>;
export type AlertDelivery = v.InferOutput<typeof DeliverySchema>;

export const OUTBOX_FILE = "outbox.db";
const PHOTO_PREFIX = "outbox-";

const outboxSpec: DocumentSpec<OutboxData> = {
  file: OUTBOX_FILE,
  version: OUTBOX_VERSION,
  schema: OutboxSchema,
  empty: () => v.parse(OutboxSchema, { version: OUTBOX_VERSION }),
};

export interface OutboxOptions {
  /** The clock. Default `Date.now`. */
  now?: () => number;
  /** Alert deliveries remembered for clips and `/events`. Default 1000. */
  maxDelivered?: number;
  /**
   * Pending alerts of one camera in one chat that keep their photo. A backlog
   * beyond this is folded into one message anyway (`+N more`), so more photos
   * would only fill the disk during a long outage. Default 20.
   */
  maxPhotosPerCamera?: number;
}

export type NewAlert = Omit<AlertPayload, "type" | "photo"> & { jpeg: Buffer };

/** Where entries went: the message, and its caption when it showed an alert. */
export interface Delivered {
  chatId: number;
  messageId: number;
  caption?: string;
}

export class Outbox {
  readonly #doc: EncryptedDocument<OutboxData>;
  readonly #blobs: BlobStore;
  readonly #now: () => number;
  readonly #maxDelivered: number;
  readonly #maxPhotos: number;
  /** Every change is serialised: photo writes finishing out of order cannot reorder entries, and flush() waits for all. */
  #tail: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<() => void>();

  private constructor(doc: EncryptedDocument<OutboxData>, blobs: BlobStore, options: OutboxOptions) {
    this.#doc = doc;
    this.#blobs = blobs;
    this.#now = options.now ?? Date.now;
    this.#maxDelivered = options.maxDelivered ?? 1000;
    this.#maxPhotos = options.maxPhotosPerCamera ?? 20;
  }

  /** Opens (or creates) the outbox and removes photos no entry refers to (a crash between writing a photo and its entry). */
  static async open(vault: Vault, options: OutboxOptions = {}): Promise<Outbox> {
    const outbox = new Outbox(await EncryptedDocument.open(vault, outboxSpec), new BlobStore(vault), options);
    await outbox.#removeOrphanPhotos();
    return outbox;
  }

  /** Called after every enqueue (the sender wakes up). Returns the unsubscribe function. */
  onEnqueue(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Queues one alert for every chat; the photo is stored once, encrypted. Returns the new entries. */
  enqueueAlert(chats: readonly Chat[], alert: NewAlert): Promise<OutboxEntry[]> {
    return this.#serial(async () => {
      if (chats.length === 0) return [];
      const { jpeg, ...fields } = alert;
      const full = chats.every((c) => this.#pendingPhotos(c.id, alert.cameraId) >= this.#maxPhotos);
      const photo = full ? null : `${PHOTO_PREFIX}${randomBytes(8).toString("hex")}`;
      if (photo) await this.#blobs.put(photo, jpeg);
      return this.#append(chats, { type: "alert", ...fields, photo });
    });
  }

  /** Queues, for every chat, the edit of an alert's message into its clip. */
  enqueueClip(chats: readonly Chat[], clip: Omit<ClipPayload, "type">): Promise<OutboxEntry[]> {
    return this.#serial(() => this.#append(chats, { type: "clip", ...clip }));
  }

  /** Queues a plain-text notice for every chat. */
  enqueueNotice(chats: readonly Chat[], text: string, options: { silent?: boolean } = {}): Promise<OutboxEntry[]> {
    return this.#serial(() => this.#append(chats, { type: "notice", text, silent: options.silent ?? false }));
  }

  async #append(chats: readonly Chat[], payload: OutboxEntry["payload"]): Promise<OutboxEntry[]> {
    const createdAt = this.#now();
    const added = await this.#doc.update((d) => {
      const out: OutboxEntry[] = [];
      for (const chat of chats) {
        const entry: OutboxEntry = { seq: d.nextSeq++, chatId: chat.id, ...(chat.threadId !== undefined ? { threadId: chat.threadId } : {}), createdAt, payload };
        d.entries.push(entry);
        out.push(entry);
      }
      return out;
    });
    for (const listener of this.#listeners) listener();
    return added;
  }

  #serial<R>(task: () => Promise<R>): Promise<R> {
    const next = this.#tail.then(task, task);
    this.#tail = next.catch(() => undefined);
    return next;
  }

  #pendingPhotos(chatId: number, cameraId: string): number {
    return this.#doc.data.entries.filter((e) => e.chatId === chatId && e.payload.type === "alert" && e.payload.cameraId === cameraId && e.payload.photo !== null).length;
  }

  /** Pending entries, oldest first; of one chat when `chatId` is given. */
  pending(chatId?: number): readonly OutboxEntry[] {
    const entries = this.#doc.data.entries;
    return chatId === undefined ? entries : entries.filter((e) => e.chatId === chatId);
  }

  /** Chats that have something pending. */
  chatsWithPending(): number[] {
    return [...new Set(this.#doc.data.entries.map((e) => e.chatId))];
  }

  /** The decrypted photo of an alert entry, or undefined when it has none. */
  async photo(entry: OutboxEntry): Promise<Buffer | undefined> {
    if (entry.payload.type !== "alert" || entry.payload.photo === null) return undefined;
    return this.#blobs.get(entry.payload.photo);
  }

  /**
   * Records that `seqs` were delivered as message `messageId` (the first one is
   * the message's own alert; later alerts were folded into it) and removes them,
   * in one atomic write. Photos nobody refers to any more are deleted after.
   */
  complete(seqs: readonly number[], delivery: Delivered): Promise<void> {
    return this.#remove(seqs, delivery);
  }

  /** Removes entries that will never be delivered (Telegram rejects them as they are), recording nothing. */
  discard(seqs: readonly number[]): Promise<void> {
    return this.#remove(seqs, undefined);
  }

  #remove(seqs: readonly number[], delivery: Delivered | undefined): Promise<void> {
    return this.#serial(async () => {
      const sentAt = this.#now();
      const photos = await this.#doc.update((d) => {
        const done = d.entries.filter((e) => seqs.includes(e.seq));
        d.entries = d.entries.filter((e) => !seqs.includes(e.seq));
        const alerts = done.filter((e) => e.payload.type === "alert").map((e) => e.payload as AlertPayload);
        const head = alerts[0];
        if (delivery) {
          for (const alert of alerts) {
            const folded = alert !== head && head !== undefined;
            d.delivered.push({ alertId: alert.alertId, chatId: delivery.chatId, messageId: delivery.messageId, sentAt, ...(folded ? { coalescedInto: head.alertId } : delivery.caption !== undefined ? { caption: delivery.caption } : {}) });
          }
        }
        if (d.delivered.length > this.#maxDelivered) d.delivered.splice(0, d.delivered.length - this.#maxDelivered);
        const stillUsed = new Set(d.entries.map((e) => (e.payload.type === "alert" ? e.payload.photo : null)));
        return alerts.map((a) => a.photo).filter((p): p is string => p !== null && !stillUsed.has(p));
      });
      await Promise.all([...new Set(photos)].map((name) => this.#blobs.delete(name)));
    });
  }

  /** Moves a chat's pending entries to a new chat id (a group that became a supergroup). */
  async retarget(fromChatId: number, toChatId: number): Promise<void> {
    await this.#serial(() =>
      this.#doc.update((d) => {
        for (const entry of d.entries) if (entry.chatId === fromChatId) entry.chatId = toChatId;
      }),
    );
    for (const listener of this.#listeners) listener();
  }

  /**
   * Where an alert was shown: one delivery per chat. The recording work edits
   * these messages into the clip (editMessageMedia) when `clip-ready` arrives.
   */
  deliveries(alertId: string): AlertDelivery[] {
    return this.#doc.data.delivered.filter((d) => d.alertId === alertId);
  }

  /** Waits for every write (before a clean stop, or to read the files). */
  async flush(): Promise<void> {
    await this.#tail;
    await this.#doc.flush();
  }

  async #removeOrphanPhotos(): Promise<void> {
    const used = new Set(this.#doc.data.entries.map((e) => (e.payload.type === "alert" ? e.payload.photo : null)));
    const names = await this.#blobs.list();
    await Promise.all(names.filter((n) => n.startsWith(PHOTO_PREFIX) && !used.has(n)).map((n) => this.#blobs.delete(n)));
  }
}
