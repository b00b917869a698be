/**
 * `vigil start` as a separate process, as a user (or systemd) runs it, and the
 * first steps in the chat: the claim line it prints, the claim, /arm. Used by the
 * tests that kill, restart, starve or stop the whole process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import type { BotApiStandIn } from "./bot-api/index.js";
import { ROOT } from "./cli.js";
import { until } from "./wait.js";

export interface VigilProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far, stdout and stderr. */
  output: () => string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Starts `vigil start` from source with exactly `env` as its VIGIL_* environment (plus `extra`, e.g. NOTIFY_SOCKET). */
export function startVigil(env: Record<string, string>, extra: Record<string, string> = {}): VigilProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGIL_") && k !== "NOTIFY_SOCKET" && k !== "WATCHDOG_USEC"));
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src", "cli.ts"), "start"], { cwd: ROOT, env: { ...clean, ...env, ...extra }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, pid: child.pid!, output: () => output, exited };
}

/** SIGKILLs every Vigil this file started that is still running (for afterAll). */
export function killAllVigils(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** Reads a log file a Vigil started elsewhere writes to (a process in another namespace). */
export function logFileOutput(file: string): () => Promise<string> {
  return () => fs.readFile(file, "utf8").catch(() => "");
}

/**
 * Waits for the claim line in Vigil's output, then Alice claims Vigil from a new
 * group and arms it. Returns Alice, the group, the code and the answer to /arm.
 */
export async function claimAndArm(tg: BotApiStandIn, output: () => string | Promise<string>): Promise<{ alice: User; group: Chat; code: string; armed: Message }> {
  let code: string | undefined;
  await until(async () => (code = /\/claim (\S+)/.exec(await output())?.[1]) !== undefined, 120_000, "the claim line is printed");
  const alice = tg.user({ firstName: "Alice", username: "alice_home" });
  const group = tg.group({ title: "Home", owner: alice });
  await tg.waitFor((r) => r.method === "getUpdates", { arrived: true, timeoutMs: 120_000 });
  const claim = tg.send(alice, group, `/claim ${code}`);
  const claimed = await tg.nextMessage(group, { after: claim.mark, timeoutMs: 60_000 });
  if (!claimed.text?.startsWith("Vigil is yours.")) throw new Error(`the claim was not accepted: ${claimed.text}`);
  const arm = tg.send(alice, group, "/arm");
  const armed = await tg.nextMessage(group, { after: arm.mark, timeoutMs: 60_000 });
  return { alice, group, code: code!, armed };
}
