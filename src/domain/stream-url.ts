/**
 * Camera stream URLs: what a user may give, how credentials are split off for
 * storage and put back for ffmpeg. A chat user can only give network URLs
 * (rtsp, rtsps, http, https): ffmpeg must never receive something a chat user
 * can turn into local file access (`file:`, `concat:`, a path, a device).
 * Local files and V4L2 devices are allowed only from the machine's own CLI.
 */
import { InputError } from "../errors.js";
import { maskUrl } from "../redact.js";

export type StreamKind = "rtsp" | "http" | "device" | "file";

export interface ParsedStreamUrl {
  /** The URL with credentials removed (safe to show). */
  url: string;
  kind: StreamKind;
  username?: string;
  password?: string;
}

const NETWORK_SCHEMES = new Set(["rtsp:", "rtsps:", "http:", "https:"]);
const FORBIDDEN = /[\s`$;|<>\\"'{}^]/;

export function parseStreamUrl(raw: string, options: { allowLocal?: boolean } = {}): ParsedStreamUrl {
  const text = raw.trim();
  if (text.length === 0) throw new InputError("Give the camera's stream URL, for example rtsp://192.168.1.20:554/h264Preview_01_sub.");
  if (text.length > 512) throw new InputError("That URL is too long for a camera stream (512 characters at most).");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new InputError("That URL contains control characters; paste the camera's URL on one line.");

  if (options.allowLocal && /^\/dev\/video\d{1,2}$/.test(text)) return { url: text, kind: "device" };
  if (options.allowLocal && text.startsWith("/") && !text.includes("..") && !FORBIDDEN.test(text)) return { url: text, kind: "file" };

  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new InputError(`"${maskUrl(text).slice(0, 60)}" is not a URL; camera streams look like rtsp://192.168.1.20:554/stream.`);
  }
  if (!NETWORK_SCHEMES.has(parsed.protocol)) {
    throw new InputError(`Camera streams must be rtsp://, rtsps://, http:// or https:// URLs; ${parsed.protocol.replace(/:$/, "")}: is not allowed.`);
  }
  if (!parsed.hostname) throw new InputError("That URL has no host; camera streams look like rtsp://192.168.1.20:554/stream.");
  const username = parsed.username ? decode(parsed.username) : undefined;
  const password = parsed.password ? decode(parsed.password) : undefined;
  parsed.username = "";
  parsed.password = "";
  const url = parsed.href;
  if (FORBIDDEN.test(decode(url))) throw new InputError("That URL contains characters no camera URL has (spaces, quotes, `;`, `|`, `$`, ...).");
  return { url, kind: parsed.protocol.startsWith("rtsp") ? "rtsp" : "http", ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** Percent-decoding that answers a broken escape (`%zz`, a lone `%`) with a sentence instead of a URIError. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new InputError("That URL has a broken %-escape (a % must be followed by two hex digits); give the URL as the camera's manual writes it.");
  }
}

/** The URL ffmpeg opens: credentials percent-encoded into it. Never log the result; log {@link maskUrl} of it. */
export function withCredentials(url: string, username?: string, password?: string): string {
  if (!username && !password) return url;
  if (!/^[a-z]+:\/\//i.test(url)) return url;
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(username ?? "");
  if (password) parsed.password = encodeURIComponent(password);
  return parsed.href;
}

/** The kind of a stored (already validated) URL. Anything else is refused, never guessed. */
export function streamKind(url: string): StreamKind {
  if (/^rtsps?:\/\//i.test(url)) return "rtsp";
  if (/^https?:\/\//i.test(url)) return "http";
  if (/^\/dev\/video\d{1,2}$/.test(url)) return "device";
  if (url.startsWith("/")) return "file";
  throw new InputError("Camera streams must be rtsp://, rtsps://, http:// or https:// URLs.");
}
