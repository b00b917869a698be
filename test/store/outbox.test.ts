import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BlobStore, createStore, openStore } from "../../src/store/index.js";
import { Outbox, type NewAlert } from "../../src/store/outbox.js";
import { jpegFrame } from "../support/video.js";
import { footage } from "../support/rtsp-server.js";
import { runInSmallFilesystem } from "../support/small-fs.js";
import { filesContaining, tempDir } from "../support/tmp.js";

const PASS = "outbox passphrase";
const GROUP = { id: -1001234, threadId: 7 };
const OTHER = { id: 42 };

let frame: Buffer;
beforeAll(async () => {
  frame = await jpegFrame(footage("wallflower_wavingtrees_10fps.mp4"), 25);
});

async function newVault() {
  const dir = path.join(await tempDir(), "data");
  const store = await createStore({ dataDir: dir, unlock: { passphrase: PASS }, kdfProfile: "interactive", token: "7000001:AAF-outbox-test-token-aaaaaaaaaaaaaaaaaaa" });
  return { dir, vault: store.vault };
}

function alert(n: number, cameraId = "cam1id", cameraName = "front_door"): NewAlert {
  return { alertId: `alert-${n}`, cameraId, cameraName, label: "person", score: 0.9, at: 1_700_000_000_000 + n * 1000, motionOnly: false, jpeg: frame };
}

