import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BlobStore, createKeyFile, createStore, openStore, rekey, restoreFromBackups, recoverInterruptedRekey } from "../../src/store/index.js";
import { CorruptStoreError, DecryptError, ConfigError, StoreExistsError, InputError } from "../../src/errors.js";
import { openVault } from "../../src/store/vault.js";
import { readDocumentFile, writeDocumentFile, type DocumentSpec } from "../../src/store/document.js";
import { storeSpec } from "../../src/store/schema.js";
import { filesContaining, tempDir } from "../support/tmp.js";

const TOKEN = "7000001:AAF-test-token-aaaaaaaaaaaaaaaaaaaaaaaaa";
const PASS = "correct horse battery";

async function newStore(dir: string, passphrase = PASS) {
  return createStore({ dataDir: dir, unlock: { passphrase }, kdfProfile: "interactive", token: TOKEN });
}

async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await fs.readdir(dir)) {
    const stat = await fs.stat(path.join(dir, name));
    if (stat.isFile()) out[name] = (await fs.readFile(path.join(dir, name))).toString("base64");
  }
  return out;
}

describe("encrypted store", () => {
  it("round-trips cameras, chats, admins, the mode and schedules through an encrypted file", async () => {
    const dir = path.join(await tempDir(), "data");
    const store = await newStore(dir);
    await store.addCamera({ name: "front_door", url: "rtsp://192.168.1.20:554/sub", username: "admin", password: "s3cret-pw!" });
    await store.updateSettings("front_door", { sensitivity: 5000 });
    await store.addChat({ id: -1001, threadId: 7 });
    await store.addAdmin({ id: 42, username: "alice" });
    await store.setModeState({ mode: "night", at: 1_770_000_000_000, by: { kind: "schedule", scheduleId: "s1", edge: "start" }, resume: "home" });
    await store.addSchedule({ id: "s1", mode: "night", days: [0, 1, 2, 3, 4, 5, 6], start: 23 * 60, end: 7 * 60, createdAt: 1_760_000_000_000 });
    await store.setExitDelay(45);
    await store.setQuietHours({ days: [5, 6], start: 22 * 60, end: 9 * 60 });
    await store.updateSettings("front_door", { modes: ["away"] });

    const again = await openStore(dir, { passphrase: PASS });
    expect(again.token()).toBe(TOKEN);
    expect(again.isArmed()).toBe(true);
    expect(again.modeState()).toEqual({ mode: "night", at: 1_770_000_000_000, by: { kind: "schedule", scheduleId: "s1", edge: "start" }, resume: "home" });
    expect(again.schedules()).toEqual([{ id: "s1", mode: "night", days: [0, 1, 2, 3, 4, 5, 6], start: 1380, end: 420, createdAt: 1_760_000_000_000 }]);
    expect(again.exitDelay()).toBe(45);
    expect(again.quietHours()).toEqual({ days: [5, 6], start: 1320, end: 540 });
    expect(again.requireCamera("front_door").settings.modes).toEqual(["away"]);
    expect(again.chats()).toEqual([{ id: -1001, threadId: 7 }]);
    expect(again.isAdmin(42)).toBe(true);
    const cam = again.requireCamera("FRONT_DOOR");
    expect(cam.password).toBe("s3cret-pw!");
    expect(cam.settings.sensitivity).toBe(5000);
    expect(cam.settings.classes).toEqual(["person"]);
    expect(await filesContaining(dir, TOKEN)).toEqual([]);
    expect(await filesContaining(dir, "s3cret-pw!")).toEqual([]);
    expect(await filesContaining(dir, "front_door")).toEqual([]);
    const mode = (await fs.stat(dir)).mode & 0o777;
    expect(mode).toBe(0o700);
  });

  it("migrates a store from before visits: the old default timeout becomes the new one, others stay within bounds", async () => {
    const dir = path.join(await tempDir(), "data");
    const store = await newStore(dir);
    for (const name of ["a", "b", "c", "d"]) await store.addCamera({ name, url: "rtsp://192.168.1.20:554/sub" });
    await store.flush();
    // Written as a version-1 Vigil left it: `timeout` was the quiet time after an alert, 0 s to a day.
    const vault = await openVault(dir, { passphrase: PASS });
    const spec = { ...storeSpec(), version: 1 } as unknown as DocumentSpec<{ version: number }>;
    const current = (await readDocumentFile(vault, storeSpec()))!;
    const old = { ...current, version: 1, cameras: current.cameras.map((c, i) => ({ ...c, settings: { ...c.settings, timeout: [15, 60, 0, 86_400][i] } })) };
    await writeDocumentFile(vault, spec, old as unknown as { version: number });

    const migrated = await openStore(dir, { passphrase: PASS });
    expect(migrated.cameras().map((c) => c.settings.timeout)).toEqual([5, 60, 1, 120]);
    expect(migrated.cameras().map((c) => c.name)).toEqual(["a", "b", "c", "d"]);
    // Written back in the new format: a second open reads the same.
    expect((await openStore(dir, { passphrase: PASS })).cameras().map((c) => c.settings.timeout)).toEqual([5, 60, 1, 120]);
  });

  it("migrates a store from before modes: armed becomes away, disarmed becomes off, and every camera alerts in every armed mode", async () => {
    for (const armed of [true, false]) {
      const dir = path.join(await tempDir(), "data");
      const store = await newStore(dir);
      await store.addCamera({ name: "yard", url: "rtsp://192.168.1.20:554/sub" });
      await store.flush();
      // Written as a version-2 Vigil left it: one arm switch for the system, no modes on the cameras.
      const vault = await openVault(dir, { passphrase: PASS });
      const current = (await readDocumentFile(vault, storeSpec()))!;
      const { mode: _mode, schedules: _s, exitDelay: _e, quietHours: _q, ...rest } = current;
      const old = { ...rest, version: 2, armed, cameras: current.cameras.map((c) => ({ ...c, settings: Object.fromEntries(Object.entries(c.settings).filter(([k]) => k !== "modes")) })) };
      await writeDocumentFile(vault, { ...storeSpec(), version: 2 }, old as unknown as { version: number });

      const migrated = await openStore(dir, { passphrase: PASS });
      expect(migrated.modeState(), String(armed)).toEqual({ mode: armed ? "away" : "off", at: 0, by: { kind: "setup" } });
      expect(migrated.isArmed()).toBe(armed);
      expect(migrated.requireCamera("yard").settings.modes).toEqual(["home", "away", "night"]);
      expect(migrated.schedules()).toEqual([]);
      expect(migrated.exitDelay()).toBe(0);
      expect(migrated.quietHours()).toBeNull();
      // Written back as version 3: a second open reads the same.
      const written = (await readDocumentFile(await openVault(dir, { passphrase: PASS }), storeSpec()))!;
      expect(written.version).toBe(3);
      expect("armed" in written).toBe(false);
      expect((await openStore(dir, { passphrase: PASS })).modeState().mode).toBe(armed ? "away" : "off");
    }
  });

  it("refuses a wrong passphrase with a clear sentence and leaves every file untouched", async () => {
    const dir = path.join(await tempDir(), "data");
    const store = await newStore(dir);
    await store.addCamera({ name: "cam1", url: "rtsp://10.0.0.2/x" });
    const before = await snapshotDir(dir);
    const error = await openStore(dir, { passphrase: "wrong passphrase" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecryptError);
    expect((error as Error).message).toMatch(/^The passphrase is wrong: .* nothing was changed\.$/);
    expect(await snapshotDir(dir)).toEqual(before);
  });

  it("detects one flipped byte, names the backup and the restore command, and restores", async () => {
    const dir = path.join(await tempDir(), "data");
    const store = await newStore(dir);
    await store.addCamera({ name: "cam1", url: "rtsp://10.0.0.2/x" });
    await store.addCamera({ name: "cam2", url: "rtsp://10.0.0.3/x" });
    const file = path.join(dir, "vigil.db");
    const bytes = await fs.readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await fs.writeFile(file, bytes);

    const error = await openStore(dir, { passphrase: PASS }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptStoreError);
    expect((error as Error).message).toContain("vigil.db.bak");
    expect((error as Error).message).toContain("vigil config restore");

    const report = await restoreFromBackups(dir, { passphrase: PASS });
    expect(report.restored).toEqual(["vigil.db"]);
    const restored = await openStore(dir, { passphrase: PASS });
    // The backup is the previous generation: cam1 only.
    expect(restored.cameras().map((c) => c.name)).toEqual(["cam1"]);
  });

  it("tells a damaged keyring from a wrong passphrase", async () => {
    const dir = path.join(await tempDir(), "data");
    await newStore(dir);
    const file = path.join(dir, "keyring.json");
    const json = JSON.parse(await fs.readFile(file, "utf8")) as { dataKey: string };
    json.dataKey = (json.dataKey[0] === "A" ? "B" : "A") + json.dataKey.slice(1);
    await fs.writeFile(file, JSON.stringify(json));
    const error = await openStore(dir, { passphrase: PASS }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptStoreError);
    await fs.writeFile(file, "{ truncated");
    await expect(openStore(dir, { passphrase: PASS })).rejects.toBeInstanceOf(CorruptStoreError);
  });

  it("detects a truncated store file", async () => {
    const dir = path.join(await tempDir(), "data");
    await newStore(dir);
    const file = path.join(dir, "vigil.db");
    const bytes = await fs.readFile(file);
    await fs.writeFile(file, bytes.subarray(0, bytes.length - 10));
    await expect(openStore(dir, { passphrase: PASS })).rejects.toThrow(/vigil\.db in .* is damaged .*vigil config restore/);
  });

  it("refuses to overwrite an existing store", async () => {
    const dir = path.join(await tempDir(), "data");
    await newStore(dir);
    await expect(newStore(dir)).rejects.toBeInstanceOf(StoreExistsError);
  });

  it("works with a 0600 key file and refuses one other users can read", async () => {
    const root = await tempDir();
    const keyFile = path.join(root, "vigil.key");
    await createKeyFile(keyFile);
    expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
    const dir = path.join(root, "data");
    await createStore({ dataDir: dir, unlock: { keyFile }, token: TOKEN });
    expect((await openStore(dir, { keyFile })).token()).toBe(TOKEN);
    await fs.chmod(keyFile, 0o644);
    await expect(openStore(dir, { keyFile })).rejects.toThrow(/can be read by other users; run `chmod 600/);
    await expect(openStore(dir, { passphrase: PASS })).rejects.toBeInstanceOf(ConfigError);
  });

  it("rejects bad camera names and duplicates without changing anything", async () => {
    const dir = path.join(await tempDir(), "data");
    const store = await newStore(dir);
    await store.addCamera({ name: "cam1", url: "rtsp://10.0.0.2/x" });
    await expect(store.addCamera({ name: "Cam1", url: "rtsp://x/y" })).rejects.toThrow(/already a camera called Cam1/);
    await expect(store.addCamera({ name: "front door", url: "rtsp://x/y" })).rejects.toBeInstanceOf(InputError);
    await expect(store.addCamera({ name: "all", url: "rtsp://x/y" })).rejects.toThrow(/reserved/);
    await expect(store.updateSettings("nope", { sensitivity: 1 })).rejects.toThrow(/no camera called "nope"; the cameras are cam1/);
    expect((await openStore(dir, { passphrase: PASS })).cameras()).toHaveLength(1);
  });
});

describe("media blobs", () => {
  it("round-trips large data, detects truncation and refuses a renamed blob", async () => {
    const dir = path.join(await tempDir(), "data");
    const store = await newStore(dir);
    const blobs = new BlobStore(store.vault);
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    await blobs.put("clip-1", data);
    expect((await blobs.get("clip-1")).equals(data)).toBe(true);
    const src = path.join(dir, "..", "plain.bin");
    await fs.writeFile(src, data);
    await blobs.putFile("clip-2", src);
    expect((await blobs.get("clip-2")).equals(data)).toBe(true);
    await fs.copyFile(blobs.path("clip-1"), blobs.path("clip-3"));
    await expect(blobs.get("clip-3")).rejects.toBeInstanceOf(CorruptStoreError);
    const bytes = await fs.readFile(blobs.path("clip-1"));
    // Cut exactly after the first chunk: every chunk left is authentic, but the FINAL one is missing.
    await fs.writeFile(blobs.path("clip-1"), bytes.subarray(0, 4 + 24 + 65_536 + 17));
    await expect(blobs.get("clip-1")).rejects.toThrow(/damaged \(it is truncated\)/);
    await fs.writeFile(blobs.path("clip-1"), bytes.subarray(0, 70_000));
    await expect(blobs.get("clip-1")).rejects.toThrow(/damaged \(it does not decrypt\)/);
  });
});

describe("rekey", () => {
  it("moves everything to a new passphrase; the old one opens nothing", async () => {
    const dir = path.join(await tempDir(), "data");
    const store = await newStore(dir);
    await store.addCamera({ name: "cam1", url: "rtsp://10.0.0.2/x", password: "pw-1234" });
    await store.addCamera({ name: "cam2", url: "rtsp://10.0.0.3/x" });
    await new BlobStore(store.vault).put("snap-1", Buffer.from("jpeg bytes"));
    const progress: number[] = [];
    await rekey({ dataDir: dir, from: { passphrase: PASS }, to: { passphrase: "a brand new passphrase" }, kdfProfile: "interactive", onProgress: (d) => progress.push(d) });
    expect(progress.length).toBeGreaterThanOrEqual(3);
    await expect(openStore(dir, { passphrase: PASS })).rejects.toBeInstanceOf(DecryptError);
    const again = await openStore(dir, { passphrase: "a brand new passphrase" });
    expect(again.requireCamera("cam1").password).toBe("pw-1234");
    expect((await new BlobStore(again.vault).get("snap-1")).toString()).toBe("jpeg bytes");
    // The backup generation was re-encrypted too, so restore still works.
    expect(await restoreFromBackups(dir, { passphrase: "a brand new passphrase" })).toEqual({ restored: [], unrecoverable: [] });
    expect((await fs.readdir(dir)).filter((n) => n.includes("rekey"))).toEqual([]);
  });

  it("rolls back a rekey interrupted before its commit", async () => {
    const dir = path.join(await tempDir(), "data");
    await newStore(dir);
    await fs.writeFile(path.join(dir, "vigil.db.rekey"), "half-written");
    expect(await recoverInterruptedRekey(dir)).toBe("rolled-back");
    expect((await openStore(dir, { passphrase: PASS })).token()).toBe(TOKEN);
  });

  it("switches from a passphrase to a key file", async () => {
    const root = await tempDir();
    const dir = path.join(root, "data");
    await newStore(dir);
    const keyFile = path.join(root, "k");
    await createKeyFile(keyFile);
    await rekey({ dataDir: dir, from: { passphrase: PASS }, to: { keyFile } });
    expect((await openVault(dir, { keyFile })).method).toBe("key-file");
    expect((await openStore(dir, { keyFile })).token()).toBe(TOKEN);
  });
});
