/**
 * The logins cameras ask for: Basic (RFC 7617) and Digest with MD5 (RFC 2617 and
 * RFC 7616, with `qop=auth` and without; MD5-sess too). Digest is preferred when
 * a camera offers both, so the password never crosses the network. Anything
 * else (Digest with SHA-256 only, `auth-int`, NTLM …) is not read here: the
 * camera falls back to ffmpeg's RTSP input.
 */
import { createHash, randomBytes } from "node:crypto";

export interface Credentials {
  username: string;
  password: string;
}

export type Challenge = { scheme: "basic"; realm: string } | { scheme: "digest"; realm: string; nonce: string; opaque?: string; algorithm: "MD5" | "MD5-sess"; qop?: "auth"; stale: boolean };

/** What a camera's WWW-Authenticate headers offer: the challenge to answer, or why none can be. */
export type ChallengeChoice = { challenge: Challenge } | { unsupported: string };

/**
 * Picks the challenge to answer from every WWW-Authenticate header (a camera may
 * send one per scheme, or several in one header). Pure.
 */
export function chooseChallenge(headers: readonly string[]): ChallengeChoice {
  const offered = headers.flatMap(splitChallenges);
  let basic: Challenge | undefined;
  const unsupported: string[] = [];
  for (const { scheme, params } of offered) {
    if (scheme === "digest") {
      const algorithm = (params.get("algorithm") ?? "MD5").toUpperCase();
      const qops = (params.get("qop") ?? "").split(",").map((q) => q.trim().toLowerCase()).filter(Boolean);
      const nonce = params.get("nonce");
      if ((algorithm !== "MD5" && algorithm !== "MD5-SESS") || (qops.length > 0 && !qops.includes("auth")) || nonce === undefined) {
        unsupported.push(`Digest ${algorithm}${qops.length ? ` qop=${qops.join(",")}` : ""}`);
        continue;
      }
      const opaque = params.get("opaque");
      return {
        challenge: { scheme: "digest", realm: params.get("realm") ?? "", nonce, algorithm: algorithm === "MD5" ? "MD5" : "MD5-sess", stale: (params.get("stale") ?? "").toLowerCase() === "true", ...(opaque !== undefined ? { opaque } : {}), ...(qops.length ? { qop: "auth" as const } : {}) },
      };
    }
    if (scheme === "basic") basic ??= { scheme: "basic", realm: params.get("realm") ?? "" };
    else unsupported.push(scheme);
  }
  if (basic) return { challenge: basic };
  return { unsupported: unsupported.length ? unsupported.join(", ") : "no login scheme" };
}

/** `Digest realm="a, b", nonce="x", Basic realm="y"` → one entry per scheme. */
function splitChallenges(header: string): { scheme: string; params: Map<string, string> }[] {
  const out: { scheme: string; params: Map<string, string> }[] = [];
  // Tokens: a scheme name, or name=value (value quoted, with \" escapes, or a token).
  const pattern = /\s*(?:([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))|([A-Za-z0-9!#$%&'*+.^_`|~-]+))\s*,?/gy;
  let match: RegExpExecArray | null;
  let current: { scheme: string; params: Map<string, string> } | undefined;
  while (pattern.lastIndex < header.length && (match = pattern.exec(header))) {
    if (match[4]) {
      current = { scheme: match[4].toLowerCase(), params: new Map() };
      out.push(current);
    } else if (current && match[1]) {
      current.params.set(match[1].toLowerCase(), match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : (match[3] ?? ""));
    }
    if (match[0] === "") break;
  }
  return out;
}

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

/**
 * Answers challenges for one camera: the Authorization header of each request.
 * A Digest login counts its requests (`nc`), as `qop=auth` requires.
 */
export class Authenticator {
  #challenge: Challenge | undefined;
  #count = 0;
  readonly #cnonce = randomBytes(8).toString("hex");

  constructor(private readonly credentials: Credentials) {}

  /** Takes the camera's challenge (after a 401). */
  use(challenge: Challenge): void {
    this.#challenge = challenge;
    this.#count = 0;
  }

  get scheme(): Challenge["scheme"] | undefined {
    return this.#challenge?.scheme;
  }

  /** The Authorization header for `method` on `uri`, or undefined before any challenge. */
  header(method: string, uri: string): string | undefined {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    const { username, password } = this.credentials;
    if (challenge.scheme === "basic") return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
    return digestHeader(challenge, this.credentials, method, uri, ++this.#count, this.#cnonce);
  }
}

/** A Digest Authorization header (RFC 7616 §3.4). Pure, given the count and client nonce. */
export function digestHeader(challenge: Extract<Challenge, { scheme: "digest" }>, credentials: Credentials, method: string, uri: string, count: number, cnonce: string): string {
  const { username, password } = credentials;
  let ha1 = md5(`${username}:${challenge.realm}:${password}`);
  if (challenge.algorithm === "MD5-sess") ha1 = md5(`${ha1}:${challenge.nonce}:${cnonce}`);
  const ha2 = md5(`${method}:${uri}`);
  const nc = count.toString(16).padStart(8, "0");
  const response = challenge.qop ? md5(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`) : md5(`${ha1}:${challenge.nonce}:${ha2}`);
  const quote = (text: string) => `"${text.replace(/(["\\])/g, "\\$1")}"`;
  const parts = [`username=${quote(username)}`, `realm=${quote(challenge.realm)}`, `nonce=${quote(challenge.nonce)}`, `uri=${quote(uri)}`, `response=${quote(response)}`];
  if (challenge.algorithm !== "MD5") parts.push(`algorithm=${challenge.algorithm}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (challenge.qop) parts.push(`qop=auth`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  return `Digest ${parts.join(", ")}`;
}
