/**
 * An RTSP camera as the producer of its H.264 feed (h264-feed.ts): one session
 * (session.ts) whose pictures go to detection and recording alike, so the
 * camera sees one client where it used to see two ffmpegs, and each picture
 * leaves at its last packet instead of when the next one begins.
 *
 * A camera this client does not read (H.265, a login other than Basic and
 * Digest MD5, no H.264 track, a redirect to another kind of URL) ends the feed
 * as a fallback: its consumers open the camera with ffmpeg's RTSP input, as
 * before. That is said once in the log, and remembered for as long as Vigil
 * runs, so the camera is not asked again each time a consumer comes back.
 */
import { CameraConnectError, UnsupportedCameraError } from "../../../errors.js";
import { silentLogger, type Logger } from "../../../log.js";
import { maskUrl, redact } from "../../../redact.js";
import { failureOf } from "../backoff.js";
import type { AttemptEnd, H264Producer, ProducerAttempt } from "../h264-feed.js";
import { runRtspSession, type RtspSessionOptions } from "./session.js";

export interface RtspProducerOptions {
  logger?: Logger;
  /** Timeouts and intervals of each session (tests shorten them). */
  session?: Partial<Pick<RtspSessionOptions, "connectTimeoutMs" | "requestTimeoutMs" | "receiverReportMs" | "keepAliveMs" | "limits">>;
}

/** A feed producer for `rtsp://` sources read over TCP. */
export function rtspProducer(options: RtspProducerOptions = {}): (source: string) => H264Producer {
  const logger = options.logger ?? silentLogger;
  /** Cameras found to need ffmpeg's input, by source, with the sentence why. */
  const fallbacks = new Map<string, string>();
  return (source) => {
    const password = new URL(source).password;
    const secrets = password ? [password, decodeURIComponent(password)] : [];
    return {
      // Its own session: a feed for the same URL waits for the previous one's TEARDOWN, and nothing else waits (a
      // camera's main and sub streams run side by side). A key in memory only; never logged.
      device: `rtsp-session:${source}`,
      label: "Vigil's RTSP client",
      start(onUnit, { hadVideo }): ProducerAttempt {
        const known = fallbacks.get(source);
        if (known) return { ended: Promise.resolve<AttemptEnd>({ sentence: known, failure: "rejected", fallback: true }), stop: () => Promise.resolve(), pid: () => undefined };
        const controller = new AbortController();
        let pictures = 0;
        let connected = false;
        const ended = runRtspSession({
          ...options.session,
          url: source,
          logger,
          signal: controller.signal,
          onConnected: () => (connected = true),
          onUnit(unit) {
            pictures++;
            onUnit(unit);
          },
        }).then(
          (end): AttemptEnd => (end === "stopped" ? { sentence: "stopped", failure: "ended" } : { sentence: "the stream ended", failure: "ended", detail: { pictures } }),
          (error: unknown): AttemptEnd => {
            if (error instanceof UnsupportedCameraError) {
              fallbacks.set(source, error.message);
              logger.warn({ url: maskUrl(source), reason: error.message }, "rtsp: this camera is read through ffmpeg's RTSP input instead of Vigil's RTSP client");
              return { sentence: error.message, failure: "rejected", fallback: true };
            }
            const cause = error instanceof Error && error.cause instanceof Error ? redact(error.cause.message, secrets) : undefined;
            if (error instanceof CameraConnectError) {
              // It took the connection and then kept us waiting: its port is open, so watching it would tell nothing (backoff.ts).
              const failure = error.reason === "timeout" && connected ? "silent" : failureOf(error.reason, hadVideo || pictures > 0);
              return { sentence: error.message, failure, detail: { reason: error.reason, ...(cause ? { cause } : {}) } };
            }
            return { sentence: "the stream could not be opened", failure: "rejected", detail: { error: redact(String(error), secrets) } };
          },
        );
        return {
          ended,
          pid: () => undefined,
          async stop() {
            controller.abort();
            await ended;
          },
        };
      },
    };
  };
}
