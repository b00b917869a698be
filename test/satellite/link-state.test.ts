/**
 * What each side of the satellite link keeps on disk, on real encrypted files:
 * the satellite's outbox survives a restart with its pictures, leaves only on
 * the hub's ack, and holds nothing in clear; each start counts; the hub keeps
 * the last event processed per satellite and the clips it still owes itself.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HubLinkState, SatelliteLinkState } from "../../src/satellite/link-state.js";
import type { WireEvent } from "../../src/satellite/protocol.js";
import { newKeyPair, newSalt, sessionKeys } from "../../src/satellite/sealing.js";
import { createVault } from "../../src/store/vault.js";
import { filesContaining, filesContainingBytes, tempDir } from "../support/tmp.js";

const alert = (id: string): WireEvent => ({ type: "alert", id, cameraId: "cam1", cameraName: "driveway", at: 1000, startedAt: 900, label: "person", score: 0.9, box: [1, 2, 3, 4], objects: [], frameWidth: 640, frameHeight: 360, motionOnly: false, mode: "away" });

describe("the satellite's outbox", () => {
  it("keeps events and their pictures across a restart, encrypted, until the hub acks them", async () => {
    const dir = path.join(await tempDir(), "data");
    const vault = await createVault({ dataDir: dir, unlock: { passphrase: "satellite pass" }, kdfProfile: "interactive" });
    const state = await SatelliteLinkState.open(vault, { fresh: { code: "abcde-fghjk", salt: await newSalt(), now: 1 } });
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.from("a very recognisable picture of a person")]);
    await state.append(alert("first-alert"), 10, jpeg);
    await state.append({ type: "camera-online", cameraId: "cam1", cameraName: "driveway", at: 11, downtimeMs: 5 }, 11);
    await state.flush();
    expect(await filesContaining(dir, "driveway")).toEqual([]);
    expect(await filesContainingBytes(dir, jpeg.subarray(2))).toEqual([]);
    expect(await filesContaining(dir, "abcde")).toEqual([]);

    const again = await SatelliteLinkState.open(vault);
    expect(again.boot).toBe(state.boot + 1);
    expect(again.identity().join?.code).toBe("abcde-fghjk");
    expect(again.pending().map((e) => [e.seq, e.event.type])).toEqual([[1, "alert"], [2, "camera-online"]]);
    expect(await again.photo(again.pending()[0]!)).toEqual(jpeg);
    const hub = await newKeyPair();
    await again.adopted({ id: "feedfeedfeed", key: hub.publicKey, session: await sessionKeys("satellite", again.identity().keys, hub.publicKey), at: 5 });
    expect(again.identity().join).toBeNull();
    expect(await again.ack(1)).toBe(1);
    expect(again.pending().map((e) => e.seq)).toEqual([2]);
    expect((await fs.readdir(path.join(dir, "media"))).filter((n) => n.startsWith("satout-"))).toEqual([]);
    await again.append(alert("second-alert"), 12);
    expect(again.pending().map((e) => e.seq)).toEqual([2, 3]);
  });
});

describe("the hub's record of its satellites", () => {
  it("keeps what was processed and the clips owed, across a restart", async () => {
    const dir = path.join(await tempDir(), "data");
    const vault = await createVault({ dataDir: dir, unlock: { passphrase: "hub passphrase" }, kdfProfile: "interactive" });
    const state = await HubLinkState.open(vault);
    const sat = await newKeyPair();
    await state.adopt({ id: "0123456789ab", site: "garage", key: sat.publicKey, session: await sessionKeys("hub", state.keys(), sat.publicKey), at: 1, by: "Alice" });
    await state.processed("0123456789ab", 1);
    await state.processed("0123456789ab", 2, { satelliteId: "0123456789ab", alertId: "a1", cameraId: "x", cameraName: "garage/yard", since: 5 });
    await state.heard("0123456789ab", { peerBoot: 4, version: "0.1.0", cameras: [{ id: "c1", name: "yard", url: "rtsp://cam/x", armed: true, mutedUntil: null, settings: {} }] });
    await state.flush();
    const again = await HubLinkState.open(vault);
    expect(again.id).toBe(state.id);
    expect(again.boot).toBe(state.boot + 1);
    expect(again.satellite("0123456789ab")).toMatchObject({ site: "garage", last: 2, peerBoot: 4, version: "0.1.0", adoptedBy: "Alice" });
    expect(again.satellite("0123456789ab")?.cameras.map((c) => c.name)).toEqual(["yard"]);
    expect(again.owedClips().map((c) => c.alertId)).toEqual(["a1"]);
    await again.clipDone("a1");
    await again.remove("0123456789ab");
    expect(again.satellites()).toEqual([]);
    expect(await filesContaining(dir, "garage")).toEqual([]);
  });
});
