/**
 * ffmpeg input options for each kind of camera URL. Network inputs get a protocol
 * whitelist, so a URL can never make ffmpeg open a local file (`file:`,
 * `concat:`, an HLS playlist pointing at /etc/passwd, ...), and socket timeouts so
 * a dead camera fails instead of hanging. Targets ffmpeg 5+ (Debian 12,
 * Raspberry Pi OS bookworm), where `-timeout` is the RTSP socket timeout.
 */
import { streamKind } from "../../domain/stream-url.js";

export interface InputOptionsConfig {
  transport?: "tcp" | "udp";
  /** Socket timeout. Default 5 s. */
  timeoutMs?: number;
  /**
   * Pace a file input at its native rate: `true` also loops it (a file standing in
   * for a live camera); `"once"` plays it through once (`vigil replay --realtime`).
   */
  realtimeFile?: boolean | "once";
  /**
   * Frames per second to poll a JPEG snapshot URL at (see {@link isSnapshotUrl}).
   * Unset: the URL is read once, as a probe does.
   */
  pollFps?: number;
}

const RTSP_PROTOCOLS = "rtsp,rtsps,rtp,srtp,udp,tcp,tls";
const HTTP_PROTOCOLS = "http,https,tcp,tls";

/** Polling a camera's snapshot URL faster than this only loads the camera. */
export const MAX_POLL_FPS = 2;

/**
 * A stream ffmpeg does not open itself: its H.264 comes from the camera's feed
 * (h264-feed.ts) on ffmpeg's stdin, because the camera should be opened once
 * and both detection and recording read it: the Pi camera (one rpicam-vid, the
 * only process that can open it) and RTSP cameras over TCP (one session, where
 * two would load cameras made for few connections).
 */
export function isFedStream(url: string, transport: "tcp" | "udp" = "tcp"): boolean {
  const kind = streamKind(url);
  // RTSP over TCP: Vigil's own client (rtsp/), one session for detection and recording, each
  // picture handed on at its last packet. rtsps:// and UDP stay with ffmpeg's RTSP input.
  return kind === "picam" || (kind === "rtsp" && /^rtsp:/i.test(url) && transport === "tcp");
}

/** What ffmpeg is given as `-i`: local paths as explicit `file:` URLs, the Pi camera's feed as stdin. */
export function inputUrl(url: string): string {
  const kind = streamKind(url);
  return kind === "file" ? `file:${url}` : kind === "picam" ? "pipe:0" : url;
}

/**
 * ffmpeg's input for a fed stream (h264-feed.ts): raw H.264 on stdin. It has no
 * timestamps: each picture is stamped with the time ffmpeg reads it (the
 * recorder's ring maps them to wall time), and nothing needs probing (the first
 * bytes are SPS, PPS and a keyframe), so the first picture leaves at once
 * (../shared/RECIPES.md).
 */
export const FED_INPUT = Object.freeze({ input: "pipe:0", options: Object.freeze(["-f", "h264", "-use_wallclock_as_timestamps", "1", "-fflags", "+genpts", "-probesize", "32", "-analyzeduration", "0"]) });

/**
 * An HTTP URL that answers one JPEG per request (Reolink `cmd=Snap`, `snapshot.cgi`,
 * `.../image.jpg`) rather than an MJPEG stream: it is polled.
 */
export function isSnapshotUrl(url: string): boolean {
  if (streamKind(url) !== "http") return false;
  const { pathname, search } = new URL(url);
  return /\.(jpe?g)$/i.test(pathname) || /snap|still/i.test(pathname + search);
}

