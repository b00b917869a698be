import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { vigil } from "../support/cli.js";
import { footage } from "../support/footage.js";
import { installRpicamStandIn } from "../support/rpicam-stand-in.js";
import { filesContaining, tempDir } from "../support/tmp.js";

const TOKEN = "7000001:AAF-cli-test-token-bbbbbbbbbbbbbbbbbbbbbbb";
const PASSWORD = "Cam-Passw0rd-9f3k";

describe("vigil init, camera add and config show", () => {
  it("sets up from environment variables only, and nothing readable reaches the disk or the terminal", async () => {
    const root = await tempDir();
    const dataDir = path.join(root, "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    const init = await vigil(["init", "--non-interactive", "--kdf", "interactive"], env);
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`Created an encrypted store in ${dataDir}`);

    const add = await vigil(["camera", "add", "front_door", "rtsp://admin@192.168.1.20:554/h264Preview_01_sub", "--password-stdin"], env, `${PASSWORD}\n`);
    expect(add.code).toBe(0);
    expect(add.stdout).toContain("Added camera front_door (rtsp://192.168.1.20:554/h264Preview_01_sub)");

    const show = await vigil(["config", "show"], { VIGIL_DATA_DIR: dataDir, VIGIL_PASSPHRASE: "a long passphrase" });
    expect(show.code).toBe(0);
    const view = JSON.parse(show.stdout) as { telegram: { token: string }; cameras: { name: string; password: string; username: string }[] };
    expect(view.telegram.token).toBe("7000001:***");
    expect(view.cameras[0]).toMatchObject({ name: "front_door", username: "admin", password: "***" });

    for (const output of [init, add, show]) {
      expect(output.stdout + output.stderr).not.toContain(TOKEN.split(":")[1]);
      expect(output.stdout + output.stderr).not.toContain(PASSWORD);
    }
    expect(await filesContaining(dataDir, TOKEN)).toEqual([]);
    expect(await filesContaining(dataDir, TOKEN.split(":")[1]!)).toEqual([]);
    expect(await filesContaining(dataDir, PASSWORD)).toEqual([]);
    expect(await filesContaining(dataDir, "192.168.1.20")).toEqual([]);
  });

  it("refuses a malformed token, a missing passphrase and overwriting a store, each in one sentence", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const bad = await vigil(["init", "--non-interactive"], { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: "not a token", VIGIL_PASSPHRASE: "a long passphrase" });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/does not look like a bot token/);

    const noPass = await vigil(["init", "--non-interactive"], { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN });
    expect(noPass.code).toBe(2);
    expect(noPass.stderr.trim()).toBe("Set VIGIL_PASSPHRASE (8 characters or more) or VIGIL_KEY_FILE to protect the store.");

    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    const again = await vigil(["init", "--non-interactive", "--kdf", "interactive"], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim()).toBe(`A Vigil store already exists in ${dataDir}; use --force to replace it (its data will be lost).`);
    expect((await vigil(["init", "--non-interactive", "--force", "--kdf", "interactive"], env)).code).toBe(0);
  });

  it("`start` without a store, off a terminal, exits non-zero with one sentence saying what to do", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const result = await vigil(["start"], { VIGIL_DATA_DIR: dataDir });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe(`There is no Vigil store in ${dataDir} yet: set VIGIL_BOT_TOKEN and VIGIL_PASSPHRASE (or VIGIL_KEY_FILE), or run \`vigil init\` on a terminal.`);
  });

  it("rekeys with VIGIL_NEW_PASSPHRASE and restores a damaged store from the command line", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "first passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    expect((await vigil(["camera", "add", "cam1", "rtsp://10.1.1.1/s"], env)).code).toBe(0);
    expect((await vigil(["camera", "add", "cam2", "rtsp://10.1.1.2/s"], env)).code).toBe(0);
    const rekeyed = await vigil(["config", "rekey", "--kdf", "interactive"], { ...env, VIGIL_NEW_PASSPHRASE: "second passphrase" });
    expect(rekeyed.code).toBe(0);
    expect(rekeyed.stdout).toMatch(/the old passphrase no longer opens the store/);
    const old = await vigil(["config", "show"], env);
    expect(old.stderr.trim()).toMatch(/^The passphrase is wrong/);
    const env2 = { ...env, VIGIL_PASSPHRASE: "second passphrase" };

    const db = path.join(dataDir, "vigil.db");
    const bytes = await fs.readFile(db);
    bytes[bytes.length - 5]! ^= 0xff;
    await fs.writeFile(db, bytes);
    const broken = await vigil(["camera", "list"], env2);
    expect(broken.code).not.toBe(0);
    expect(broken.stderr.trim()).toMatch(/vigil\.db in .* is damaged .* kept as vigil\.db\.bak: run `vigil config restore` to go back to it\.$/);
    const restore = await vigil(["config", "restore"], env2);
    expect(restore.stdout).toContain("Restored vigil.db from its previous version");
    const list = await vigil(["camera", "list"], env2);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("cam1");
  });

  it("replaces a leaked bot token without touching anything else", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    expect((await vigil(["camera", "add", "cam1", "rtsp://10.1.1.1/s"], env)).code).toBe(0);
    const fresh = "7000002:AAG-replacement-token-ccccccccccccccccccc";
    const result = await vigil(["config", "set-token"], { ...env, VIGIL_BOT_TOKEN: fresh });
    expect(result.stdout.trim()).toBe("The bot token is replaced (bot 7000002); restart Vigil to use it.");
    const show = JSON.parse((await vigil(["config", "show"], env)).stdout) as { telegram: { token: string }; cameras: unknown[] };
    expect(show.telegram.token).toBe("7000002:***");
    expect(show.cameras).toHaveLength(1);
    const bad = await vigil(["config", "set-token"], { ...env, VIGIL_BOT_TOKEN: "oops" });
    expect(bad.code).toBe(2);
    expect(JSON.parse((await vigil(["config", "show"], env)).stdout)).toMatchObject({ telegram: { token: "7000002:***" } });
  });

  it("refuses to edit the store beside a running Vigil, whose copy would overwrite the change", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    // This test process stands in for the running Vigil: its pid is alive.
    await fs.writeFile(path.join(dataDir, "vigil.lock"), String(process.pid));
    const result = await vigil(["camera", "add", "cam1", "rtsp://10.1.1.1/s"], env);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe(`Vigil is already running on ${dataDir} (process ${process.pid}); stop it first.`);
    await fs.rm(path.join(dataDir, "vigil.lock"));
    expect((await vigil(["camera", "add", "cam1", "rtsp://10.1.1.1/s"], env)).code).toBe(0);
  });

  it("rejects a chat-style camera URL that points at a local file trick", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    for (const url of ["concat:/etc/passwd|/etc/shadow", "file:///etc/passwd", "/etc/../etc/passwd", "rtsp://cam/x;rm -rf /"]) {
      const result = await vigil(["camera", "add", "x1", url], env);
      expect(result.code, url).not.toBe(0);
      expect(result.stderr.trim().split("\n"), url).toHaveLength(1);
    }
  });
});

