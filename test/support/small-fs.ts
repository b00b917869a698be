/**
 * A real small filesystem for disk-full tests: a tmpfs of a given size mounted
 * in a private mount namespace (`unshare --user --map-root-user --mount`, which
 * needs no root on Debian), with a script run inside it. The mount is gone when
 * the script exits. The script gets the mount point as its first argument and
 * prints its findings as JSON on stdout.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "./cli.js";
import { tempDir } from "./tmp.js";

export interface SmallFsResult<T> {
  code: number | null;
  result: T;
  stderr: string;
}

export async function runInSmallFilesystem<T>(sizeBytes: number, script: string, args: string[] = [], timeoutMs = 120_000): Promise<SmallFsResult<T>> {
  const mountPoint = await tempDir("vigil-small-fs-");
  const mount = 'mount -t tmpfs -o size="$1",mode=0700 vigil-small-fs "$2" && shift 2 && exec "$@"';
  const child = spawn("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", mount, "sh", String(sizeBytes), mountPoint, process.execPath, "--import", "tsx", path.resolve(ROOT, script), mountPoint, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
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
    throw new Error(`the script in the small filesystem printed no result (exit ${code}): ${stderr.slice(-3000)}`);
  }
  return { code, result, stderr };
}
