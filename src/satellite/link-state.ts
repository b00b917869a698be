/**
 * What each side of the satellite link keeps on disk, encrypted like the store:
 *
 * - on a satellite, `satellite-link.db`: its key pair, the pending join code
 *   (until a hub adopts it), the hub's key and the session keys, its boot
 *   counter, and its outbox: every event it owes the hub, numbered, with the
 *   alert pictures as secretstream blobs, until the hub acks it;
 * - on the hub, `satellites.db`: the hub's key pair and boot counter, and per
 *   adopted satellite its key, session keys, the number of the last event
 *   processed from it (so nothing is processed twice, even across restarts),
 *   its cameras as last heard (so the chat knows them while it is silent), and
 *   the clips the hub still has to fetch from it.
 *
 * An outbox entry is on disk (fsync'd, with its picture) before it is sent,
 * and leaves in the write that follows the hub's ack: a crash at any point
 * either still has it (it is sent again, and the hub, which keeps the last
 * number it processed, takes it once) or has its ack.
 */
import { randomBytes } from "node:crypto";
import * as v from "valibot";
import { BlobStore } from "../store/blob-store.js";
import { EncryptedDocument, readDocumentFile, type DocumentSpec } from "../store/document.js";
import type { Vault } from "../store/vault.js";
import { PublicCameraSchema, WireEventSchema, type PublicCamera, type WireEvent } from "./protocol.js";
import { fromBase64, newKeyPair, toBase64, type KeyPair, type SessionKeys } from "./sealing.js";

const KeyPairSchema = v.object({ publicKey: v.string(), secretKey: v.string() });
const SessionSchema = v.object({ rx: v.string(), tx: v.string() });

const OutboxEntrySchema = v.object({
  seq: v.number(),
  createdAt: v.number(),
  event: WireEventSchema,
  /** Blob name of an alert's picture. */
  photo: v.optional(v.string()),
});
export type SatelliteOutboxEntry = v.InferOutput<typeof OutboxEntrySchema>;

const SatelliteLinkSchema = v.object({
  version: v.literal(1),
  keys: KeyPairSchema,
  /** The join code and its salt, until a hub adopts this satellite. */
  join: v.nullable(v.object({ code: v.string(), salt: v.string(), createdAt: v.number() })),
  /** The hub that adopted it. */
  hub: v.nullable(v.object({ id: v.string(), key: v.string(), session: SessionSchema, adoptedAt: v.number() })),
  /** Grows by one at every start: the hub refuses what an earlier start sent once it has heard of a later one. */
  boot: v.number(),
  /** The hub's newest boot this satellite has heard of. */
  hubBoot: v.optional(v.number(), 0),
  nextSeq: v.number(),
  entries: v.array(OutboxEntrySchema),
});
type SatelliteLinkData = v.InferOutput<typeof SatelliteLinkSchema>;

export const SATELLITE_LINK_FILE = "satellite-link.db";
const PHOTO_PREFIX = "satout-";

export interface SatelliteIdentity {
  keys: KeyPair;
  join: { code: string; salt: Uint8Array; createdAt: number } | null;
  hub: { id: string; key: Uint8Array; session: SessionKeys; adoptedAt: number } | null;
}

const decodeKeys = (k: { publicKey: string; secretKey: string }): KeyPair => ({ publicKey: fromBase64(k.publicKey), secretKey: fromBase64(k.secretKey) });
const encodeKeys = (k: KeyPair) => ({ publicKey: toBase64(k.publicKey), secretKey: toBase64(k.secretKey) });
const decodeSession = (s: { rx: string; tx: string }): SessionKeys => ({ rx: fromBase64(s.rx), tx: fromBase64(s.tx) });
const encodeSession = (s: SessionKeys) => ({ rx: toBase64(s.rx), tx: toBase64(s.tx) });

function satelliteSpec(first: KeyPair): DocumentSpec<SatelliteLinkData> {
  return {
    file: SATELLITE_LINK_FILE,
    version: 1,
    schema: SatelliteLinkSchema,
    empty: () => ({ version: 1, keys: encodeKeys(first), join: null, hub: null, boot: 0, hubBoot: 0, nextSeq: 1, entries: [] }),
  };
}

/** What `vigil satellite show` tells, read without writing anything (a running satellite owns the file). */
export async function peekSatelliteLink(vault: Vault): Promise<{ adopted: { hub: string; at: number } | undefined; code: string | undefined; queued: number } | undefined> {
  const data = await readDocumentFile(vault, satelliteSpec(await newKeyPair()));
  if (!data) return undefined;
  return { adopted: data.hub ? { hub: data.hub.id, at: data.hub.adoptedAt } : undefined, code: data.join?.code, queued: data.entries.length };
}

/** The satellite's side: identity, adoption and outbox. */
export class SatelliteLinkState {
  readonly #doc: EncryptedDocument<SatelliteLinkData>;
  readonly #blobs: BlobStore;
  /** This run's boot counter (written at open). */
  readonly boot: number;

  private constructor(doc: EncryptedDocument<SatelliteLinkData>, blobs: BlobStore) {
    this.#doc = doc;
    this.#blobs = blobs;
    this.boot = doc.data.boot;
  }

