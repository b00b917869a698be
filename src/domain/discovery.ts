/**
 * Finding cameras: what a search of the LAN returns and what a camera says about
 * its streams, shared by the bot (`/addcamera`), the CLI (`vigil camera scan`)
 * and the ONVIF client that implements {@link CameraDiscovery} (src/onvif). The
 * front ends never open sockets; they are handed this interface.
 */

/** A camera that answered the search (WS-Discovery ProbeMatch). */
export interface FoundCamera {
  /** The camera's WS-Discovery endpoint (`urn:uuid:…`): the same camera answering twice is one camera. */
  id: string;
  /** The host of its ONVIF service: where the login goes. */
  address: string;
  /** Its ONVIF device service URL (an XAddr of the ProbeMatch). */
  xaddr: string;
  /** From the ONVIF scopes `…/name/…` and `…/hardware/…`, when the camera gives them. */
  name?: string | undefined;
  hardware?: string | undefined;
}

/** One stream of a camera (an ONVIF media profile and its RTSP URI). */
export interface CameraStream {
  /** The stream URL without credentials. */
  url: string;
  width: number;
  height: number;
  /** `H264`, `H265`, `JPEG`, … as the camera names it. */
  encoding: string;
  /** The camera's name for the profile (e.g. `mainStream`, `Profile_2`). */
  profile: string;
}

/** The streams Vigil uses: the smallest usable one for detection, the largest for recording clips. */
export interface CameraStreams {
  detect: CameraStream;
  /** Equal to `detect` when the camera has one profile only. */
  record: CameraStream;
  /** Video inputs of the device (an NVR has several); the streams are those of the first. */
  videoSources: number;
}

export interface CameraLogin {
  username?: string | undefined;
  password?: string | undefined;
}

export interface CameraDiscovery {
  /** False when the search is switched off (`VIGIL_ONVIF_TIMEOUT=0`): /addcamera then asks for the URL at once. */
  readonly enabled: boolean;
  /**
   * Searches the LAN (WS-Discovery) and resolves when the search time is over with
   * every camera that answered, or throws an OnvifError when the search could not
   * be sent at all.
   */
  find(signal?: AbortSignal): Promise<FoundCamera[]>;
  /** Asks one camera (ONVIF media service) for its streams; throws an OnvifError saying what failed. */
  streams(camera: FoundCamera, login: CameraLogin, signal?: AbortSignal): Promise<CameraStreams>;
}

/** The stream URLs of common brands, for cameras that do not answer the search. */
export const KNOWN_URL_PATTERNS: readonly (readonly [brand: string, pattern: string])[] = [
  ["Reolink", "rtsp://IP:554/h264Preview_01_sub"],
  ["Hikvision", "rtsp://IP:554/Streaming/Channels/102"],
  ["Dahua, Amcrest", "rtsp://IP:554/cam/realmonitor?channel=1&subtype=1"],
  ["TP-Link Tapo", "rtsp://IP:554/stream2"],
  ["Axis", "rtsp://IP/axis-media/media.amp"],
];

/** The one sentence for a search that found nothing. */
export const NO_CAMERA_FOUND = "No camera answered the ONVIF search (the camera may not speak ONVIF, or this network may not pass multicast), so its stream URL has to be given by hand.";

/** How a found camera is called in a button or a table: its name, and its model when the name does not say it. */
export function describeFoundCamera(camera: FoundCamera): string {
  const { name, hardware } = camera;
  if (name && hardware && !name.toLowerCase().includes(hardware.toLowerCase())) return `${name} (${hardware})`;
  return name ?? hardware ?? "ONVIF camera";
}
