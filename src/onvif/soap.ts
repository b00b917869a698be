/**
 * One ONVIF SOAP call over HTTP: the envelope (SOAP 1.2), WS-Security
 * UsernameToken with a PasswordDigest, and HTTP Digest when the camera asks
 * for it with a 401 (the password itself never leaves this machine either way), a bounded answer (a camera that sends more than `maxBytes` is cut
 * off), a timeout, an AbortSignal, and every failure as one OnvifError sentence.
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Element } from "@xmldom/xmldom";
import { OnvifError } from "../errors.js";
import { child, escapeXml, parseXml, path, text } from "./xml.js";

export const SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope";
const WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/** Default bound of a reply: a 32-channel NVR's GetProfiles is a few hundred KB. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

export interface SoapLogin {
  username: string;
  password: string;
}

export interface SoapCallOptions {
  /** The service URL (an XAddr). */
  url: string;
  /** The operation's name, for the SOAP action and for messages (`GetProfiles`). */
  operation: string;
  /** The operation's WSDL namespace (`http://www.onvif.org/ver10/media/wsdl`). */
  namespace: string;
  /** The Body's content: the request element, with its own xmlns. */
  body: string;
  /** Sign with a UsernameToken; undefined sends the call unauthenticated. */
  login?: SoapLogin | undefined;
  /** The camera's clock minus ours, in ms (from GetSystemDateAndTime): cameras reject a digest whose time is off. */
  clockOffsetMs?: number;
  /** The clock. Default `Date.now`. */
  now?: () => number;
  /** Random bytes for the nonce. Default `crypto.randomBytes`. */
  random?: (size: number) => Buffer;
  /** Default 5 s for the whole call. */
  timeoutMs?: number;
  /** Default 1 MiB. */
  maxBytes?: number;
  signal?: AbortSignal | undefined;
}

/** Base64(SHA-1(nonce + created + password)), WS-Security UsernameToken Profile 1.0, with UTF-8 text. */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash("sha1")
    .update(Buffer.concat([nonce, Buffer.from(created, "utf8"), Buffer.from(password, "utf8")]))
    .digest("base64");
}

/** The UsernameToken's Created: UTC, whole seconds (`2024-05-01T12:00:00Z`), the form every camera parses. */
export function createdTime(at: number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The request envelope; exported so the stand-in camera's tests can check it is what cameras expect. */
export function envelope(body: string, login: SoapLogin | undefined, at: number, nonce: Buffer): string {
  let header = "";
  if (login) {
    const created = createdTime(at);
    header =
      `<s:Header><wsse:Security s:mustUnderstand="1" xmlns:wsse="${WSSE}" xmlns:wsu="${WSU}"><wsse:UsernameToken>` +
      `<wsse:Username>${escapeXml(login.username)}</wsse:Username>` +
      `<wsse:Password Type="${PASSWORD_DIGEST}">${passwordDigest(nonce, created, login.password)}</wsse:Password>` +
      `<wsse:Nonce EncodingType="${BASE64_BINARY}">${nonce.toString("base64")}</wsse:Nonce>` +
      `<wsu:Created>${created}</wsu:Created>` +
      `</wsse:UsernameToken></wsse:Security></s:Header>`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${SOAP_ENV}">${header}<s:Body>${body}</s:Body></s:Envelope>`;
}

/** Printable, short: text from a camera may end up in a sentence. */
export function sanitize(value: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").replace(/\s+/g, " ").trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** `host` or `host:port` of a URL, for messages. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return sanitize(url, 60);
  }
}

interface HttpReply {
  status: number;
  body: string;
  /** The WWW-Authenticate header of a 401. */
  challenge: string | undefined;
}

function post(options: SoapCallOptions, payload: string, where: string, authorization?: string): Promise<HttpReply> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const op = options.operation;
  let target: URL;
  try {
    target = new URL(options.url);
  } catch (error) {
    return Promise.reject(new OnvifError(`The ONVIF address ${sanitize(options.url, 60)} is not a URL.`, where, "invalid", { cause: error }));
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return Promise.reject(new OnvifError(`The ONVIF address of ${where} is not an http:// or https:// URL.`, where, "invalid"));
  }
  return new Promise<HttpReply>((resolve, reject) => {
    let settled = false;
    const finish = (error: OnvifError | undefined, reply?: HttpReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      request.destroy();
      if (error) reject(error);
      else resolve(reply!);
    };
    const onAbort = () => finish(new OnvifError(`Stopped asking the camera at ${where}.`, where, "timeout", { cause: options.signal?.reason }));
    const timer = setTimeout(() => finish(new OnvifError(`The camera at ${where} did not answer ${op} within ${seconds(timeoutMs)}.`, where, "timeout")), timeoutMs);
    const lib = target.protocol === "https:" ? https : http;
    const headers = {
      "Content-Type": `application/soap+xml; charset=utf-8; action="${options.namespace}/${op}"`,
      "Content-Length": Buffer.byteLength(payload),
      Connection: "close",
      ...(authorization ? { Authorization: authorization } : {}),
    };
    let request: http.ClientRequest;
    try {
      // A fresh connection per call, closed after it: nothing lingers once the scan is over.
      request = lib.request(target, { method: "POST", agent: false, headers });
    } catch (error) {
      // A header Node refuses: a username with characters HTTP cannot carry.
      clearTimeout(timer);
      return reject(new OnvifError(`The login cannot be sent to the camera at ${where}: the username has characters HTTP cannot carry.`, where, "invalid", { cause: error }));
    }
    request.on("error", (error: NodeJS.ErrnoException) => finish(connectionError(error, where, op)));
    request.on("response", (response) => {
      const declared = Number(response.headers["content-length"]);
      if (declared > maxBytes) return finish(tooLarge(where, op, maxBytes));
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return finish(tooLarge(where, op, maxBytes));
        chunks.push(chunk);
      });
      response.on("error", (error: NodeJS.ErrnoException) => finish(connectionError(error, where, op)));
      const challenge = response.headers["www-authenticate"];
      response.on("end", () => finish(undefined, { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), challenge: Array.isArray(challenge) ? challenge.join(", ") : challenge }));
    });
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    request.end(payload);
  });
}

