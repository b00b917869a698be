/**
 * The `vigil` command as a user (or systemd) runs it: one-shot commands, and
 * `vigil start` as a separate process with the first steps in the chat (the
 * printed claim line, the claim, /arm).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Chat, Message, User } from "grammy/types";
import type { BotApiStandIn } from "./bot-api/index.js";
import { until } from "./wait.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface VigilRunOptions {
  /**
   * Run the compiled `bin/vigil.js` (dist/, as `npm start` and a user run it; `npm test` builds it
   * first) instead of the sources through tsx. Default false.
   */
  compiled?: boolean;
  /** Variables besides VIGIL_* (e.g. systemd's NOTIFY_SOCKET). */
  extraEnv?: Record<string, string>;
}

const INHERITED_NOT = new Set(["NOTIFY_SOCKET", "WATCHDOG_USEC"]);

/**
 * Every Vigil a test starts searches for cameras (/addcamera) on loopback only, in a group
 * where nothing answers, unless the test gives its own VIGIL_ONVIF_* values.
 */
const LOOPBACK_ONVIF = { VIGIL_ONVIF_INTERFACE: "127.0.0.1", VIGIL_ONVIF_MULTICAST: "239.255.86.1:37021" };

/** Spawns the `vigil` command with exactly the given VIGIL_* environment (none inherited, nor systemd's). */
function spawnVigil(args: string[], env: Record<string, string>, options: VigilRunOptions, stdin: "pipe" | "ignore"): ChildProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGIL_") && !INHERITED_NOT.has(k)));
  const entry = options.compiled ? [path.join(ROOT, "bin", "vigil.js")] : ["--import", "tsx", path.join(ROOT, "src", "cli.ts")];
  return spawn(process.execPath, [...entry, ...args], { env: { ...clean, ...LOOPBACK_ONVIF, ...env, ...options.extraEnv }, stdio: [stdin, "pipe", "pipe"], cwd: ROOT });
}

/** Runs a `vigil` command to its end (from source unless `compiled`). */
export function vigil(args: string[], env: Record<string, string>, input?: string, options: VigilRunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnVigil(args, env, options, "pipe");
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end(input ?? "");
  });
}

/** A running `vigil start`. */
export interface RunningVigil {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output: () => string;
  exited: Promise<number | null>;
  /** The code of the claim line it prints on a first start. */
  claimCode: () => Promise<string>;
  /** SIGTERM (a clean stop), then SIGKILL if it is still there after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Starts `vigil start [args]` as a separate process. */
export function startVigil(env: Record<string, string>, options: VigilRunOptions & { args?: string[] } = {}): RunningVigil {
  const child = spawnVigil(["start", ...(options.args ?? [])], env, options, "ignore");
  running.add(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    claimCode: () => waitForClaimCode(() => (child.exitCode === null ? output : `${output}\n(exited with ${child.exitCode})`)),
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A `vigil` command on a terminal of its own (a pseudo-terminal), as a user types at it. */
export interface TerminalVigil {
  /** Everything the terminal showed so far (lines end in \r\n). */
  output: () => string;
  /** Types `text` at the terminal; "\r" is Enter, "\x03" is Ctrl-C. */
  type(text: string): void;
  exited: Promise<number | null>;
}

/**
 * Runs the compiled `vigil <args>` on a pseudo-terminal made by util-linux's `script`
 * (Debian's bsdutils, always installed), so its prompts and hidden input work as for a user.
 */
export function vigilOnTerminal(args: string[], env: Record<string, string>): TerminalVigil {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGIL_") && !INHERITED_NOT.has(k)));
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
  // `exec`: Vigil itself is the terminal's foreground process, as when typed at a shell; without
  // it, a shell that does not exec its last command (dash, script's default without SHELL) gets
  // the Ctrl-C too and dies of it, whatever Vigil does.
  const command = `exec ${[process.execPath, path.join(ROOT, "bin", "vigil.js"), ...args].map(quote).join(" ")}`;
  const child = spawn("script", ["--quiet", "--flush", "--return", "--command", command, "/dev/null"], { env: { ...clean, ...LOOPBACK_ONVIF, ...env }, stdio: ["pipe", "pipe", "pipe"], cwd: ROOT });
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
  return { output: () => output, type: (text) => void child.stdin.write(text), exited };
}

/** SIGKILLs every Vigil started here that is still running (for afterAll). */
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
  const code = await waitForClaimCode(output);
  const alice = tg.user({ firstName: "Alice", username: "alice_home" });
  const group = tg.group({ title: "Home", owner: alice });
  await tg.waitFor((r) => r.method === "getUpdates", { arrived: true, timeoutMs: 120_000 });
  const claim = tg.send(alice, group, `/claim ${code}`);
  const claimed = await tg.nextMessage(group, { after: claim.mark, timeoutMs: 60_000 });
  if (!claimed.text?.startsWith("Vigil is yours.")) throw new Error(`the claim was not accepted: ${claimed.text}`);
  const arm = tg.send(alice, group, "/arm");
  const armed = await tg.nextMessage(group, { after: arm.mark, timeoutMs: 60_000 });
  return { alice, group, code, armed };
}

/** The code of the claim line a first start prints, once it is there. */
async function waitForClaimCode(output: () => string | Promise<string>): Promise<string> {
  let code: string | undefined;
  await until(async () => (code = /\/claim (\S+)/.exec(await output())?.[1]) !== undefined, 120_000, "the claim line is printed");
  return code!;
}

/** One alert of Vigil's event history as `vigil events list` prints it (camera, local clock time, label). */
export interface ListedEvent {
  camera: string;
  /** HH:MM:SS, as the chat shows it. */
  time: string;
  /** Epoch ms, from the full local date and time `vigil events list` prints. */
  at: number;
  label: string;
}

/** Every alert in Vigil's event history since `since` (e.g. "1h"), read with `vigil events list`. */
export async function listEvents(env: Record<string, string>, since: string, options: VigilRunOptions = {}): Promise<ListedEvent[]> {
  const { stdout, code, stderr } = await vigil(["events", "list", "--since", since], env, undefined, options);
  if (code !== 0) throw new Error(stderr);
  return stdout
    .split("\n")
    .slice(2)
    .filter(Boolean)
    .map((row) => row.split(/\s{2,}/))
    .map(([time = "", camera = "", object = ""]) => ({ camera, time: time.split(" ")[1]!, at: Date.parse(time.replace(" ", "T")), label: object === "motion only" ? "motion" : object }));
}
