/**
 * Private namespaces for fault tests, made with `unshare --user --map-root-user`
 * (no root needed on Debian):
 *
 * - a real small filesystem for disk-full tests: a tmpfs of a given size
 *   mounted in a private mount namespace, gone when its processes exit;
 * - a private network, where a test may take a camera's address away
 *   (`ip route add unreachable ...`) and give it back.
 *
 * A script run inside gets its own arguments (after the mount point, for a
 * small filesystem) and prints its findings as JSON on its last line. Or, with
 * {@link SmallFsShell}, a shell in a small filesystem that a test gives commands
 * to (start Vigil on it, fill it up, free it) while it plays the user from outside.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { ROOT } from "./cli.js";
import { tempDir } from "./tmp.js";

export interface NamespaceResult<T> {
  code: number | null;
  result: T;
  stderr: string;
}

/** `unshare` arguments that mount a tmpfs of `sizeBytes` on `mountPoint` in a private namespace, then run `command`. */
function inSmallFilesystem(sizeBytes: number, mountPoint: string, command: string[]): string[] {
  const mount = 'mount -t tmpfs -o size="$1",mode=0700 vigil-small-fs "$2" && shift 2 && exec "$@"';
  return ["--user", "--map-root-user", "--mount", "sh", "-c", mount, "sh", String(sizeBytes), mountPoint, ...command];
}

/** Runs a TypeScript script with `unshare` `namespaceArgs`; its last stdout line is its JSON result. */
async function runScript<T>(namespaceArgs: (command: string[]) => string[], script: string, args: string[], timeoutMs: number): Promise<NamespaceResult<T>> {
  const child = spawn("unshare", namespaceArgs([process.execPath, "--import", "tsx", path.resolve(ROOT, script), ...args]), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  const last = stdout.trim().split("\n").at(-1) ?? "";
  let result: T;
  try {
    result = JSON.parse(last) as T;
  } catch {
    throw new Error(`${script} printed no result (exit ${code}): ${stderr.slice(-3000)}`);
  }
  return { code, result, stderr };
}

/** Runs `script <mount point> ...args` with a tmpfs of `sizeBytes` at the mount point. */
export async function runInSmallFilesystem<T>(sizeBytes: number, script: string, args: string[] = [], timeoutMs = 120_000): Promise<NamespaceResult<T>> {
  const mountPoint = await tempDir("vigil-small-fs-");
  return runScript<T>((command) => inSmallFilesystem(sizeBytes, mountPoint, command), script, [mountPoint, ...args], timeoutMs);
}

/** Runs `script ...args` in a private network with only a loopback interface, up. */
export function runInPrivateNetwork<T>(script: string, args: string[] = [], timeoutMs = 180_000): Promise<NamespaceResult<T>> {
  return runScript<T>((command) => ["--user", "--map-root-user", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...command], script, args, timeoutMs);
}

/**
 * A shell (in the project folder) that sees a small tmpfs at `$MNT`, which only
 * it and its children see. Processes it starts in the background (`... &`)
 * live on between commands; they share the host's network and /tmp, so a test
 * reaches them and their log files from outside.
 */
export class SmallFsShell {
  #output = "";
  #waiters = new Set<() => void>();
  #seq = 0;

  private constructor(
    readonly mountPoint: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stdout.on("data", (d: Buffer) => this.#append(d));
    child.stderr.on("data", (d: Buffer) => this.#append(d));
  }

  static async open(sizeBytes: number): Promise<SmallFsShell> {
    const mountPoint = await tempDir("vigil-small-fs-");
    const child = spawn("unshare", inSmallFilesystem(sizeBytes, mountPoint, ["sh", "-c", 'export MNT="$0" && exec sh -s', mountPoint]), { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    const shell = new SmallFsShell(mountPoint, child);
    const { code, output } = await shell.run('mount | grep -c "vigil-small-fs on $MNT "');
    if (code !== 0 || output.trim() !== "1") throw new Error(`the small filesystem was not mounted: ${output}`);
    return shell;
  }

  #append(data: Buffer): void {
    this.#output += data.toString();
    for (const waiter of this.#waiters) waiter();
  }

  /** Runs one command line in the shell (stdin /dev/null, stderr with stdout); resolves with its exit code and output. */
  run(command: string, timeoutMs = 120_000): Promise<{ code: number; output: string }> {
    const marker = `__vigil_done_${process.pid}_${++this.#seq}__`;
    const start = this.#output.length;
    this.child.stdin.write(`{\n${command}\n} </dev/null 2>&1; echo "${marker} $?"\n`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`\`${command}\` did not finish within ${timeoutMs} ms: ${this.#output.slice(start)}`));
      }, timeoutMs);
      const check = () => {
        const at = this.#output.indexOf(marker, start);
        if (at < 0) return;
        const end = this.#output.indexOf("\n", at);
        if (end < 0) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve({ code: Number(this.#output.slice(at + marker.length, end).trim()), output: this.#output.slice(start, at) });
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Ends the shell; background processes it started must have been stopped by the test. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin.end("exit\n");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