function seconds(ms: number): string {
  return `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;
}

function tooLarge(where: string, op: string, maxBytes: number): OnvifError {
  return new OnvifError(`The camera at ${where} sent more than ${Math.round(maxBytes / 1024)} KB in answer to ${op}, which is not an ONVIF answer; I stopped reading.`, where, "too-large");
}

function connectionError(error: NodeJS.ErrnoException, where: string, op: string): OnvifError {
  switch (error.code) {
    case "ECONNREFUSED":
      return new OnvifError(`The camera at ${where} refused the connection to its ONVIF service.`, where, "unreachable", { cause: error });
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EADDRNOTAVAIL":
      return new OnvifError(`This machine cannot reach the camera at ${where}.`, where, "unreachable", { cause: error });
    case "ECONNRESET":
    case "EPIPE":
      return new OnvifError(`The camera at ${where} closed the connection instead of answering ${op}.`, where, "unreachable", { cause: error });
    case "HPE_INVALID_CONSTANT":
    case "HPE_INVALID_HEADER_TOKEN":
    case "HPE_INVALID_STATUS":
    case "HPE_HEADER_OVERFLOW":
      return new OnvifError(`The camera at ${where} answered ${op} with something that is not HTTP.`, where, "invalid", { cause: error });
    default:
      return new OnvifError(`The camera at ${where} could not be asked for ${op} (${sanitize(error.code ?? error.message, 60)}).`, where, "unreachable", { cause: error });
  }
}

/** The parts of an HTTP Digest challenge (RFC 7616) that a response needs. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: "MD5" | "MD5-sess" | "SHA-256" | "SHA-256-sess";
  /** Whether the server offers qop=auth (else the RFC 2069 form). */
  qopAuth: boolean;
}

/** `Digest realm="…", nonce="…", qop="auth"` → its parts; undefined for Basic or an algorithm we do not speak. */
export function readDigestChallenge(header: string | undefined): DigestChallenge | undefined {
  const start = header?.search(/\bDigest\s/i) ?? -1;
  if (!header || start < 0) return undefined;
  const params = new Map<string, string>();
  for (const match of header.slice(start + 7).matchAll(/([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g)) {
    const key = match[1]!.toLowerCase();
    if (!params.has(key)) params.set(key, (match[2] ?? match[3] ?? "").replace(/\\(.)/g, "$1"));
  }
  const algorithm = (params.get("algorithm") ?? "MD5").toUpperCase().replace("-SESS", "-sess");
  if (algorithm !== "MD5" && algorithm !== "MD5-sess" && algorithm !== "SHA-256" && algorithm !== "SHA-256-sess") return undefined;
  const nonce = params.get("nonce");
  if (!nonce) return undefined;
  const qop = params.get("qop");
  return { realm: params.get("realm") ?? "", nonce, opaque: params.get("opaque"), algorithm, qopAuth: qop === undefined ? false : qop.split(",").some((q) => q.trim().toLowerCase() === "auth") };
}

/** The Authorization header answering `challenge` for a request (ONVIF: a POST) to `url`. */
export function digestAuthorization(challenge: DigestChallenge, login: SoapLogin, method: string, url: URL, cnonce: string): string {
  const hash = (text: string) => createHash(challenge.algorithm.startsWith("SHA-256") ? "sha256" : "md5").update(text, "utf8").digest("hex");
  const uri = `${url.pathname}${url.search}`;
  let ha1 = hash(`${login.username}:${challenge.realm}:${login.password}`);
  if (challenge.algorithm.endsWith("-sess")) ha1 = hash(`${ha1}:${challenge.nonce}:${cnonce}`);
  const ha2 = hash(`${method}:${uri}`);
  const nc = "00000001";
  const response = challenge.qopAuth ? hash(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`) : hash(`${ha1}:${challenge.nonce}:${ha2}`);
  const quote = (value: string) => `"${value.replace(/[\\"]/g, "\\$&")}"`;
  const parts = [`username=${quote(login.username)}`, `realm=${quote(challenge.realm)}`, `nonce=${quote(challenge.nonce)}`, `uri=${quote(uri)}`, `algorithm=${challenge.algorithm}`, `response=${quote(response)}`];
  if (challenge.qopAuth) parts.push("qop=auth", `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  return `Digest ${parts.join(", ")}`;
}

/** A SOAP Fault: its codes (local names, e.g. `NotAuthorized`) and its reason text. */
interface Fault {
  codes: string[];
  reason: string;
}

function readFault(body: Element | undefined): Fault | undefined {
  const fault = body && child(body, "Fault");
  if (!fault) return undefined;
  const codes: string[] = [];
  for (let value = path(fault, "Code", "Value"), sub = path(fault, "Code", "Subcode"); value; value = sub && child(sub, "Value"), sub = sub && child(sub, "Subcode")) {
    const code = text(value) ?? "";
    codes.push(code.slice(code.indexOf(":") + 1));
    if (codes.length > 8) break;
  }
  // SOAP 1.1 faults (some old cameras): faultcode / faultstring.
  const old = text(child(fault, "faultcode"));
  if (old) codes.push(old.slice(old.indexOf(":") + 1));
  const reason = text(path(fault, "Reason", "Text")) ?? text(child(fault, "faultstring")) ?? "";
  return { codes, reason: sanitize(reason) };
}

/**
 * Sends one call and returns the Body's first element (the `…Response`). A
 * fault, an HTTP error, a malformed or oversized reply, a refused or silent
 * connection: each an OnvifError whose message is the sentence to show.
 */
export async function soapCall(options: SoapCallOptions): Promise<Element> {
  const where = hostOf(options.url);
  const op = options.operation;
  const now = options.now ?? Date.now;
  const random = options.random ?? randomBytes;
  const payload = () => envelope(options.body, options.login, now() + (options.clockOffsetMs ?? 0), random(16));
  let reply = await post(options, payload(), where);
  // Cameras set to HTTP Digest for ONVIF answer 401 with a challenge: once more, with both logins (a fresh nonce: one used twice is refused).
  const digest = reply.status === 401 && options.login ? readDigestChallenge(reply.challenge) : undefined;
  if (digest && options.login) reply = await post(options, payload(), where, digestAuthorization(digest, options.login, "POST", new URL(options.url), random(8).toString("hex")));

  let body: Element | undefined;
  let parseError: unknown;
  try {
    const root = parseXml(reply.body);
    if (root.localName !== "Envelope") throw new Error(`the root element is ${sanitize(root.localName ?? "", 40)}, not a SOAP Envelope`);
    body = child(root, "Body");
    if (!body) throw new Error("the SOAP envelope has no Body");
  } catch (error) {
    parseError = error;
  }
  const fault = readFault(body);
  const unauthorized = reply.status === 401 || fault?.codes.some((c) => c === "NotAuthorized" || c === "FailedAuthentication" || c === "InvalidSecurity");
  if (unauthorized) {
    const why = options.login ? "refused the username or password" : "needs a username and password";
    return Promise.reject(new OnvifError(`The camera at ${where} ${why} (ONVIF ${op}).`, where, "unauthorized", { cause: fault?.reason ?? `HTTP ${reply.status}` }));
  }
  if (fault) {
    return Promise.reject(new OnvifError(`The camera at ${where} refused ${op}${fault.reason ? `: ${fault.reason.replace(/\.$/, "")}` : ""}.`, where, "fault", { cause: fault.codes.join(" ") }));
  }
  if (reply.status < 200 || reply.status >= 300) {
    return Promise.reject(new OnvifError(`The camera at ${where} answered ${op} with HTTP ${reply.status} instead of ONVIF.`, where, "fault"));
  }
  const response = body ? child(body, `${op}Response`) : undefined;
  if (parseError || !response) {
    return Promise.reject(new OnvifError(`The camera at ${where} answered ${op} with something that is not ONVIF.`, where, "invalid", { cause: parseError ?? new Error(`no ${op}Response in the Body`) }));
  }
  return response;
}
