/**
 * Logging: pino, to stderr (stdout is kept for what a user asked for: tables,
 * `--json` lines, the claim code). Every string that reaches a log line passes
 * through {@link redact}, so a camera password or the bot token cannot leak even
 * when it hides inside an error message or a URL.
 */
import { pino, type Logger, type DestinationStream } from "pino";
import { redact } from "./redact.js";

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Where lines go. Default: stderr, human-readable when it is a terminal, JSON otherwise. */
  destination?: DestinationStream;
  /** Exact secrets to scrub besides URL credentials and token shapes (e.g. camera passwords). */
  secrets?: () => readonly string[];
}

function scrub(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === "string") return redact(value, secrets);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) {
    return { type: value.name, message: redact(value.message, secrets), stack: value.stack ? redact(value.stack, secrets) : undefined, cause: value.cause === undefined ? undefined : scrub(value.cause, secrets, depth + 1) };
  }
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = scrub(item, secrets, depth + 1);
  return out;
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** One readable line per record for a person watching a terminal. */
function prettyStream(out: NodeJS.WriteStream): DestinationStream {
  return {
    write(line: string) {
      try {
        const { level, time, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const when = new Date(Number(time)).toLocaleTimeString();
        const extra = Object.entries(rest)
          .map(([k, val]) => `${k}=${typeof val === "string" ? val : JSON.stringify(val)}`)
          .join(" ");
        const levelName = LEVEL_NAMES[Number(level)] ?? String(level);
        const message = typeof msg === "string" ? msg : JSON.stringify(msg ?? "");
        out.write(`${when} ${levelName} ${message}${extra ? `  ${extra}` : ""}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? (() => []);
  const destination = options.destination ?? (process.stderr.isTTY ? prettyStream(process.stderr) : pino.destination({ fd: 2, sync: true }));
  return pino(
    {
      level: options.level ?? "info",
      base: undefined,
      serializers: { err: (err: unknown) => scrub(err, secrets()) },
      formatters: { log: (object) => scrub(object, secrets()) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          // Scrub the message string and any printf-style arguments too.
          const cleaned = args.map((arg) => (typeof arg === "string" ? redact(arg, secrets()) : arg)) as Parameters<typeof method>;
          method.apply(this, cleaned);
        },
      },
    },
    destination,
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });
