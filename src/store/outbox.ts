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
 * A disk that takes no writes (full, or an SD card gone read-only) must not
 * silence alerts: an entry that cannot be written is kept in memory with its
 * photo, sent like any other, and written as soon as a write succeeds again.
 * Only a crash while the disk is still failing loses it.
 *
 * Nothing here knows about Telegram: the sender in `src/bot` decides when and
 * how to send; this keeps what must be sent, in order per chat.
 */
import { randomBytes } from "node:crypto";
import * as v from "valibot";
import { MODES } from "../domain/modes.js";
import { silentLogger, type Logger } from "../log.js";
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
  /** The mode in force when it was decided (the caption says it). */
  mode: v.optional(v.picklist(MODES)),
  /** Decided in the quiet hours: sent without a notification sound. */
  silent: v.optional(v.boolean(), false),
  /** From a satellite: its site, and when the hub received it (a late alert then says where it was held). */
  satellite: v.optional(v.string()),
  receivedAt: v.optional(v.number()),
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

/** News of a visit: its alert's message is edited to say how many of what, and for how long. A newer one replaces one still waiting. */
const VisitPayloadSchema = v.object({
  type: v.literal("visit"),
  alertId: v.string(),
  cameraId: v.string(),
  cameraName: v.string(),
  label: v.string(),
  /** Epoch ms of the news. */
  at: v.number(),
  startedAt: v.number(),
  lastSeenAt: v.number(),
  counts: v.record(v.string(), v.number()),
  stationary: v.boolean(),
  motionOnly: v.boolean(),
  /** Set once the visit is over: why. */
  ended: v.optional(v.picklist(["left", "disarmed", "stopped"])),
});

/** A door or window opened while armed: its text, and a photo from each linked camera (an album when several). */
const DoorPayloadSchema = v.object({
  type: v.literal("door"),
  alertId: v.string(),
  sensorId: v.string(),
  sensorName: v.string(),
  kind: v.picklist(["door", "window"]),
  /** Epoch ms it opened. */
  at: v.number(),
  /** Blob names of the linked cameras' pictures, in order. */
  photos: v.array(v.object({ cameraId: v.string(), cameraName: v.string(), blob: v.string() })),
});

const EntrySchema = v.object({
  /** Position in the outbox, increasing: per chat, entries go out in `seq` order. */
  seq: v.number(),
  chatId: v.number(),
  threadId: v.optional(v.number()),
  createdAt: v.number(),
  payload: v.variant("type", [AlertPayloadSchema, NoticePayloadSchema, ClipPayloadSchema, VisitPayloadSchema, DoorPayloadSchema]),
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
  /** The visit's line under the caption (HTML), as last edited in. */
  visit: v.optional(v.string()),
});

export const OUTBOX_VERSION = 1;

const OutboxSchema = v.object({
  version: v.literal(OUTBOX_VERSION),
  nextSeq: v.optional(v.number(), 1),
  entries: v.optional(v.array(EntrySchema), () => []),
  /** Recent alert deliveries, newest last: the clip and `/events` find an alert's message here. */
  delivered: v.optional(v.array(DeliverySchema), () => []),
  /** Cameras the chats were told are offline, by id, with their last picture (epoch ms): kept across restarts, so "back online" follows. */
  offline: v.optional(v.record(v.string(), v.number()), () => ({})),
});

type OutboxData = v.InferOutput<typeof OutboxSchema>;
export type OutboxEntry = v.InferOutput<typeof EntrySchema>;
export type AlertPayload = v.InferOutput<typeof AlertPayloadSchema>;
export type NoticePayload = v.InferOutput<typeof NoticePayloadSchema>;
export type ClipPayload = v.InferOutput<typeof ClipPayloadSchema>;
export type VisitPayload = v.InferOutput<typeof VisitPayloadSchema>;
export type DoorPayload = v.InferOutput<typeof DoorPayloadSchema>;

/** The photo blobs an entry refers to. */
function photosOf(payload: OutboxEntry["payload"]): string[] {
  if (payload.type === "alert") return payload.photo === null ? [] : [payload.photo];
  if (payload.type === "door") return payload.photos.map((p) => p.blob);
  return [];
}
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
  /** Says when entries are kept in memory because the disk takes no writes. Default: silent. */
  logger?: Logger;
}

/** A failed write of the filesystem (ENOSPC, EDQUOT, EROFS, EIO, ...), as opposed to a bug. */
function isWriteFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}

export type NewAlert = Omit<AlertPayload, "type" | "photo" | "silent"> & { jpeg: Buffer; silent?: boolean };

/** Where entries went: the message, and its caption when it showed an alert, or the visit's line when it edited one in. */
export interface Delivered {
  chatId: number;
  messageId: number;
  caption?: string;
  visit?: string;
}

