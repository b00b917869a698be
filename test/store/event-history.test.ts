import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CorruptStoreError, InputError } from "../../src/errors.js";
import { EventHistory } from "../../src/store/event-history.js";
import { createStore, openStore, rekey, type Store } from "../../src/store/index.js";
import { makeAlert } from "../support/alerts.js";
import { footage } from "../support/rtsp-server.js";
import { filesContainingBytes, jpegStart, tempDir } from "../support/tmp.js";
import { jpegFrame, mp4Cut, probeVideo } from "../support/video.js";

const PASS = "correct horse battery";

async function newStore(): Promise<Store> {
  return createStore({ dataDir: path.join(await tempDir(), "data"), unlock: { passphrase: PASS }, kdfProfile: "interactive", token: "" });
}

describe("event history", () => {
  let person: Buffer;
  let clip: Buffer;
  beforeAll(async () => {
    person = await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25);
    clip = await mp4Cut(footage("wallflower_wavingtrees_10fps.mp4"), 20, 6);
  });

  it("keeps every visit with its snapshot, clip, end and counts, encrypted, and gives them back after a restart", async () => {
    const store = await newStore();
    const history = await EventHistory.open(store.vault);
    const alert = makeAlert({ cameraId: "c1", cameraName: "garden", at: Date.parse("2024-05-01T10:00:00Z"), snapshot: person, score: 0.93 });
    await history.record(alert);
    await history.record(alert); // the same alert twice is one event
    await history.attachClip([alert.id], clip, { durationSeconds: 6, width: 160, height: 120 });
    expect(history.get(alert.id)!.endedAt).toBeUndefined(); // the visit goes on
    await history.endVisit(alert.id, { endedAt: alert.at + 2000, counts: { person: 2 } });

    const reopened = await EventHistory.open((await openStore(store.vault.dataDir, { passphrase: PASS })).vault);
    expect(reopened.entries()).toHaveLength(1);
    expect(reopened.get(alert.id)).toMatchObject({ cameraName: "garden", label: "person", score: 0.93, box: [40, 30, 120, 110], at: alert.at, startedAt: alert.startedAt, endedAt: alert.at + 2000, counts: { person: 2 }, clip: { durationSeconds: 6 } });
    expect((await reopened.snapshot(alert.id)).equals(person)).toBe(true);
    expect((await reopened.clip(alert.id)).equals(clip)).toBe(true);
    expect(await filesContainingBytes(store.vault.dataDir, jpegStart(person))).toEqual([]);
    expect(await filesContainingBytes(store.vault.dataDir, Buffer.from("ftyp"))).toEqual([]);
    expect(await filesContainingBytes(store.vault.dataDir, Buffer.from("garden"))).toEqual([]);
  });

  it("lists newest first and by time range", async () => {
    const history = await EventHistory.open((await newStore()).vault);
    const t0 = Date.parse("2024-05-01T00:00:00Z");
    const ids: string[] = [];
    for (const h of [3, 1, 2]) {
      const alert = makeAlert({ cameraId: "c1", at: t0 + h * 3600_000, snapshot: person });
      ids[h] = alert.id;
      await history.record(alert);
    }
    expect(history.recent(2).map((e) => e.id)).toEqual([ids[3], ids[2]]);
    expect(history.between(t0 + 1.5 * 3600_000).map((e) => e.id)).toEqual([ids[2], ids[3]]);
  });

  it("says in one sentence that a damaged or truncated picture cannot be shown, and the rest still reads", async () => {
    const history = await EventHistory.open((await newStore()).vault);
    const good = makeAlert({ cameraId: "c1", at: 1000, snapshot: person });
    const flipped = makeAlert({ cameraId: "c1", at: 2000, snapshot: person });
    const cut = makeAlert({ cameraId: "c1", at: 3000, snapshot: person });
    for (const a of [good, flipped, cut]) await history.record(a);
    await history.attachClip([cut.id], clip, { durationSeconds: 6, width: 160, height: 120 });

    const flippedFile = history.blobs.path(history.get(flipped.id)!.snapshot.blob);
    const bytes = await fs.readFile(flippedFile);
    bytes[100]! ^= 0x01;
    await fs.writeFile(flippedFile, bytes);
    const clipFile = history.blobs.path(history.get(cut.id)!.clip!.blob);
    // Cut right after the first 64 KiB chunk (magic, header, chunk + tag): every byte left is authentic.
    expect(clip.length).toBeGreaterThan(65_536);
    await fs.truncate(clipFile, 4 + 24 + 65_536 + 17);

    await expect(history.snapshot(flipped.id)).rejects.toThrow(CorruptStoreError);
    await expect(history.snapshot(flipped.id)).rejects.toThrow(/^The media file ev-[0-9a-f]+-s\.vgb is damaged \(it does not decrypt\); it cannot be shown\.$/);
    await expect(history.clip(cut.id)).rejects.toThrow(/is damaged \(it is truncated\); it cannot be shown\.$/);
    expect((await history.snapshot(good.id)).equals(person)).toBe(true);
    await expect(history.clip(good.id)).rejects.toThrow(InputError);
    await expect(history.snapshot("no-such-event")).rejects.toThrow("That event is no longer in the history (retention may have removed it).");
  });

  it("removes events and their files; a clip shared by two alerts goes with the last of them", async () => {
    const history = await EventHistory.open((await newStore()).vault);
    const a = makeAlert({ cameraId: "c1", at: 1000, snapshot: person });
    const b = makeAlert({ cameraId: "c1", at: 2000, snapshot: person });
    await history.record(a);
    await history.record(b);
    const { blob } = await history.attachClip([a.id, b.id], clip, { durationSeconds: 6, width: 160, height: 120 });
    const freedFirst = await history.remove([a.id]);
    expect(await history.blobs.has(blob)).toBe(true);
    expect((await history.clip(b.id)).equals(clip)).toBe(true);
    const freedSecond = await history.remove([b.id]);
    expect(await history.blobs.has(blob)).toBe(false);
    expect(await history.blobs.list()).toEqual([]);
    expect(freedFirst + freedSecond).toBeGreaterThan(clip.length + 2 * person.length);
  });

  it("is rekeyed with the store: clips still play under the new passphrase", async () => {
    const store = await newStore();
    const history = await EventHistory.open(store.vault);
    const alert = makeAlert({ cameraId: "c1", at: 1000, snapshot: person });
    await history.record(alert);
    await history.attachClip([alert.id], clip, { durationSeconds: 6, width: 160, height: 120 });
    await rekey({ dataDir: store.vault.dataDir, from: { passphrase: PASS }, to: { passphrase: "a new passphrase" }, kdfProfile: "interactive" });
    const after = await EventHistory.open((await openStore(store.vault.dataDir, { passphrase: "a new passphrase" })).vault);
    expect((await probeVideo(await after.clip(alert.id))).codec).toBe("h264");
  });
});
