/**
 * Asking one ONVIF camera for its streams, the calls every Profile S camera
 * answers: GetSystemDateAndTime (unauthenticated: the camera's clock, which the
 * password digest must match), GetCapabilities for the media service's address
 * (GetServices when a camera refuses it), GetProfiles, and GetStreamUri
 * (RTP-Unicast over RTSP) for the two profiles chosen by {@link chooseStreams}.
 * Every call and every stream URL stays on the host that answered the search.
 */
import type { Element } from "@xmldom/xmldom";
import type { CameraLogin, CameraStream, CameraStreams } from "../domain/discovery.js";
import { parseStreamUrl } from "../domain/stream-url.js";
import { OnvifError, VigilError } from "../errors.js";
import { hostOf, sanitize, soapCall, type SoapCallOptions, type SoapLogin } from "./soap.js";
import { child, children, descendant, descendants, path, text } from "./xml.js";

const DEVICE_WSDL = "http://www.onvif.org/ver10/device/wsdl";
const MEDIA_WSDL = "http://www.onvif.org/ver10/media/wsdl";
const SCHEMA = "http://www.onvif.org/ver10/schema";

/** A media profile with a video encoder, as GetProfiles describes it. */
export interface MediaProfile {
  token: string;
  name: string;
  /** The video source it encodes (an NVR has one per input). */
  source: string;
  encoding: string;
  width: number;
  height: number;
}

export interface MediaClientOptions {
  now?: () => number;
  random?: (size: number) => Buffer;
  /** Per call. Default 5 s. */
  timeoutMs?: number;
  /** Per reply. Default 1 MiB. */
  maxBytes?: number;
  signal?: AbortSignal | undefined;
}

/** The narrowest stream that still shows a person: below this width a profile is a thumbnail, not a sub-stream. */
const MIN_DETECT_WIDTH = 480;

/**
 * Picks, among the profiles of the first video source, the largest for recording
 * and the smallest at least 480 pixels wide (H.264 first: Vigil decodes it in
 * software) for detection. Undefined when no profile has a video encoder.
 */
export function chooseStreams(profiles: readonly MediaProfile[]): { detect: MediaProfile; record: MediaProfile; videoSources: number } | undefined {
  const video = profiles.filter((p) => p.width > 0 && p.height > 0);
  const first = video[0];
  if (!first) return undefined;
  const videoSources = new Set(video.map((p) => p.source)).size;
  const candidates = video.filter((p) => p.source === first.source);
  const area = (p: MediaProfile) => p.width * p.height;
  const isVideoCodec = (p: MediaProfile) => /^(H264|H265|HEVC)$/i.test(p.encoding);
  const recordable = candidates.some(isVideoCodec) ? candidates.filter(isVideoCodec) : candidates;
  const record = recordable.reduce((best, p) => (area(p) > area(best) ? p : best));
  const h264 = candidates.filter((p) => /^H264$/i.test(p.encoding));
  const pool = h264.length ? h264 : candidates;
  const wide = pool.filter((p) => p.width >= MIN_DETECT_WIDTH);
  const detect = (wide.length ? wide : pool).reduce((best, p) => (area(p) < area(best) ? p : best));
  return { detect, record, videoSources };
}

/** Reads GetProfiles' answer: the profiles that carry a video encoder configuration. */
export function readProfiles(response: Element): MediaProfile[] {
  return children(response, "Profiles").map((profile) => {
    const encoder = child(profile, "VideoEncoderConfiguration");
    const resolution = encoder && child(encoder, "Resolution");
    return {
      token: profile.getAttribute("token") ?? "",
      name: sanitize(text(child(profile, "Name")) ?? "", 40),
      source: text(path(profile, "VideoSourceConfiguration", "SourceToken")) ?? "",
      encoding: sanitize(text(encoder && child(encoder, "Encoding")) ?? "", 16),
      width: wholeNumber(text(resolution && child(resolution, "Width"))),
      height: wholeNumber(text(resolution && child(resolution, "Height"))),
    };
  });
}

function wholeNumber(value: string | undefined): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 && n <= 16384 ? n : 0;
}

/** The camera's UTC clock from GetSystemDateAndTime's answer, in epoch ms. */
export function readDeviceTime(response: Element): number | undefined {
  const utc = descendant(response, "UTCDateTime");
  if (!utc) return undefined;
  const get = (...names: string[]) => Number(text(path(utc, ...names)));
  const at = Date.UTC(get("Date", "Year"), get("Date", "Month") - 1, get("Date", "Day"), get("Time", "Hour"), get("Time", "Minute"), get("Time", "Second"));
  return Number.isFinite(at) ? at : undefined;
}

/**
 * The camera's streams with this login: sub for detection, main for recording.
 * Throws an OnvifError saying what failed (wrong login, no answer, not ONVIF).
 */
