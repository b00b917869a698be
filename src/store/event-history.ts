/**
 * The event history (`events.db`): every visit, by its alert: camera, object,
 * score, box, when it started, was alerted and ended, the most objects of each
 * kind seen at once, and the names of its encrypted snapshot and clip in the
 * media store. The document is sealed like `vigil.db` (and so rekeyed and restored
 * with it); the pictures and clips are secretstream blobs, decrypted in memory
 * only, to send or export them.
 *
 * Write order keeps a crash harmless: a blob is written before the entry that
 * names it, and an entry is removed before its blobs. A blob no entry names is
 * an orphan that retention sweeps.
 */
import { createHash } from "node:crypto";
import * as v from "valibot";
import type { AlertEvent } from "../domain/events.js";
import type { StoredEvent } from "../domain/recorder.js";
import { InputError } from "../errors.js";
import { BlobStore } from "./blob-store.js";
import { EncryptedDocument, type DocumentSpec } from "./document.js";
import type { Vault } from "./vault.js";

export const EVENTS_FILE = "events.db";
/** Every blob the history writes starts with this; other blobs (the bot's outbox) are not its business. */
export const EVENT_BLOB_PREFIX = "ev-";

const Box = v.tuple([v.number(), v.number(), v.number(), v.number()]);
const BlobRef = v.object({ blob: v.string(), bytes: v.number() });

const EntrySchema = v.object({
  id: v.string(),
  cameraId: v.string(),
  cameraName: v.string(),
  label: v.string(),
  score: v.number(),
  box: Box,
  objects: v.optional(v.array(v.object({ label: v.string(), score: v.number(), box: Box })), () => []),
  frameWidth: v.number(),
  frameHeight: v.number(),
  motionOnly: v.optional(v.boolean(), false),
  /** When it was confirmed (the alert). */
  at: v.number(),
  /** When the visitor was first seen. */
  startedAt: v.number(),
  /** When the visit ended (its last object was last seen); missing while it goes on. */
  endedAt: v.optional(v.number()),
  /** Most objects of each kind seen at once, by label family. Entries from before visits: empty. */
  counts: v.optional(v.record(v.string(), v.number()), () => ({})),
  snapshot: BlobRef,
  clip: v.optional(v.object({ ...BlobRef.entries, durationSeconds: v.number(), width: v.number(), height: v.number() })),
});

/** A door or window that opened or closed (debounced), beside the visits. */
const DoorEntrySchema = v.object({
  id: v.string(),
  sensorId: v.string(),
  sensorName: v.string(),
  kind: v.picklist(["door", "window"]),
  state: v.picklist(["open", "closed"]),
  at: v.number(),
  /** It alerted the chat (it opened while armed and not muted). */
  alerted: v.boolean(),
});

const HistorySchema = v.object({
  version: v.literal(1),
  /** Oldest first. */
  events: v.array(EntrySchema),
  /** Oldest first; at most MAX_DOOR_EVENTS (they have no media: retention by age only). */
  doors: v.optional(v.array(DoorEntrySchema), () => []),
});

/** Door events kept at most (a door opens perhaps 50 times a day: months of them). */
export const MAX_DOOR_EVENTS = 5000;
export type DoorHistoryEntry = v.InferOutput<typeof DoorEntrySchema>;

export type HistoryEntry = v.InferOutput<typeof EntrySchema>;
type HistoryData = v.InferOutput<typeof HistorySchema>;

const spec: DocumentSpec<HistoryData> = {
  file: EVENTS_FILE,
  version: 1,
  schema: HistorySchema,
  empty: () => ({ version: 1, events: [], doors: [] }),
};

/**
 * Blob names say nothing about the event (they are visible on disk): a hash of
 * the alert id, which is itself random.
 */
function blobName(alertId: string, kind: "s" | "c"): string {
  return `${EVENT_BLOB_PREFIX}${createHash("sha256").update(alertId).digest("hex").slice(0, 24)}-${kind}`;
}