  /**
   * Opens the link state, creating a key pair on first use, and counts this
   * start. `fresh` starts over: a new key pair and join code, no hub, an empty outbox
   * (`vigil satellite join` run again).
   */
  static async open(vault: Vault, options: { fresh?: { code: string; salt: Uint8Array; now: number } } = {}): Promise<SatelliteLinkState> {
    const doc = await EncryptedDocument.open(vault, satelliteSpec(await newKeyPair()));
    const blobs = new BlobStore(vault);
    if (options.fresh) {
      const { code, salt, now } = options.fresh;
      const old = doc.data.entries.flatMap((e) => (e.photo ? [e.photo] : []));
      const keys = await newKeyPair();
      await doc.update((d) => {
        d.keys = encodeKeys(keys);
        d.join = { code, salt: toBase64(salt), createdAt: now };
        d.hub = null;
        d.hubBoot = 0;
        d.nextSeq = 1;
        d.entries = [];
      });
      await Promise.all(old.map((name) => blobs.delete(name)));
    }
    await doc.update((d) => void (d.boot += 1));
    const state = new SatelliteLinkState(doc, blobs);
    await state.#removeOrphanPhotos();
    return state;
  }

  identity(): SatelliteIdentity {
    const d = this.#doc.data;
    return {
      keys: decodeKeys(d.keys),
      join: d.join ? { code: d.join.code, salt: fromBase64(d.join.salt), createdAt: d.join.createdAt } : null,
      hub: d.hub ? { id: d.hub.id, key: fromBase64(d.hub.key), session: decodeSession(d.hub.session), adoptedAt: d.hub.adoptedAt } : null,
    };
  }