export async function readCameraStreams(xaddr: string, login: CameraLogin, options: MediaClientOptions = {}): Promise<CameraStreams> {
  const where = hostOf(xaddr);
  const now = options.now ?? Date.now;
  const soapLogin: SoapLogin | undefined = login.username ? { username: login.username, password: login.password ?? "" } : undefined;
  const base = { now, random: options.random, timeoutMs: options.timeoutMs, maxBytes: options.maxBytes, signal: options.signal } satisfies Partial<SoapCallOptions>;

  // The clock first, unauthenticated: a camera whose clock is off rejects every digest made with ours.
  let clockOffsetMs = 0;
  try {
    const sent = now();
    const deviceTime = readDeviceTime(await soapCall({ ...base, url: xaddr, operation: "GetSystemDateAndTime", namespace: DEVICE_WSDL, body: `<GetSystemDateAndTime xmlns="${DEVICE_WSDL}"/>` }));
    if (deviceTime !== undefined) clockOffsetMs = deviceTime - Math.round((sent + now()) / 2);
  } catch (error) {
    // A camera that wants a login even for its clock is still worth asking with ours; anything else is final.
    if (!(error instanceof OnvifError && (error.reason === "unauthorized" || error.reason === "fault"))) throw error;
  }
  const call = (url: string, operation: string, namespace: string, body: string) => soapCall({ ...base, url, operation, namespace, body, login: soapLogin, clockOffsetMs });

  const mediaUrl = sameHost(await mediaAddress(xaddr, call), xaddr);
  const profiles = readProfiles(await call(mediaUrl, "GetProfiles", MEDIA_WSDL, `<GetProfiles xmlns="${MEDIA_WSDL}"/>`));
  const chosen = chooseStreams(profiles);
  if (!chosen) throw new OnvifError(`The camera at ${where} has no video profile, so it cannot say where its stream is.`, where, "no-streams");

  const streamOf = async (profile: MediaProfile): Promise<CameraStream> => {
    const body =
      `<GetStreamUri xmlns="${MEDIA_WSDL}"><StreamSetup><Stream xmlns="${SCHEMA}">RTP-Unicast</Stream>` +
      `<Transport xmlns="${SCHEMA}"><Protocol>RTSP</Protocol></Transport></StreamSetup>` +
      `<ProfileToken>${escapeToken(profile.token)}</ProfileToken></GetStreamUri>`;
    const uri = text(descendant(await call(mediaUrl, "GetStreamUri", MEDIA_WSDL, body), "Uri")) ?? "";
    let url: string;
    try {
      url = onHost(parseStreamUrl(uri).url, xaddr);
    } catch (error) {
      throw new OnvifError(`The camera at ${where} gave a stream URL Vigil cannot use for ${profile.name || profile.token}: ${error instanceof VigilError ? error.message.replace(/\.$/, "") : "not a URL"}.`, where, "invalid", { cause: error });
    }
    return { url, width: profile.width, height: profile.height, encoding: profile.encoding, profile: profile.name || profile.token };
  };
  const detect = await streamOf(chosen.detect);
  const record = chosen.record === chosen.detect ? detect : await streamOf(chosen.record);
  return { detect, record, videoSources: chosen.videoSources };
}

function escapeToken(token: string): string {
  return token.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Call = (url: string, operation: string, namespace: string, body: string) => Promise<Element>;

/** The media service's address: GetCapabilities, or GetServices when the camera refuses that. */
async function mediaAddress(xaddr: string, call: Call): Promise<string> {
  const where = hostOf(xaddr);
  try {
    const response = await call(xaddr, "GetCapabilities", DEVICE_WSDL, `<GetCapabilities xmlns="${DEVICE_WSDL}"><Category>Media</Category></GetCapabilities>`);
    const media = text(path(descendant(response, "Capabilities"), "Media", "XAddr"));
    if (media) return media;
  } catch (error) {
    if (!(error instanceof OnvifError && error.reason === "fault")) throw error;
  }
  const services = await call(xaddr, "GetServices", DEVICE_WSDL, `<GetServices xmlns="${DEVICE_WSDL}"><IncludeCapability>false</IncludeCapability></GetServices>`);
  const media = descendants(services, "Service").find((s) => text(child(s, "Namespace")) === MEDIA_WSDL);
  const address = text(media && child(media, "XAddr"));
  if (!address) throw new OnvifError(`The camera at ${where} has no ONVIF media service, so it cannot say where its stream is.`, where, "no-streams");
  return address;
}

/**
 * A stream URL on the host we reached the camera at (its scheme, port, path and
 * query as the camera gave them): the RTSP login goes to the camera the user
 * picked, never to another host a device on the LAN names.
 */
function onHost(url: string, xaddr: string): string {
  const stream = new URL(url);
  stream.hostname = new URL(xaddr).hostname;
  return stream.href;
}

/**
 * The media service on the host we reached the camera at (its path and port as
 * the camera gave them): cameras often report an address of their own that is
 * not the one that answered, and a login is sent nowhere else.
 */
function sameHost(media: string, xaddr: string): string {
  try {
    const target = new URL(media);
    const device = new URL(xaddr);
    if (target.protocol !== "http:" && target.protocol !== "https:") return xaddr;
    target.hostname = device.hostname;
    return target.href;
  } catch {
    throw new OnvifError(`The camera at ${hostOf(xaddr)} gave a media service address that is not a URL.`, hostOf(xaddr), "invalid");
  }
}