describe("vigil doctor", () => {
  it("reports a missing ffmpeg and a missing model, each with a fix, and exits non-zero", async () => {
    const root = await tempDir();
    const dataDir = path.join(root, "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    const result = await vigil(["doctor"], { VIGIL_DATA_DIR: dataDir, VIGIL_PASSPHRASE: "a long passphrase", VIGIL_FFMPEG: path.join(root, "no-ffmpeg"), VIGIL_MODELS_DIR: path.join(root, "no-models"), VIGIL_TELEGRAM_API_ROOT: "http://127.0.0.1:9" });
    expect(result.code).toBe(1);
    const rows = result.stdout.split("\n");
    const ffmpeg = rows.find((r) => r.startsWith("ffmpeg"));
    expect(ffmpeg).toMatch(/FAIL\s+.*no-ffmpeg not found\s+Install it: sudo apt install ffmpeg/);
    const model = rows.find((r) => r.startsWith("model"));
    expect(model).toMatch(/FAIL\s+yolox-nano-416 is missing from .*no-models\s+Fetch it: npm run models/);
    expect(rows.find((r) => r.startsWith("store"))).toMatch(/ok/);
    // Built by `npm test` (test:prepare), so Vigil decodes its fed cameras itself.
    expect(rows.find((r) => r.startsWith("decoder"))).toMatch(/ok\s+Vigil's own/);
    expect(rows.find((r) => r.startsWith("telegram"))).toMatch(/FAIL\s+cannot reach 127\.0\.0\.1:9/);
    expect(result.stdout).not.toContain(TOKEN);
  });

  it("checks a Pi camera by a picture from rpicam-vid, and says what is missing with a fix", async () => {
    const root = await tempDir();
    const dataDir = path.join(root, "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    expect((await vigil(["camera", "add", "garden", "picam:0?width=320&height=240&fps=10"], env)).code).toBe(0);
    const camera = await installRpicamStandIn(footage("wallflower_wavingtrees_10fps.mp4"));
    const doctor = { VIGIL_DATA_DIR: dataDir, VIGIL_PASSPHRASE: "a long passphrase", VIGIL_TELEGRAM_API_ROOT: "http://127.0.0.1:9" };
    const works = await vigil(["doctor"], { ...doctor, VIGIL_RPICAM: camera.binary });
    expect(works.stdout.split("\n").find((r) => r.startsWith("camera garden"))).toMatch(/^camera garden\s+ok\s+rpicam-vid: first picture in \d+\.\d s\s*$/);
    // It let the camera go, cleanly (SIGINT).
    expect(await camera.runs()).toMatchObject([{ code: 0 }]);

    const missing = await vigil(["doctor"], { ...doctor, VIGIL_RPICAM: path.join(root, "no-rpicam") });
    expect(missing.code).toBe(1);
    expect(missing.stdout.split("\n").find((r) => r.startsWith("camera garden"))).toMatch(/FAIL\s+Could not open the Pi camera at picam:0\?width=320&height=240&fps=10: VIGIL_RPICAM names .*no-rpicam, which is not a program this machine can run\.\s+Install rpicam-apps \(sudo apt install rpicam-apps\), or set VIGIL_RPICAM to the program\./);
  });
});

describe("vigil camera add with the Raspberry Pi camera", () => {
  it("adds picam:0 with its size and rate, refuses a second stream of it, and says what is wrong with a bad one in one sentence", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    const added = await vigil(["camera", "add", "garden", "picam:0?fps=10&width=1640&height=922"], env);
    expect(added.stderr).toBe("");
    expect(added.stdout.trim()).toBe("Added camera garden (picam:0?width=1640&height=922&fps=10).");

    const refusals: [string[], string][] = [
      [["camera", "add", "yard", "picam:0"], "picam:0 is already the camera garden; remove it first (vigil camera remove garden) to add it again."],
      [["camera", "add", "porch", "picam:1", "--record-url", "picam:1?width=1920&height=1080"], "The Pi camera gives detection and clips from one stream; leave out --record-url and set its size and rate in the URL (picam:0?width=1920&height=1080&fps=15)."],
      [["camera", "add", "porch", "rtsp://10.1.1.1/sub", "--record-url", "picam:1"], "Add the Pi camera with its own URL (vigil camera add <name> picam:1), not as --record-url."],
      [["camera", "add", "porch", "picam:1?width=4056&height=3040"], "The Pi camera's width and height must be even numbers from 64x64 to 1920x1080 (the largest its H.264 encoder takes)."],
    ];
    for (const [args, sentence] of refusals) {
      const result = await vigil(args, env);
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr.trim()).toBe(sentence);
    }
    const list = await vigil(["camera", "list"], env);
    expect(list.stdout).toContain("picam:0?width=1640&height=922&fps=10");
    expect(list.stdout).not.toContain("porch");
  });
});
