import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createKeyFile, createStore, openStore } from "../../src/store/index.js";
import { seededRandom } from "../support/random.js";
import { tempDir } from "../support/tmp.js";

const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "store-writer.ts");

/** Runs the writer until `delayMs` after it is ready, then SIGKILLs it. Returns the last value it saw committed. */
function runAndKill(dataDir: string, keyFile: string, delayMs: number): Promise<{ last: number; writes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, dataDir, keyFile], { stdio: ["ignore", "pipe", "pipe"] });
    let buffered = "";
    let last = -1;
    let writes = 0;
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") setTimeout(() => child.kill("SIGKILL"), delayMs);
        else {
          last = Number(line);
          writes += 1;
        }
      }
    });
    child.on("exit", (_code, signal) => (signal === "SIGKILL" ? resolve({ last, writes }) : reject(new Error(`writer exited on its own: ${stderr}`))));
  });
}

describe("store under SIGKILL", () => {
  it("is always readable, and never loses a completed write, across 500+ writes killed at random points", async () => {
    const seed = Date.now() % 100_000;
    const random = seededRandom(seed);
    const root = await tempDir();
    const dataDir = path.join(root, "data");
    const keyFile = path.join(root, "key");
    await createKeyFile(keyFile);
    const store = await createStore({ dataDir, unlock: { keyFile }, token: "7000001:AAF-test-token-aaaaaaaaaaaaaaaaaaaaaaaaa" });
    await store.addCamera({ name: "cam1", url: "rtsp://10.0.0.2/x", settings: { sensitivity: 0 } });

    let total = 0;
    let kills = 0;
    let known = 0; // the value read back after the previous kill
    while (total < 500 || kills < 12) {
      const { last, writes } = await runAndKill(dataDir, keyFile, 5 + random() * 120);
      total += writes;
      kills += 1;
      const reopened = await openStore(dataDir, { keyFile }).catch((error: unknown) => {
        throw new Error(`store unreadable after kill ${kills} (seed ${seed}): ${String(error)}`);
      });
      const value = reopened.requireCamera("cam1").settings.sensitivity;
      // Every write whose promise resolved is on disk; at most the one in flight may have landed after it.
      const committed = Math.max(known, last);
      expect(value, `seed ${seed}, kill ${kills}`).toBeGreaterThanOrEqual(committed);
      expect(value, `seed ${seed}, kill ${kills}`).toBeLessThanOrEqual(committed + 1);
      known = value;
    }
    expect(total).toBeGreaterThanOrEqual(500);
  }, 180_000);
});
