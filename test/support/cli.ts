import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `vigil` command from source (no build needed) with exactly the given VIGIL_* environment. */
export function vigil(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGIL_")));
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src", "cli.ts"), ...args], { env: { ...clean, ...env }, stdio: ["pipe", "pipe", "pipe"], cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}
