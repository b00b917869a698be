/** Vigil's version, as package.json says (shown to Home Assistant as the device's software version). */
import fs from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "./env.js";

function readVersion(): string {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version?: unknown };
    return typeof parsed.version === "string" ? parsed.version : "unknown";
  } catch {
    return "unknown";
  }
}

export const VIGIL_VERSION = readVersion();