export function toStoredEvent(entry: HistoryEntry): StoredEvent {
  return {
    id: entry.id,
    cameraId: entry.cameraId,
    cameraName: entry.cameraName,
    label: entry.label,
    score: entry.score,
    box: entry.box,
    motionOnly: entry.motionOnly,
    at: entry.at,
    startedAt: entry.startedAt,
    endedAt: entry.endedAt,
    counts: entry.counts,
    snapshotBytes: entry.snapshot.bytes,
    clip: entry.clip ? { durationSeconds: entry.clip.durationSeconds, bytes: entry.clip.bytes, width: entry.clip.width, height: entry.clip.height } : undefined,
  };
}

export interface ClipMeta {
  durationSeconds: number;
  width: number;
  height: number;
}

export class EventHistory {
  readonly #doc: EncryptedDocument<HistoryData>;

  private constructor(
    readonly blobs: BlobStore,
    doc: EncryptedDocument<HistoryData>,
  ) {
    this.#doc = doc;
  }

  /** Opens (or creates) the history in an unlocked vault. */
  static async open(vault: Vault): Promise<EventHistory> {
    return new EventHistory(new BlobStore(vault), await EncryptedDocument.open(vault, spec));
  }

  /** Every event, oldest first. Read-only. */
  entries(): readonly HistoryEntry[] {
    return this.#doc.data.events;
  }

  get(id: string): HistoryEntry | undefined {
    return this.#doc.data.events.find((e) => e.id === id);
  }

  /** The `n` newest events, newest first. */
  recent(n: number): HistoryEntry[] {
    return this.#doc.data.events.slice(-n).reverse();
  }

  /** Events with `from ≤ at < until`, oldest first. */
  between(from: number, until = Infinity): HistoryEntry[] {
    return this.#doc.data.events.filter((e) => e.at >= from && e.at < until);
  }

