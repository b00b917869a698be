/**
 * Camera stream URLs: what a user may give, how credentials are split off for
 * storage and put back for ffmpeg. A chat user can only give network URLs
 * (rtsp, rtsps, http, https): ffmpeg must never receive something a chat user
 * can turn into local file access (`file:`, `concat:`, a path, a device).
 * Local files, V4L2 devices and the Raspberry Pi camera (`picam:0`, read
 * through rpicam-vid) are allowed only from the machine's own CLI.
 */
import { InputError } from "../errors.js";
import { maskUrl } from "../redact.js";

export type StreamKind = "rtsp" | "http" | "device" | "file" | "picam";

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

  if (/^picam:/i.test(text)) {
    if (!options.allowLocal) throw new InputError("The Raspberry Pi camera can be added only on the Pi itself: vigil camera add <name> picam:0.");
    return { url: formatPicamUrl(parsePicamUrl(text), text), kind: "picam" };
  }
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

/**
 * What the Pi camera is asked for when its URL does not say: 1280x720 at 15
 * frames per second. Detection scales it down to the camera's detection size
 * (640x360 by default) and analyses 5 of the 15 frames a second, clips keep it
 * as it is, and the Pi's H.264 encoder makes it for almost no CPU (1080p would
 * double what the Pi decodes for detection and what each clip weighs, for
 * detail a 640x360 detector never sees).
 */
export const PICAM_DEFAULTS = Object.freeze({ width: 1280, height: 720, fps: 15 });

/** The Raspberry Pi camera's sensor stream: which camera (0 is the first), at what size and rate. */
export interface PicamStream {
  camera: number;
  width: number;
  height: number;
  fps: number;
}

const PICAM_EXAMPLE = "picam:0?width=1280&height=720&fps=15";

/**
 * `picam:N`, optionally with `?width=W&height=H&fps=F`: the Pi camera as rpicam-vid
 * reads it. Each bad part is one sentence: the Pi's H.264 encoder takes even sizes
 * up to 1920x1080 and, at those, up to 30 frames a second (60 at 1280x720 and below).
 */
export function parsePicamUrl(raw: string): PicamStream {
  const match = /^picam:(\d*)(?:\?(.*))?$/i.exec(raw.trim());
  if (!match || match[1] === "") throw new InputError(`The Pi camera is picam:0 (picam:1 for a second one), optionally with its size and rate: ${PICAM_EXAMPLE}.`);
  const camera = Number(match[1]);
  if (match[1]!.length > 1) throw new InputError(`picam:${match[1]!.slice(0, 4)} is not a camera number; picam:0 is the Pi's first camera, picam:1 its second.`);
  const given = new Map<string, string>();
  for (const part of (match[2] ?? "").split("&").filter(Boolean)) {
    const [key = "", value = ""] = part.split("=", 2);
    const name = key.toLowerCase();
    if (name !== "width" && name !== "height" && name !== "fps") throw new InputError(`"${key.slice(0, 20)}" is not a Pi camera setting; picam takes width, height and fps, as in ${PICAM_EXAMPLE}.`);
    if (given.has(name)) throw new InputError(`${name} is given twice in the Pi camera's URL.`);
    given.set(name, value);
  }
  if (given.has("width") !== given.has("height")) throw new InputError(`Give the Pi camera's width and height together, as in ${PICAM_EXAMPLE}.`);
  const stream: PicamStream = { camera, ...PICAM_DEFAULTS };
  if (given.has("width")) {
    const width = Number(given.get("width"));
    const height = Number(given.get("height"));
    if (!/^\d{2,4}$/.test(given.get("width")!) || !/^\d{2,4}$/.test(given.get("height")!) || width < 64 || height < 64 || width > 1920 || height > 1080 || width % 2 || height % 2) {
      throw new InputError("The Pi camera's width and height must be even numbers from 64x64 to 1920x1080 (the largest its H.264 encoder takes).");
    }
    stream.width = width;
    stream.height = height;
  }
  if (given.has("fps")) {
    const text = given.get("fps")!;
    const fps = Number(text);
    const most = stream.width * stream.height > 1280 * 720 ? 30 : 60;
    if (!/^\d{1,2}(\.\d{1,2})?$/.test(text) || fps < 1 || fps > most) throw new InputError(`The Pi camera's fps must be from 1 to ${most} at ${stream.width}x${stream.height}.`);
    stream.fps = fps;
  }
  return stream;
}

/** The stored form: lower case, the parts that were given, in a fixed order (so that two spellings of one stream are one feed). */
function formatPicamUrl(stream: PicamStream, raw: string): string {
  const given = raw.includes("?");
  const query = [...(/width=/i.test(raw) ? [`width=${stream.width}`, `height=${stream.height}`] : []), ...(/fps=/i.test(raw) ? [`fps=${stream.fps}`] : [])];
  return `picam:${stream.camera}${given && query.length ? `?${query.join("&")}` : ""}`;
}

/** The kind of a stored (already validated) URL. Anything else is refused, never guessed. */
export function streamKind(url: string): StreamKind {
  if (/^picam:\d/.test(url)) return "picam";
  if (/^rtsps?:\/\//i.test(url)) return "rtsp";
  if (/^https?:\/\//i.test(url)) return "http";
  if (/^\/dev\/video\d{1,2}$/.test(url)) return "device";
  if (url.startsWith("/")) return "file";
  throw new InputError("Camera streams must be rtsp://, rtsps://, http:// or https:// URLs.");
}
