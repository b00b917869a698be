/**
 * The sensors' webhook listener (`vigil webhook listen ADDRESS:PORT`, off by
 * default): a small HTTP server on the LAN that takes one kind of request,
 *
 *     POST /sensor/<name>
 *     X-Vigil-Timestamp: <unix seconds>
 *     X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *     {"state": "open" | "closed", "battery": 87, "battery_low": false}
 *
 * signed with the sensor's own secret. The timestamp is inside the signature,
 * so it cannot be changed; one more than 60 s from Vigil's clock is refused,
 * and a signature already used within that time is refused too, so a captured
 * request cannot be replayed. Anything else gets a 4xx and changes nothing:
 * a body over 4 KiB (413, read no further), a wrong method (405), a path that
 * is not a sensor or a bad signature (401, the same for both, so names cannot
 * be guessed), an old or replayed request (401), a body that is not the JSON
 * above (400). Answers are one line of text; nothing secret is in them.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { Sensor, SensorReading } from "../domain/sensors.js";
import type { Logger } from "../log.js";

export const WEBHOOK_MAX_BODY = 4096;
export const WEBHOOK_MAX_SKEW_MS = 60_000;

export interface WebhookOptions {
  host: string;
  port: number;
  sensors: () => readonly Sensor[];
  reading: (reading: SensorReading) => void;
  logger: Logger;
  signal: AbortSignal;
  now?: () => number;
}

/** `sha256=<hex>` over `<timestamp>.<body>`: what a sender computes (and the tests). */
export function signWebhook(secret: string, timestamp: string, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")}`;
}

export type WebhookVerdict = { ok: true; open: boolean; battery?: number; batteryLow?: boolean } | { ok: false; status: 400 | 401; why: string };

/**
 * Checks a request's timestamp, signature and body against a sensor's secret. Pure
 * apart from the `seen` set of recent signatures it reads and adds to.
 */
export function verifyWebhook(secret: string, headers: { timestamp: string | undefined; signature: string | undefined }, body: Buffer, now: number, seen: Map<string, number>): WebhookVerdict {
  const { timestamp, signature } = headers;
  if (!timestamp || !/^\d{1,13}$/.test(timestamp) || !signature || !/^sha256=[0-9a-f]{64}$/.test(signature)) return { ok: false, status: 401, why: "no valid signature or timestamp headers" };
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, status: 401, why: "bad signature" };
  // Milliseconds (13 digits) or seconds: a sender that can give milliseconds should, so that the same
  // state sent twice within a second (open, closed, open) is not taken for a replay of the first.
  const sentAt = timestamp.length === 13 ? Number(timestamp) : Number(timestamp) * 1000;
  if (Math.abs(now - sentAt) > WEBHOOK_MAX_SKEW_MS) return { ok: false, status: 401, why: "timestamp more than 60 s from Vigil's clock (replayed, or a clock that is wrong)" };
  for (const [sig, at] of seen) if (at < now - 2 * WEBHOOK_MAX_SKEW_MS) seen.delete(sig);
  if (seen.has(signature)) return { ok: false, status: 401, why: "this request was already received (a replay)" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return { ok: false, status: 400, why: "the body is not JSON" };
  }
  const object = parsed as { state?: unknown; battery?: unknown; battery_low?: unknown } | null;
  if (object === null || typeof object !== "object" || Array.isArray(object) || (object.state !== "open" && object.state !== "closed")) return { ok: false, status: 400, why: 'the body is not {"state": "open" | "closed"}' };
  const battery = typeof object.battery === "number" && object.battery >= 0 && object.battery <= 100 ? Math.round(object.battery) : undefined;
  seen.set(signature, now);
  if (seen.size > 10_000) seen.delete(seen.keys().next().value!);
  return { ok: true, open: object.state === "open", ...(battery !== undefined ? { battery } : {}), ...(typeof object.battery_low === "boolean" ? { batteryLow: object.battery_low } : {}) };
}

/** Starts listening; resolves once bound (rejects with the reason when the address cannot be used). Closes when `signal` aborts. */
export async function startWebhookListener(options: WebhookOptions): Promise<{ port: number; closed: Promise<void> }> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>();
  let loggedAt = 0;
  const refuse = (res: http.ServerResponse, status: number, text: string, why: string, path: string) => {
    const t = now();
    // A flood of bad requests is a few log lines, not thousands.
    if (t - loggedAt > 1000) logger.warn({ status, path: path.slice(0, 80) }, `webhook: refused a request: ${why}`);
    loggedAt = t;
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" }).end(`${text}\n`);
  };

  const server = http.createServer({ maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    const path = req.url ?? "";
    if (req.method !== "POST") return refuse(res, 405, "Only POST is accepted.", `method ${String(req.method).slice(0, 10)}`, path);
    const match = /^\/sensor\/([\p{L}\p{N}_-]{1,32})$/u.exec(path);
    const sensor = match ? options.sensors().find((s) => s.source.type === "webhook" && s.name.toLowerCase() === match[1]!.toLowerCase()) : undefined;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > WEBHOOK_MAX_BODY) {
      refuse(res, 413, "The body is too large.", `a ${declared}-byte body`, path);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > WEBHOOK_MAX_BODY) {
        done = true;
        refuse(res, 413, "The body is too large.", "a body over 4 KiB", path);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", () => undefined);
    req.on("end", () => {
      if (done) return;
      done = true;
      if (!sensor || sensor.source.type !== "webhook") return refuse(res, 401, "Not signed for this sensor.", "no webhook sensor of that name", path);
      const ts = req.headers["x-vigil-timestamp"];
      const sig = req.headers["x-vigil-signature"];
      const verdict = verifyWebhook(sensor.source.secret, { timestamp: typeof ts === "string" ? ts : undefined, signature: typeof sig === "string" ? sig : undefined }, Buffer.concat(chunks), now(), seen);
      if (!verdict.ok) return refuse(res, verdict.status, verdict.status === 400 ? "The body must be JSON like {\"state\": \"open\"}." : "Not signed for this sensor.", verdict.why, path);
      options.reading({ sensorId: sensor.id, at: now(), open: verdict.open, ...(verdict.battery !== undefined ? { battery: verdict.battery } : {}), ...(verdict.batteryLow !== undefined ? { batteryLow: verdict.batteryLow } : {}) });
      res.writeHead(204, { connection: "close" }).end();
    });
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  logger.info({ address: `${options.host}:${port}` }, "webhook: listening for door sensors");
  const closed = new Promise<void>((resolve) => {
    const close = () => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    if (options.signal.aborted) close();
    else options.signal.addEventListener("abort", close, { once: true });
  });
  return { port, closed };
}

/** `192.168.1.10:8089`, `0.0.0.0:8089`, `[::1]:8089`. */
export function parseListenAddress(raw: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|(\d{1,3}(?:\.\d{1,3}){3}|localhost)):(\d{1,5})$/.exec(raw.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}