describe("persistent outbox", () => {
  it("keeps entries across a reopen, in the order they were queued, encrypted on disk", async () => {
    const { dir, vault } = await newVault();
    const outbox = await Outbox.open(vault);
    // Started together: the photo writes may finish in any order, the entries must not.
    await Promise.all([outbox.enqueueAlert([GROUP, OTHER], alert(1)), outbox.enqueueNotice([GROUP], "front_door is offline: connection refused."), outbox.enqueueAlert([GROUP], alert(2, "cam2id", "back_yard"))]);

    const again = await Outbox.open((await openStore(dir, { passphrase: PASS })).vault);
    const group = again.pending(GROUP.id);
    expect(group.map((e) => (e.payload.type === "notice" ? e.payload.text : e.payload.alertId))).toEqual(["alert-1", "front_door is offline: connection refused.", "alert-2"]);
    expect(group.map((e) => e.seq)).toEqual([...group.map((e) => e.seq)].sort((a, b) => a - b));
    expect(group.every((e) => e.threadId === 7)).toBe(true);
    expect(again.pending(OTHER.id)).toHaveLength(1);
    expect(again.chatsWithPending().sort()).toEqual([GROUP.id, OTHER.id].sort());
    // One photo per alert, shared by its chats, and it decrypts to the same bytes.
    expect((await again.photo(group[0]!))?.equals(frame)).toBe(true);
    expect((await new BlobStore(vault).list()).length).toBe(2);
    expect(await filesContaining(dir, "front_door")).toEqual([]);
    expect(await filesContaining(dir, "connection refused")).toEqual([]);
    const jpegHead = frame.subarray(0, 64).toString("latin1");
    for (const file of await fs.readdir(path.join(dir, "media"))) expect((await fs.readFile(path.join(dir, "media", file))).toString("latin1")).not.toContain(jpegHead);
  });

  it("records a delivery and removes what was delivered in one write; a photo goes when nothing refers to it", async () => {
    const { vault } = await newVault();
    const outbox = await Outbox.open(vault);
    const [a1group, a1other] = await outbox.enqueueAlert([GROUP, OTHER], alert(1));
    const [a2] = await outbox.enqueueAlert([GROUP], alert(2));
    const blobs = new BlobStore(vault);
    expect((await blobs.list()).length).toBe(2);

    await outbox.complete([a1group!.seq, a2!.seq], { chatId: GROUP.id, messageId: 55 });
    expect(outbox.pending(GROUP.id)).toEqual([]);
    expect(outbox.deliveries("alert-1")).toMatchObject([{ chatId: GROUP.id, messageId: 55 }]);
    expect(outbox.deliveries("alert-2")).toMatchObject([{ chatId: GROUP.id, messageId: 55, coalescedInto: "alert-1" }]);
    // alert-1's photo is still owed to the other chat; alert-2's is gone.
    expect((await blobs.list()).length).toBe(1);
    await outbox.complete([a1other!.seq], { chatId: OTHER.id, messageId: 9 });
    expect(await blobs.list()).toEqual([]);
    expect(outbox.deliveries("alert-1")).toHaveLength(2);
  });

  it("removes photos left behind by a crash between writing a photo and its entry", async () => {
    const { dir, vault } = await newVault();
    const outbox = await Outbox.open(vault);
    await outbox.enqueueAlert([GROUP], alert(1));
    const blobs = new BlobStore(vault);
    await blobs.put("outbox-deadbeefdeadbeef", frame);
    await blobs.put("clip-unrelated", frame); // not the outbox's: left alone
    const reopened = await Outbox.open((await openStore(dir, { passphrase: PASS })).vault);
    expect(await blobs.has("clip-unrelated")).toBe(true);
    expect(await blobs.has("outbox-deadbeefdeadbeef")).toBe(false);
    expect((await blobs.list()).length).toBe(2);
    expect((await reopened.photo(reopened.pending(GROUP.id)[0]!))?.equals(frame)).toBe(true);
  });

  it("stops keeping photos for a camera whose backlog will be folded into one message anyway", async () => {
    const { vault } = await newVault();
    const outbox = await Outbox.open(vault, { maxPhotosPerCamera: 3 });
    for (let i = 1; i <= 5; i++) await outbox.enqueueAlert([GROUP], alert(i));
    await outbox.enqueueAlert([GROUP], alert(6, "cam2id", "back_yard"));
    const photos = outbox.pending(GROUP.id).map((e) => (e.payload.type === "alert" ? e.payload.photo : "notice"));
    expect(photos.slice(0, 3).every((p) => typeof p === "string")).toBe(true);
    expect(photos.slice(3, 5)).toEqual([null, null]);
    expect(typeof photos[5]).toBe("string");
  });

  it("keeps alerts in memory while the disk takes no writes (a real full filesystem), sends them, and writes them when it does again", async () => {
    const jpegFile = path.join(await tempDir(), "frame.jpg");
    await fs.writeFile(jpegFile, frame);
    const { code, result, stderr } = await runInSmallFilesystem<Record<string, unknown>>(2 * 1024 * 1024, "test/store/fixtures/outbox-disk-full.ts", [jpegFile]);
    expect(code, stderr).toBe(0);
    expect(result.fill).toBe("ENOSPC");
    // Nothing was refused: the sender sees all three, with the photo, though none is on disk.
    expect(result.whileFull).toEqual({ pending: 3, unsaved: 3, photo: true });
    expect(result.onDiskWhileFull).toBe(0);
    expect(result.completeWhileFull).toBe("ENOSPC");
    expect(result.after).toEqual({ pending: 4, unsaved: 0 });
    expect(result.reopened).toEqual(["alert-1", "notice", "alert-2", "alert-3"]);
    expect(result.seqsInOrder).toBe(true);
    expect(result.photos).toEqual([true, true, true]);
    expect(result.jpegInClear).toBe(0);
  });

  it("announces a camera offline once and back online only after that, across a restart", async () => {
    const { dir, vault } = await newVault();
    const outbox = await Outbox.open(vault);
    const texts = () => outbox.pending(GROUP.id).map((e) => (e.payload.type === "notice" ? e.payload.text : ""));
    expect(await outbox.enqueueCameraNotice([GROUP], "cam1id", null, "front_door is back online.")).toEqual([]);
    expect(await outbox.enqueueCameraNotice([GROUP], "cam1id", { since: 1000 }, "front_door is offline: the stream ended.")).toHaveLength(1);
    expect(await outbox.enqueueCameraNotice([GROUP], "cam1id", { since: 2000 }, "front_door is offline: no picture for 60 s.")).toEqual([]);
    // Restarted while the camera is still down: the new run reports it again, the chat hears nothing new.
    const again = await Outbox.open((await openStore(dir, { passphrase: PASS })).vault);
    expect(again.offlineCameras()).toEqual(new Map([["cam1id", 1000]]));
    expect(await again.enqueueCameraNotice([GROUP], "cam1id", { since: 5000 }, "front_door is offline: the stream ended.")).toEqual([]);
    expect(await again.enqueueCameraNotice([GROUP], "cam1id", null, "front_door is back online after 2 min offline.", { silent: true })).toHaveLength(1);
    expect(again.pending(GROUP.id).map((e) => (e.payload.type === "notice" ? e.payload.text : ""))).toEqual(["front_door is offline: the stream ended.", "front_door is back online after 2 min offline."]);
    expect(again.offlineCameras().size).toBe(0);
    expect(texts()).toEqual(["front_door is offline: the stream ended."]);
  });

  it("follows a group that became a supergroup", async () => {
    const { vault } = await newVault();
    const outbox = await Outbox.open(vault);
    await outbox.enqueueNotice([GROUP], "hello");
    await outbox.retarget(GROUP.id, -1009999);
    expect(outbox.pending(GROUP.id)).toEqual([]);
    expect(outbox.pending(-1009999)).toHaveLength(1);
  });
});