  /** The hub adopted this satellite: its key and the session keys are kept, the join code is spent. */
  adopted(hub: { id: string; key: Uint8Array; session: SessionKeys; at: number }): Promise<void> {
    return this.#doc.update((d) => {
      d.hub = { id: hub.id, key: toBase64(hub.key), session: encodeSession(hub.session), adoptedAt: hub.at };
      d.join = null;
    });
  }

  hubBoot(): number {
    return this.#doc.data.hubBoot;
  }

  noteHubBoot(boot: number): Promise<void> {
    return this.#doc.update((d) => void (d.hubBoot = Math.max(d.hubBoot, boot)));
  }

  /** Keeps an event for the hub (its picture first, then the entry); resolves once both are on disk. */
  async append(event: WireEvent, createdAt: number, jpeg?: Buffer): Promise<SatelliteOutboxEntry> {
    const photo = jpeg ? `${PHOTO_PREFIX}${randomBytes(8).toString("hex")}` : undefined;
    if (photo && jpeg) await this.#blobs.put(photo, jpeg);
    try {
      return await this.#doc.update((d) => {
        const entry: SatelliteOutboxEntry = { seq: d.nextSeq, createdAt, event, ...(photo ? { photo } : {}) };
        d.nextSeq += 1;
        d.entries.push(entry);
        return entry;
      });
    } catch (error) {
      if (photo) await this.#blobs.delete(photo);
      throw error;
    }
  }

  /** Entries not yet acked, oldest first. */
  pending(): readonly SatelliteOutboxEntry[] {
    return this.#doc.data.entries;
  }

  async photo(entry: SatelliteOutboxEntry): Promise<Buffer | undefined> {
    return entry.photo ? this.#blobs.get(entry.photo).catch(() => undefined) : undefined;
  }

  /** The hub processed everything up to `upTo`: those entries and their pictures go. Returns how many left. */
  async ack(upTo: number): Promise<number> {
    const gone = this.#doc.data.entries.filter((e) => e.seq <= upTo);
    if (gone.length === 0) return 0;
    await this.#doc.update((d) => void (d.entries = d.entries.filter((e) => e.seq > upTo)));
    await Promise.all(gone.flatMap((e) => (e.photo ? [this.#blobs.delete(e.photo)] : [])));
    return gone.length;
  }

  flush(): Promise<void> {
    return this.#doc.flush();
  }

  async #removeOrphanPhotos(): Promise<void> {
    const used = new Set(this.#doc.data.entries.flatMap((e) => (e.photo ? [e.photo] : [])));
    const names = await this.#blobs.list();
    await Promise.all(names.filter((n) => n.startsWith(PHOTO_PREFIX) && !used.has(n)).map((n) => this.#blobs.delete(n)));
  }
}

// --- the hub's side -------------------------------------------------------------

const AdoptedSchema = v.object({
  id: v.string(),
  site: v.string(),
  key: v.string(),
  session: SessionSchema,
  adoptedAt: v.number(),
  adoptedBy: v.optional(v.string()),
  /** The number of the last reliable message processed. */
  last: v.number(),
  /** Its newest boot heard of. */
  peerBoot: v.optional(v.number(), 0),
  version: v.optional(v.string()),
  /** Its cameras as last heard (names, streams without credentials, settings). */
  cameras: v.optional(v.array(PublicCameraSchema), () => []),
});

const OwedClipSchema = v.object({ satelliteId: v.string(), alertId: v.string(), cameraId: v.string(), cameraName: v.string(), since: v.number() });

const HubLinkSchema = v.object({
  version: v.literal(1),
  id: v.string(),
  keys: KeyPairSchema,
  boot: v.number(),
  satellites: v.array(AdoptedSchema),
  /** Clips a satellite said are ready that the hub has not fetched yet. */
  clips: v.array(OwedClipSchema),
});
type HubLinkData = v.InferOutput<typeof HubLinkSchema>;
export type OwedClip = v.InferOutput<typeof OwedClipSchema>;

export const HUB_LINK_FILE = "satellites.db";

export interface AdoptedSatellite {
  id: string;
  site: string;
  key: Uint8Array;
  session: SessionKeys;
  adoptedAt: number;
  adoptedBy?: string | undefined;
  last: number;
  peerBoot: number;
  version?: string | undefined;
  cameras: readonly PublicCamera[];
}

function toAdopted(s: v.InferOutput<typeof AdoptedSchema>): AdoptedSatellite {
  return { ...s, key: fromBase64(s.key), session: decodeSession(s.session) };
}

/** The hub's side: its identity and the satellites it adopted. */
export class HubLinkState {
  readonly #doc: EncryptedDocument<HubLinkData>;
  readonly boot: number;

  private constructor(doc: EncryptedDocument<HubLinkData>) {
    this.#doc = doc;
    this.boot = doc.data.boot;
  }

  static async open(vault: Vault): Promise<HubLinkState> {
    const keys = await newKeyPair();
    const spec: DocumentSpec<HubLinkData> = {
      file: HUB_LINK_FILE,
      version: 1,
      schema: HubLinkSchema,
      empty: () => ({ version: 1, id: randomBytes(6).toString("hex"), keys: encodeKeys(keys), boot: 0, satellites: [], clips: [] }),
    };
    const doc = await EncryptedDocument.open(vault, spec);
    await doc.update((d) => void (d.boot += 1));
    return new HubLinkState(doc);
  }

  get id(): string {
    return this.#doc.data.id;
  }

  keys(): KeyPair {
    return decodeKeys(this.#doc.data.keys);
  }

  satellites(): AdoptedSatellite[] {
    return this.#doc.data.satellites.map(toAdopted);
  }

  satellite(id: string): AdoptedSatellite | undefined {
    const found = this.#doc.data.satellites.find((s) => s.id === id);
    return found ? toAdopted(found) : undefined;
  }

  /** Adopts (or adopts again, after a new join) a satellite; starts its numbering over. */
  adopt(satellite: { id: string; site: string; key: Uint8Array; session: SessionKeys; at: number; by?: string; version?: string }): Promise<void> {
    return this.#doc.update((d) => {
      d.satellites = d.satellites.filter((s) => s.id !== satellite.id);
      d.satellites.push({ id: satellite.id, site: satellite.site, key: toBase64(satellite.key), session: encodeSession(satellite.session), adoptedAt: satellite.at, ...(satellite.by ? { adoptedBy: satellite.by } : {}), last: 0, peerBoot: 0, ...(satellite.version ? { version: satellite.version } : {}), cameras: [] });
    });
  }

  remove(id: string): Promise<void> {
    return this.#doc.update((d) => {
      d.satellites = d.satellites.filter((s) => s.id !== id);
      d.clips = d.clips.filter((c) => c.satelliteId !== id);
    });
  }

  /** Reliable message `seq` was processed (with whatever it changed, e.g. a clip now owed). */
  processed(id: string, seq: number, owe?: OwedClip): Promise<void> {
    return this.#doc.update((d) => {
      const s = d.satellites.find((x) => x.id === id);
      if (s) s.last = Math.max(s.last, seq);
      if (owe && !d.clips.some((c) => c.alertId === owe.alertId)) d.clips.push(owe);
    });
  }

  /** Keeps what a heartbeat or a reply said, when it changed. */
  async heard(id: string, facts: { peerBoot?: number; version?: string; cameras?: readonly PublicCamera[] }): Promise<void> {
    const s = this.#doc.data.satellites.find((x) => x.id === id);
    if (!s) return;
    const changed = (facts.peerBoot !== undefined && facts.peerBoot > s.peerBoot) || (facts.version !== undefined && facts.version !== s.version) || (facts.cameras !== undefined && JSON.stringify(facts.cameras) !== JSON.stringify(s.cameras));
    if (!changed) return;
    await this.#doc.update((d) => {
      const x = d.satellites.find((y) => y.id === id);
      if (!x) return;
      if (facts.peerBoot !== undefined) x.peerBoot = Math.max(x.peerBoot, facts.peerBoot);
      if (facts.version !== undefined) x.version = facts.version;
      if (facts.cameras !== undefined) x.cameras = structuredClone([...facts.cameras]);
    });
  }

  owedClips(): readonly OwedClip[] {
    return this.#doc.data.clips;
  }

  clipDone(alertId: string): Promise<void> {
    return this.#doc.update((d) => void (d.clips = d.clips.filter((c) => c.alertId !== alertId)));
  }

  flush(): Promise<void> {
    return this.#doc.flush();
  }
}
