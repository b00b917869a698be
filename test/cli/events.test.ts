import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EventHistory } from "../../src/store/event-history.js";
import { acquireLock, openStore } from "../../src/store/index.js";
import { makeAlert } from "../support/alerts.js";
import { vigil } from "../support/cli.js";
import { footage } from "../support/rtsp-server.js";
import { filesContainingBytes, jpegStart, tempDir } from "../support/tmp.js";
import { jpegFrame, mp4Cut, probeVideo } from "../support/video.js";

const TOKEN = "7000001:AAF-cli-test-token-bbbbbbbbbbbbbbbbbbbbbbb";
const PASS = "a long passphrase";

describe("vigil events", () => {
  let root: string;
  let env: Record<string, string>;
  let pictures: Buffer[];
  let clips: Buffer[];
  let ids: string[];
  let history: EventHistory;

  beforeAll(async () => {
    root = await tempDir();
    // UTC, so the local times in file names and tables are the ones written here.
    env = { VIGIL_DATA_DIR: path.join(root, "data"), VIGIL_PASSPHRASE: PASS, TZ: "UTC" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: TOKEN })).code).toBe(0);
    // What a running Vigil would have recorded: real snapshots and clips from footage.
    history = await EventHistory.open((await openStore(env.VIGIL_DATA_DIR!, { passphrase: PASS })).vault);
    const vtest = footage("opencv-vtest_480x360_10fps.mp4");
    pictures = await Promise.all([5, 15, 25].map((t) => jpegFrame(vtest, t)));
    clips = await Promise.all([15, 25].map((t) => mp4Cut(vtest, t, 4)));
    const times = ["2024-04-30T23:59:00Z", "2024-05-02T10:00:00Z", "2024-05-03T07:30:15Z"].map(Date.parse);
    ids = [];
    for (const [i, at] of times.entries()) {
      const alert = makeAlert({ cameraId: i === 2 ? "c2" : "c1", cameraName: i === 2 ? "driveway" : "garden", at, label: i === 2 ? "car" : "person", snapshot: pictures[i]! });
      ids.push(alert.id);
      await history.record(alert);
      if (i > 0) await history.attachClip([alert.id], clips[i - 1]!, { durationSeconds: 4, width: 480, height: 360 });
      // The garden visits have ended (the second one saw two people at once); the driveway's goes on.
      if (i < 2) await history.endVisit(alert.id, { endedAt: at + (i === 1 ? 185_000 : 3000), counts: { person: i === 1 ? 2 : 1 } });
    }
  }, 120_000);

  it("exports the chosen events, decrypted, with an index and checksums, and the data dir stays unreadable", async () => {
    const outDir = path.join(root, "for-the-police");
    const result = await vigil(["events", "export", "--since", "2024-05-01", outDir], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toMatch(new RegExp(`^Exported 2 events \\(2 pictures, 2 clips, .* [kM]B\\) to ${outDir}, with index.json and index.csv\\.$`));
    expect(result.stderr).toContain("Exporting: 100%");
    expect((await fs.readdir(outDir)).sort()).toEqual(["2024-05-02_10-00-00_garden_person.jpg", "2024-05-02_10-00-00_garden_person.mp4", "2024-05-03_07-30-15_driveway_car.jpg", "2024-05-03_07-30-15_driveway_car.mp4", "index.csv", "index.json"]);
    expect((await fs.readFile(path.join(outDir, "2024-05-02_10-00-00_garden_person.jpg"))).equals(pictures[1]!)).toBe(true);
    const video = await fs.readFile(path.join(outDir, "2024-05-03_07-30-15_driveway_car.mp4"));
    expect(video.equals(clips[1]!)).toBe(true);
    expect((await probeVideo(video)).codec).toBe("h264");

    const index = JSON.parse(await fs.readFile(path.join(outDir, "index.json"), "utf8")) as { since: string; events: { id: string; camera: string; at: string; snapshot: { file: string; sha256: string } }[] };
    expect(index.since).toBe("2024-05-01T00:00:00.000Z");
    expect(index.events.map((e) => [e.id, e.camera, e.at])).toEqual([
      [ids[1], "garden", "2024-05-02T10:00:00.000Z"],
      [ids[2], "driveway", "2024-05-03T07:30:15.000Z"],
    ]);
    expect(index.events[0]!.snapshot.sha256).toBe(createHash("sha256").update(pictures[1]!).digest("hex"));
    const csv = (await fs.readFile(path.join(outDir, "index.csv"), "utf8")).trim().split("\n");
    expect(csv).toHaveLength(3);
    expect(csv[2]).toMatch(/^2024-05-03 07:30:15,2024-05-03T07:30:15.000Z,driveway,car,0.87,false,/);

    for (const picture of pictures) expect(await filesContainingBytes(env.VIGIL_DATA_DIR!, jpegStart(picture))).toEqual([]);
    expect(await filesContainingBytes(env.VIGIL_DATA_DIR!, Buffer.from("ftyp"))).toEqual([]);
  });

  it("lists events as a table of visits, one camera or all", async () => {
    const all = await vigil(["events", "list", "--since", "2024-01-01"], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^time\s+camera\s+visit\s+score\s+lasted\s+clip\s+id/m);
    const rows = all.stdout.trim().split("\n").filter((r) => /^2024-/.test(r));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^2024-04-30 23:59:00\s+garden\s+person\s+0\.87\s+4 s\s+-\s/);
    expect(rows[1]).toMatch(/^2024-05-02 10:00:00\s+garden\s+2 people\s+0\.87\s+3 min\s+4\.0 s\s/);
    expect(rows[2]).toMatch(/^2024-05-03 07:30:15\s+driveway\s+car\s+0\.87\s+going on\s+4\.0 s\s/);
    const one = await vigil(["events", "list", "--since", "2024-01-01", "--camera", "GARDEN"], env);
    expect(one.stdout.trim().split("\n").filter((r) => /^2024-/.test(r))).toHaveLength(2);
  });

  it("exports everything it can when a clip is damaged, names the damaged one, and exits non-zero", async () => {
    const entry = history.get(ids[1]!)!;
    const file = history.blobs.path(entry.clip!.blob);
    const original = await fs.readFile(file);
    const damaged = Buffer.from(original);
    damaged[damaged.length - 10]! ^= 0xff;
    await fs.writeFile(file, damaged);
    try {
      const outDir = path.join(root, "partial");
      const result = await vigil(["events", "export", "--since", "2024-05-01", outDir], env);
      expect(result.code).toBe(1);
      const problems = result.stderr.split("\n").filter((l) => !l.startsWith("Exporting"));
      expect(problems[0]).toMatch(/^The clip of the event from garden at 2024-05-02 10:00:00 was not exported: The media file ev-[0-9a-f]+-c\.vgb is damaged \(it does not decrypt\); it cannot be shown\.$/);
      expect(problems[1]).toBe("1 file was damaged and could not be exported; everything else was.");
      expect((await fs.readdir(outDir)).sort()).toEqual(["2024-05-02_10-00-00_garden_person.jpg", "2024-05-03_07-30-15_driveway_car.jpg", "2024-05-03_07-30-15_driveway_car.mp4", "index.csv", "index.json"]);
      const index = JSON.parse(await fs.readFile(path.join(outDir, "index.json"), "utf8")) as { events: { clip?: { error?: string } }[] };
      expect(index.events[0]!.clip?.error).toMatch(/is damaged/);
    } finally {
      await fs.writeFile(file, original);
    }
  });

  it("says when nothing matches, and refuses in one sentence each a folder inside the data directory, one that is not empty and a date it cannot read", async () => {
    const nothing = await vigil(["events", "export", "--since", "7d", path.join(root, "nothing")], env);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout.trim()).toMatch(/^No events since .*; nothing was exported\.$/);
    await expect(fs.stat(path.join(root, "nothing"))).rejects.toThrow();

    const inside = await vigil(["events", "export", "--since", "2024-01-01", path.join(env.VIGIL_DATA_DIR!, "media", "out")], env);
    const full = path.join(root, "full");
    await fs.mkdir(full);
    await fs.writeFile(path.join(full, "keep.txt"), "mine");
    const notEmpty = await vigil(["events", "export", "--since", "2024-01-01", full], env);
    const badDate = await vigil(["events", "export", "--since", "last tuesday", path.join(root, "x")], env);
    const missing = await vigil(["events", "export", path.join(root, "y")], env);
    for (const [result, sentence] of [
      [inside, /^Export to a folder outside the data directory \(.*\): decrypted pictures and clips must not sit next to the encrypted store\.$/],
      [notEmpty, /^.*full is not empty; export into a new or empty folder so nothing is overwritten\.$/],
      [badDate, /^--since must be a date like 2024-05-01, a date and time like 2024-05-01T14:30, or a span back from now like 24h or 7d; "last tuesday" is none of these\.$/],
      [missing, /required option '--since <when>' not specified/],
    ] as const) {
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split("\n")[0]).toMatch(sentence);
    }
    expect(await fs.readFile(path.join(full, "keep.txt"), "utf8")).toBe("mine");
    await expect(fs.stat(path.join(env.VIGIL_DATA_DIR!, "media", "out"))).rejects.toThrow();
  });

  it("shows the retention limits and changes them while Vigil is stopped, refusing while it runs", async () => {
    expect((await vigil(["camera", "add", "front_door", "rtsp://10.0.0.1/stream"], env)).code).toBe(0);
    const shown = await vigil(["events", "retention"], env);
    expect(shown.stdout.trim()).toBe("Events are kept 30 days, with no size limit but the free-space floor, and Vigil always leaves 1.0 GB free on the data disk.");
    const changed = await vigil(["events", "retention", "--max-age-days", "14", "--max-size", "20GB", "--min-free", "2.5gb"], env);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout.trim()).toBe("Events are kept 14 days, at most 20.0 GB in all, and Vigil always leaves 2.5 GB free on the data disk.");
    const perCamera = await vigil(["events", "retention", "--camera", "front_door", "--max-size", "500MB"], env);
    expect(perCamera.stdout.trim()).toBe("Events are kept 14 days, at most 20.0 GB in all, front_door at most 500.0 MB, and Vigil always leaves 2.5 GB free on the data disk.");
    expect((await openStore(env.VIGIL_DATA_DIR!, { passphrase: PASS })).retention()).toMatchObject({ maxAgeDays: 14, maxBytes: 20 * 1024 ** 3, minFreeBytes: 2.5 * 1024 ** 3 });

    const bad = await vigil(["events", "retention", "--max-size", "lots"], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe('--max-size must be a size like 500MB or 20GB (0 for no limit); "lots" is not one.');
    // This test process takes the lock, as a running Vigil does.
    const release = await acquireLock(env.VIGIL_DATA_DIR!);
    try {
      const running = await vigil(["events", "retention", "--max-age-days", "3"], env);
      expect(running.code).not.toBe(0);
      expect(running.stderr.trim()).toBe(`Vigil is already running on ${env.VIGIL_DATA_DIR} (process ${process.pid}); stop it first.`);
    } finally {
      await release();
    }
    expect((await openStore(env.VIGIL_DATA_DIR!, { passphrase: PASS })).retention().maxAgeDays).toBe(14);
  });
});
