/**
 * The camera's session description (SDP, RFC 4566) as far as Vigil needs it:
 * which track is H.264 video, where to SETUP it and where to PLAY the session
 * (RFC 2326 C.1.1: `a=control`,
 * absolute or relative to Content-Base, Content-Location or the request URL),
 * and the SPS and PPS it announces (RFC 6184 `sprop-parameter-sets`), which a
 * decoder needs before the first keyframe when the camera sends them only
 * here. Audio, metadata and any other track are left alone.
 */

export interface VideoTrack {
  /** The URL to SETUP. */
  control: string;
  payloadType: number;
  /** RTP clock rate (90000 for video). */
  clockRate: number;
  /** SPS and PPS NAL units from `sprop-parameter-sets` (without start codes). */
  parameterSets: Buffer[];
}

/** The H.264 track, or why there is none Vigil's client can read (the camera then falls back to ffmpeg). */
export type TrackChoice = { track: VideoTrack; aggregate: string } | { unsupported: string };

interface Media {
  type: string;
  payloadTypes: number[];
  rtpmap: Map<number, { encoding: string; clockRate: number }>;
  fmtp: Map<number, Map<string, string>>;
  control?: string;
}

/** `base` plus `control`, as RTSP clients resolve it: absolute as is, `*` the base, relative appended to it. */
export function resolveControl(base: string, control: string | undefined): string {
  if (control === undefined || control === "" || control === "*") return base;
  if (/^rtsps?:\/\//i.test(control)) return control;
  // Not URL resolution (which would replace the last segment): cameras mean "below the base", as ffmpeg and live555 read it.
  return base.endsWith("/") ? `${base}${control.replace(/^\//, "")}` : `${base}/${control.replace(/^\//, "")}`;
}

/** Picks the H.264 video track of `sdp`; `base` is Content-Base, Content-Location or the DESCRIBE URL. Pure. */
export function chooseVideoTrack(sdp: string, base: string): TrackChoice {
  const medias: Media[] = [];
  let sessionControl: string | undefined;
  let current: Media | undefined;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("m=")) {
      const [type = "", , , ...formats] = line.slice(2).split(/\s+/);
      current = { type: type.toLowerCase(), payloadTypes: formats.map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n < 128), rtpmap: new Map(), fmtp: new Map() };
      medias.push(current);
      continue;
    }
    if (!line.startsWith("a=")) continue;
    const attribute = line.slice(2);
    const colon = attribute.indexOf(":");
    const name = (colon < 0 ? attribute : attribute.slice(0, colon)).toLowerCase();
    const value = colon < 0 ? "" : attribute.slice(colon + 1).trim();
    if (name === "control") {
      if (current) current.control = value;
      else sessionControl = value;
    } else if (current && name === "rtpmap") {
      const match = /^(\d+)\s+([^/\s]+)\/(\d+)/.exec(value);
      if (match) current.rtpmap.set(Number(match[1]), { encoding: match[2]!.toUpperCase(), clockRate: Number(match[3]) });
    } else if (current && name === "fmtp") {
      const match = /^(\d+)\s+(.*)$/.exec(value);
      if (match) current.fmtp.set(Number(match[1]), new Map(match[2]!.split(";").map((p) => p.trim()).filter(Boolean).map((p) => {
        const eq = p.indexOf("=");
        return eq < 0 ? [p.toLowerCase(), ""] : [p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()];
      })));
    }
  }
  // A session-level control that is an absolute URL is the base of the tracks' (RFC 2326 C.1.1).
  const mediaBase = sessionControl && /^rtsps?:\/\//i.test(sessionControl) ? sessionControl : base;
  const video = medias.filter((m) => m.type === "video");
  if (video.length === 0) return { unsupported: "the camera's stream has no video track" };
  const seen: string[] = [];
  for (const media of video) {
    for (const pt of media.payloadTypes) {
      const map = media.rtpmap.get(pt);
      const encoding = map?.encoding ?? (pt === 26 ? "JPEG" : `payload type ${pt}`);
      seen.push(encoding);
      if (encoding !== "H264") continue;
      const fmtp = media.fmtp.get(pt);
      const mode = fmtp?.get("packetization-mode") ?? "0";
      if (mode !== "0" && mode !== "1") {
        seen[seen.length - 1] = `H.264 in packetization mode ${mode}`;
        continue;
      }
      return { track: { control: resolveControl(mediaBase, media.control), payloadType: pt, clockRate: map?.clockRate ?? 90000, parameterSets: parameterSets(fmtp?.get("sprop-parameter-sets")) }, aggregate: mediaBase };
    }
  }
  const names = [...new Set(seen.map((e) => (e === "H265" || e === "HEVC" ? "H.265" : e)))];
  return { unsupported: `the camera sends ${names.join(" and ")} video, which Vigil's RTSP client does not read` };
}

/** `Z0IAH5WoFAFuQA==,aM48gA==` → the NAL units; anything undecodable is left out. */
function parameterSets(value: string | undefined): Buffer[] {
  if (!value) return [];
  return value
    .split(",")
    .map((part) => Buffer.from(part.trim(), "base64"))
    .filter((nal) => nal.length > 1 && nal.length < 1024 && ((nal[0]! & 0x1f) === 7 || (nal[0]! & 0x1f) === 8));
}