export function inputOptions(url: string, config: InputOptionsConfig = {}): string[] {
  const timeoutUs = String((config.timeoutMs ?? 5000) * 1000);
  // Fast start: ~2 s to the first frame instead of ~5.7 s with the default analysis window.
  const fastStart = ["-analyzeduration", "1000000", "-probesize", "1000000"];
  switch (streamKind(url)) {
    case "rtsp":
      return ["-protocol_whitelist", RTSP_PROTOCOLS, "-rtsp_transport", config.transport ?? "tcp", "-timeout", timeoutUs, ...fastStart];
    case "http": {
      const still = isSnapshotUrl(url);
      if (still && config.pollFps) {
        // The image2 demuxer with -loop reopens the URL for every frame: one HTTP GET per frame, paced by -re.
        // It opens the URL itself, so it takes no http options (-rw_timeout would be "not found"):
        // a camera that stops answering is caught by the source's watchdog instead. It needs the
        // answer's Content-Length, which camera snapshot endpoints send.
        return ["-protocol_whitelist", HTTP_PROTOCOLS, "-re", "-f", "image2", "-loop", "1", "-pattern_type", "none", "-framerate", String(Math.min(config.pollFps, MAX_POLL_FPS))];
      }
      // One still: image2pipe finds the codec in the data, which works without a Content-Length too.
      return ["-protocol_whitelist", HTTP_PROTOCOLS, "-rw_timeout", timeoutUs, "-reconnect", "0", ...(still ? ["-f", "image2pipe"] : fastStart)];
    }
    case "device":
      return ["-f", "v4l2"];
    case "picam":
      return [...FED_INPUT.options];
    case "file":
      // Only the file protocol: a path cannot smuggle in concat:, subfile: or a URL.
      return ["-protocol_whitelist", "file", ...(config.realtimeFile ? ["-re"] : []), ...(config.realtimeFile === true ? ["-stream_loop", "-1"] : [])];
  }
}

export type FfmpegFailureReason = "refused" | "unauthorized" | "not-found" | "busy" | "timeout" | "unreachable" | "invalid" | "unknown";

/**
 * The one sentence for each reason a camera could not be opened: the same whether
 * ffmpeg said it or Vigil's own RTSP client found it (the add-camera conversation,
 * /status and `vigil doctor` show these).
 */
export const FAILURE_SENTENCES: Readonly<Record<FfmpegFailureReason, string>> = Object.freeze({
  unauthorized: "the camera refused the username or password",
  refused: "the camera refused the connection (wrong port, or the stream is off)",
  "not-found": "the camera has no stream at that path",
  busy: "the camera is busy or still starting up (it answered 503 Service Unavailable)",
  unreachable: "the camera's address cannot be reached from this machine",
  timeout: "the camera did not answer in time",
  invalid: "that URL does not give a video stream Vigil can read",
  unknown: "the stream could not be opened",
});

/** Turns ffmpeg's stderr into one sentence a person understands, and a reason code. */
export function explainFfmpegFailure(stderr: string): { reason: FfmpegFailureReason; sentence: string } {
  // The URLs ffmpeg quotes are no evidence: a port like :34012 must not read as a 401.
  const reason = failureReason(stderr.toLowerCase().replace(/[a-z][a-z0-9+.-]*:\/\/\S+/g, "<url>"));
  return { reason, sentence: FAILURE_SENTENCES[reason] };
}

function failureReason(text: string): FfmpegFailureReason {
  if (/\b401\b|unauthorized|authorization failed/.test(text)) return "unauthorized";
  if (/connection refused/.test(text)) return "refused";
  // Not a bare "not found": ffmpeg also says "moov atom not found" and "Option ... not found".
  if (/\b404\b|no such file/.test(text)) return "not-found";
  if (/\b503\b|service unavailable/.test(text)) return "busy";
  if (/no route to host|network is unreachable|name or service not known|could not resolve|temporary failure in name resolution|host is down/.test(text)) return "unreachable";
  // Not "timeout=": ffmpeg quotes the URL it tried, `tcp://host:554?timeout=5000000`, in every connect error.
  if (/timed out|timeout(?!=)|operation not permitted|resource temporarily unavailable/.test(text)) return "timeout";
  if (/invalid data|could not find codec|protocol not on whitelist|protocol not found/.test(text)) return "invalid";
  return "unknown";
}

/** The same for a local video device (V4L2): a USB camera unplugged, the wrong number, or no camera at all. */
export function explainDeviceFailure(stderr: string, device: string): string {
  const text = stderr.toLowerCase();
  if (/no such file or directory|no such device/.test(text)) return `there is no video device at ${device} (is the camera plugged in?)`;
  if (/permission denied/.test(text)) return `Vigil may not open ${device} (add its user to the video group)`;
  if (/device or resource busy/.test(text)) return `${device} is in use by another program`;
  if (/inappropriate ioctl|not a video capture device/.test(text)) return `${device} is not a video camera`;
  return `${device} could not be opened as a camera`;
}