  /**
   * Stores an alert: its snapshot (encrypted) and its entry. Recording the same
   * alert twice changes nothing. Returns the entry.
   */
  async record(alert: AlertEvent): Promise<HistoryEntry> {
    const existing = this.get(alert.id);
    if (existing) return existing;
    const snapshot = blobName(alert.id, "s");
    const bytes = await this.blobs.put(snapshot, alert.snapshot);
    const entry: HistoryEntry = {
      id: alert.id,
      cameraId: alert.cameraId,
      cameraName: alert.cameraName,
      label: alert.label,
      score: alert.score,
      box: alert.box,
      objects: alert.objects.map((o) => ({ label: o.label, score: o.score, box: o.box })),
      frameWidth: alert.frameWidth,
      frameHeight: alert.frameHeight,
      motionOnly: alert.motionOnly,
      at: alert.at,
      startedAt: alert.startedAt,
      counts: {},
      snapshot: { blob: snapshot, bytes },
    };
    try {
      await this.#doc.update((d) => {
        if (d.events.some((e) => e.id === entry.id)) return;
        // Alerts arrive in order almost always; keep the list sorted even when not.
        let i = d.events.length;
        while (i > 0 && d.events[i - 1]!.at > entry.at) i -= 1;
        d.events.splice(i, 0, entry);
      });
    } catch (error) {
      await this.blobs.delete(snapshot);
      throw error;
    }
    return entry;
  }

  /**
   * Stores one clip for one or more alerts of the same event (a second alert
   * during an open clip shares it). Alerts no longer in the history are skipped.
   */
  async attachClip(alertIds: readonly string[], mp4: Uint8Array, meta: ClipMeta): Promise<{ blob: string; bytes: number }> {
    const first = alertIds[0];
    if (first === undefined) throw new Error("attachClip needs at least one alert");
    const blob = blobName(first, "c");
    const bytes = await this.blobs.put(blob, mp4);
    try {
      await this.#doc.update((d) => {
        for (const entry of d.events) {
          if (!alertIds.includes(entry.id)) continue;
          entry.clip = { blob, bytes, durationSeconds: meta.durationSeconds, width: meta.width, height: meta.height };
        }
      });
    } catch (error) {
      await this.blobs.delete(blob);
      throw error;
    }
    return { blob, bytes };
  }

  /** Keeps a door event (once per id). Older ones beyond {@link MAX_DOOR_EVENTS}, or beyond `maxAgeMs`, go. */
  async recordDoor(entry: DoorHistoryEntry, maxAgeMs = 0): Promise<void> {
    await this.#doc.update((d) => {
      if (d.doors.some((e) => e.id === entry.id)) return;
      d.doors.push({ ...entry });
      if (maxAgeMs > 0) d.doors = d.doors.filter((e) => e.at >= entry.at - maxAgeMs);
      if (d.doors.length > MAX_DOOR_EVENTS) d.doors.splice(0, d.doors.length - MAX_DOOR_EVENTS);
    });
  }

  /** Door events with `from ≤ at < until`, oldest first. */
  doorsBetween(from: number, until = Infinity): DoorHistoryEntry[] {
    return this.#doc.data.doors.filter((e) => e.at >= from && e.at < until);
  }

  /** The `n` newest door events, newest first. */
  recentDoors(n: number): DoorHistoryEntry[] {
    return this.#doc.data.doors.slice(-n).reverse();
  }

  /** A visit ended: when, and the most objects of each kind it counted. An event no longer in the history is skipped. */
  async endVisit(id: string, end: { endedAt: number; counts: Record<string, number> }): Promise<void> {
    if (!this.get(id)) return;
    await this.#doc.update((d) => {
      const entry = d.events.find((e) => e.id === id);
      if (!entry) return;
      entry.endedAt = end.endedAt;
      entry.counts = { ...end.counts };
    });
  }

  /** The decrypted snapshot of an event. A damaged file is a CorruptStoreError with a sentence. */
  async snapshot(id: string): Promise<Buffer> {
    return this.#read(this.#require(id).snapshot.blob, "picture");
  }

  /** The decrypted clip of an event. */
  async clip(id: string): Promise<Buffer> {
    const entry = this.#require(id);
    if (!entry.clip) throw new InputError(`The event from ${entry.cameraName} at ${new Date(entry.at).toLocaleString()} has no clip (it was not recorded, or is still being made).`);
    return this.#read(entry.clip.blob, "clip");
  }

  async #read(blob: string, what: string): Promise<Buffer> {
    try {
      return await this.blobs.get(blob);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      throw new InputError(`The ${what} of this event is no longer on disk (it was deleted to free space).`, { cause: error });
    }
  }

  #require(id: string): HistoryEntry {
    const entry = this.get(id);
    if (!entry) throw new InputError("That event is no longer in the history (retention may have removed it).");
    return entry;
  }

  /**
   * Removes events, then every blob they named that no remaining event names.
   * Returns the bytes of media deleted.
   */
  async remove(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const drop = new Set(ids);
    const removed = this.#doc.data.events.filter((e) => drop.has(e.id));
    const rewrite = () =>
      this.#doc.update((d) => {
        d.events = d.events.filter((e) => !drop.has(e.id));
      });
    try {
      await rewrite();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOSPC" && code !== "EDQUOT") throw error;
      // The disk is so full that the history cannot be rewritten before its files go: free
      // the files first. A crash in between leaves entries whose files are missing, which
      // read as "deleted to free space" instead of leaving the disk full for good.
      const freed = await this.#deleteUnnamed(removed, this.namedBlobs(drop));
      await rewrite();
      return freed;
    }
    return this.#deleteUnnamed(removed, this.namedBlobs());
  }

  async #deleteUnnamed(removed: readonly HistoryEntry[], stillNamed: Set<string>): Promise<number> {
    let freed = 0;
    for (const entry of removed) {
      for (const ref of blobsOf(entry)) {
        if (stillNamed.has(ref.blob)) continue;
        stillNamed.add(ref.blob); // a shared clip is deleted once
        await this.blobs.delete(ref.blob);
        freed += ref.bytes;
      }
    }
    return freed;
  }

  /** Names of every blob an event refers to (leaving out the events in `except`). */
  namedBlobs(except: ReadonlySet<string> = new Set()): Set<string> {
    return new Set(this.#doc.data.events.filter((e) => !except.has(e.id)).flatMap((e) => blobsOf(e).map((b) => b.blob)));
  }

  flush(): Promise<void> {
    return this.#doc.flush();
  }
}

/** The blobs an entry refers to, with their sizes. */
export function blobsOf(entry: HistoryEntry): { blob: string; bytes: number }[] {
  return entry.clip ? [entry.snapshot, { blob: entry.clip.blob, bytes: entry.clip.bytes }] : [entry.snapshot];
}