export class Outbox {
  readonly #doc: EncryptedDocument<OutboxData>;
  readonly #blobs: BlobStore;
  readonly #now: () => number;
  readonly #maxDelivered: number;
  readonly #maxPhotos: number;
  readonly #logger: Logger;
  /** Every change is serialised: photo writes finishing out of order cannot reorder entries, and flush() waits for all. */
  #tail: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<() => void>();
  /** Entries the disk did not take, oldest first: sent like the others, written when it takes writes again. */
  #unsaved: OutboxEntry[] = [];
  /** Their photos, by blob name. */
  readonly #unsavedPhotos = new Map<string, Buffer>();
  /** The next seq, whether the entry lands on disk or in memory. */
  #nextSeq: number;
  /** Cameras announced offline (see the schema); written with every write of the document. */
  readonly #offline: Map<string, number>;

  private constructor(doc: EncryptedDocument<OutboxData>, blobs: BlobStore, options: OutboxOptions) {
    this.#doc = doc;
    this.#blobs = blobs;
    this.#now = options.now ?? Date.now;
    this.#maxDelivered = options.maxDelivered ?? 1000;
    this.#maxPhotos = options.maxPhotosPerCamera ?? 20;
    this.#logger = options.logger ?? silentLogger;
    this.#nextSeq = doc.data.nextSeq;
    this.#offline = new Map(Object.entries(doc.data.offline));
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
      return this.#append(chats, { type: "alert", ...fields, silent: fields.silent ?? false, photo }, photo ? jpeg : undefined);
    });
  }

  /** Queues a door alert for every chat, with its pictures (stored once each, encrypted). */
  enqueueDoor(chats: readonly Chat[], door: Omit<DoorPayload, "type" | "photos"> & { photos: { cameraId: string; cameraName: string; jpeg: Buffer }[] }): Promise<OutboxEntry[]> {
    return this.#serial(async () => {
      if (chats.length === 0) return [];
      const photos = door.photos.map((p) => ({ cameraId: p.cameraId, cameraName: p.cameraName, blob: `${PHOTO_PREFIX}${randomBytes(8).toString("hex")}`, jpeg: p.jpeg }));
      const written: typeof photos = [];
      try {
        for (const photo of photos) {
          await this.#blobs.put(photo.blob, photo.jpeg);
          written.push(photo);
        }
      } catch (error) {
        if (!isWriteFailure(error)) throw error;
        for (const photo of photos) if (!written.includes(photo)) this.#unsavedPhotos.set(photo.blob, photo.jpeg);
      }
      const { photos: _jpegs, ...fields } = door;
      return this.#append(chats, { type: "door", ...fields, photos: photos.map(({ jpeg: _j, ...p }) => p) });
    });
  }

  /** The decrypted pictures of a door entry, in order (one that cannot be read is left out). */
  async doorPhotos(entry: OutboxEntry): Promise<{ cameraName: string; jpeg: Buffer }[]> {
    if (entry.payload.type !== "door") return [];
    const out: { cameraName: string; jpeg: Buffer }[] = [];
    for (const photo of entry.payload.photos) {
      const jpeg = this.#unsavedPhotos.get(photo.blob) ?? (await this.#blobs.get(photo.blob).catch(() => undefined));
      if (jpeg) out.push({ cameraName: photo.cameraName, jpeg });
    }
    return out;
  }

  /** Queues, for every chat, the edit of an alert's message into its clip. */
  enqueueClip(chats: readonly Chat[], clip: Omit<ClipPayload, "type">): Promise<OutboxEntry[]> {
    return this.#serial(() => this.#append(chats, { type: "clip", ...clip }));
  }

  /**
   * Queues, for every chat, the edit of an alert's message with news of its
   * visit. Only the newest news matters: one still waiting for the same visit
   * is replaced, so a backlog never holds more than one edit per visit.
   */
  enqueueVisit(chats: readonly Chat[], visit: Omit<VisitPayload, "type">): Promise<OutboxEntry[]> {
    return this.#serial(() => this.#append(chats, { type: "visit", ...visit }, undefined, (e) => e.payload.type === "visit" && e.payload.alertId === visit.alertId));
  }

  /** Queues a plain-text notice for every chat. */
  enqueueNotice(chats: readonly Chat[], text: string, options: { silent?: boolean } = {}): Promise<OutboxEntry[]> {
    return this.#serial(() => this.#append(chats, { type: "notice", text, silent: options.silent ?? false }));
  }

  /**
   * Queues a camera's offline notice (`offline` set: its last picture) or its
   * back-online notice (`offline` null), once per change, even across restarts:
   * an offline camera is announced once, and back online only if it was
   * announced offline. Returns no entries when there was no change to tell.
   */
  enqueueCameraNotice(chats: readonly Chat[], cameraId: string, offline: { since: number } | null, text: string, options: { silent?: boolean } = {}): Promise<OutboxEntry[]> {
    return this.#serial(async () => {
      if (chats.length === 0 || this.#offline.has(cameraId) === (offline !== null)) return [];
      if (offline) this.#offline.set(cameraId, offline.since);
      else this.#offline.delete(cameraId);
      return this.#append(chats, { type: "notice", text, silent: options.silent ?? false });
    });
  }

  /** Cameras the chats were last told are offline, with their last picture (epoch ms). */
  offlineCameras(): ReadonlyMap<string, number> {
    return this.#offline;
  }

  /** Stops following a camera that was announced offline (it was removed). */
  forgetOffline(cameraId: string): Promise<void> {
    return this.#serial(async () => {
      if (!this.#offline.delete(cameraId)) return;
      await this.#saveUnsaved();
      await this.#doc.update((d) => void (d.offline = Object.fromEntries(this.#offline))).catch((error: unknown) => {
        if (!isWriteFailure(error)) throw error;
      });
    });
  }

  /** Appends an entry per chat; `replaces`: pending entries of those chats that the new one makes pointless, removed in the same write. */
  async #append(chats: readonly Chat[], payload: OutboxEntry["payload"], jpeg?: Buffer, replaces?: (entry: OutboxEntry) => boolean): Promise<OutboxEntry[]> {
    await this.#saveUnsaved();
    const createdAt = this.#now();
    const added = chats.map((chat): OutboxEntry => ({ seq: this.#nextSeq++, chatId: chat.id, ...(chat.threadId !== undefined ? { threadId: chat.threadId } : {}), createdAt, payload }));
    const photo = payload.type === "alert" ? payload.photo : null;
    const ids = new Set(chats.map((c) => c.id));
    const stale = (e: OutboxEntry) => replaces !== undefined && ids.has(e.chatId) && replaces(e);
    try {
      if (photo && jpeg) await this.#blobs.put(photo, jpeg);
      await this.#doc.update((d) => {
        d.entries = d.entries.filter((e) => !stale(e));
        d.entries.push(...added);
        d.nextSeq = this.#nextSeq;
        d.offline = Object.fromEntries(this.#offline);
      });
    } catch (error) {
      if (!isWriteFailure(error)) throw error;
      if (this.#unsaved.length === 0) this.#logger.error({ err: error }, "the outbox cannot be written (disk full or failing): messages are kept in memory and sent; a crash before the disk takes writes again would lose them");
      this.#unsaved = this.#unsaved.filter((e) => !stale(e));
      this.#unsaved.push(...added);
      if (photo && jpeg) this.#unsavedPhotos.set(photo, jpeg);
    }
    for (const listener of this.#listeners) listener();
    return added;
  }

  /** Writes the entries kept in memory, once the disk takes writes again. */
  async #saveUnsaved(): Promise<void> {
    if (this.#unsaved.length === 0) return;
    const entries = this.#unsaved;
    try {
      for (const [name, jpeg] of this.#unsavedPhotos) await this.#blobs.put(name, jpeg);
      await this.#doc.update((d) => {
        d.entries = [...d.entries, ...entries].sort((a, b) => a.seq - b.seq);
        d.nextSeq = this.#nextSeq;
        d.offline = Object.fromEntries(this.#offline);
      });
    } catch (error) {
      if (!isWriteFailure(error)) throw error;
      return; // still failing: they stay in memory, and are still sent
    }
    this.#unsaved = [];
    this.#unsavedPhotos.clear();
    this.#logger.info({ entries: entries.length }, "the outbox can be written again: the messages kept in memory are on disk");
  }

  #serial<R>(task: () => Promise<R>): Promise<R> {
    const next = this.#tail.then(task, task);
    this.#tail = next.catch(() => undefined);
    return next;
  }

  #pendingPhotos(chatId: number, cameraId: string): number {
    return this.pending(chatId).filter((e) => e.payload.type === "alert" && e.payload.cameraId === cameraId && e.payload.photo !== null).length;
  }

  /** Pending entries (on disk or, while the disk takes no writes, in memory), oldest first; of one chat when `chatId` is given. */
  pending(chatId?: number): readonly OutboxEntry[] {
    const stored = this.#doc.data.entries;
    const entries = this.#unsaved.length ? [...stored, ...this.#unsaved].sort((a, b) => a.seq - b.seq) : stored;
    return chatId === undefined ? entries : entries.filter((e) => e.chatId === chatId);
  }

  /**
   * Whether the alert `alertId` was queued here already: waiting, or delivered
   * and still remembered. An alert that comes again (a satellite resending what
   * the hub took just before a crash) is then not queued twice.
   */
  knowsAlert(alertId: string): boolean {
    return this.pending().some((e) => e.payload.type === "alert" && e.payload.alertId === alertId) || this.#doc.data.delivered.some((d) => d.alertId === alertId);
  }

  /** Chats that have something pending. */
  chatsWithPending(): number[] {
    return [...new Set(this.pending().map((e) => e.chatId))];
  }

  /** How many pending entries exist only in memory because the disk takes no writes. */
  unsavedCount(): number {
    return this.#unsaved.length;
  }

  /** The decrypted photo of an alert entry, or undefined when it has none. */
  async photo(entry: OutboxEntry): Promise<Buffer | undefined> {
    if (entry.payload.type !== "alert" || entry.payload.photo === null) return undefined;
    return this.#unsavedPhotos.get(entry.payload.photo) ?? this.#blobs.get(entry.payload.photo);
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
      await this.#saveUnsaved();
      const sentAt = this.#now();
      const inMemory = this.#unsaved.filter((e) => seqs.includes(e.seq));
      const photos = await this.#doc.update((d) => {
        const done = [...d.entries.filter((e) => seqs.includes(e.seq)), ...inMemory].sort((a, b) => a.seq - b.seq);
        d.entries = d.entries.filter((e) => !seqs.includes(e.seq));
        const alerts = done.filter((e) => e.payload.type === "alert").map((e) => e.payload as AlertPayload);
        const head = alerts[0];
        if (delivery) {
          for (const alert of alerts) {
            const folded = alert !== head && head !== undefined;
            d.delivered.push({ alertId: alert.alertId, chatId: delivery.chatId, messageId: delivery.messageId, sentAt, ...(folded ? { coalescedInto: head.alertId } : delivery.caption !== undefined ? { caption: delivery.caption } : {}) });
          }
          // A visit's news edited in: the clip that may replace the photo later keeps it.
          for (const entry of done) {
            if (entry.payload.type !== "visit" || delivery.visit === undefined) continue;
            const shown = d.delivered.find((x) => x.alertId === (entry.payload as VisitPayload).alertId && x.chatId === delivery.chatId && x.coalescedInto === undefined);
            if (shown) shown.visit = delivery.visit;
          }
        }
        if (d.delivered.length > this.#maxDelivered) d.delivered.splice(0, d.delivered.length - this.#maxDelivered);
        const remaining = [...d.entries, ...this.#unsaved.filter((e) => !seqs.includes(e.seq))];
        const stillUsed = new Set(remaining.flatMap((e) => photosOf(e.payload)));
        return done.flatMap((e) => photosOf(e.payload)).filter((p) => !stillUsed.has(p));
      });
      // Written: what was kept in memory is done too. (A failed write throws above and the sender records it later.)
      this.#unsaved = this.#unsaved.filter((e) => !seqs.includes(e.seq));
      for (const name of photos) this.#unsavedPhotos.delete(name);
      await Promise.all([...new Set(photos)].map((name) => this.#blobs.delete(name)));
    });
  }

  /** Moves a chat's pending entries to a new chat id (a group that became a supergroup). */
  async retarget(fromChatId: number, toChatId: number): Promise<void> {
    await this.#serial(async () => {
      for (const entry of this.#unsaved) if (entry.chatId === fromChatId) entry.chatId = toChatId;
      await this.#doc.update((d) => {
        for (const entry of d.entries) if (entry.chatId === fromChatId) entry.chatId = toChatId;
      });
    });
    for (const listener of this.#listeners) listener();
  }

  /**
   * Where an alert was shown: one delivery per chat. The recording work edits
   * these messages into the clip (editMessageMedia) when `clip-ready` arrives.
   */
  deliveries(alertId: string): AlertDelivery[] {
    return this.#doc.data.delivered.filter((d) => d.alertId === alertId);
  }

  /** Waits for every write and tries once more to write what is kept in memory (before a clean stop, or to read the files). */
  async flush(): Promise<void> {
    await this.#serial(() => this.#saveUnsaved());
    await this.#doc.flush();
    if (this.#unsaved.length) this.#logger.error({ entries: this.#unsaved.length }, "the disk still takes no writes: messages kept in memory are lost when Vigil stops");
  }

  async #removeOrphanPhotos(): Promise<void> {
    const used = new Set(this.#doc.data.entries.flatMap((e) => photosOf(e.payload)));
    const names = await this.#blobs.list();
    await Promise.all(names.filter((n) => n.startsWith(PHOTO_PREFIX) && !used.has(n)).map((n) => this.#blobs.delete(n)));
  }
}
