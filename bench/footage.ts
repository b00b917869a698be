/** Where the shared footage and models are, for the benchmarks (never copied into the repo). */
import path from "node:path";
import { PROJECT_ROOT } from "../src/env.js";

export const FOOTAGE_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "footage");
export const OUT_DIR = path.join(PROJECT_ROOT, "bench", "out");

export function footage(name: string): string {
  return path.join(FOOTAGE_DIR, name);
}
