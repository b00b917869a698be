/**
 * Who produces each kind of fed stream (input-options.ts `isFedStream`): the Pi
 * camera's rpicam-vid for `picam:N`, Vigil's RTSP client for `rtsp://` over TCP.
 */
import { streamKind } from "../../domain/stream-url.js";
import type { Logger } from "../../log.js";
import type { H264Producer } from "./h264-feed.js";
import { rpicamProducer } from "./rpicam.js";
import { rtspProducer, type RtspProducerOptions } from "./rtsp/producer.js";

export interface FeedProducersOptions {
  /** VIGIL_RPICAM; default rpicam-vid (or libcamera-vid) on PATH. */
  rpicamPath?: string | undefined;
  logger?: Logger;
  /** The RTSP client's timeouts (tests shorten them). */
  rtsp?: RtspProducerOptions["session"];
}

/** The producer for a fed source; throws for a source no producer reads. */
export function feedProducers(options: FeedProducersOptions = {}): (source: string) => H264Producer {
  const picam = rpicamProducer({ binary: options.rpicamPath, ...(options.logger ? { logger: options.logger } : {}) });
  const rtsp = rtspProducer({ ...(options.logger ? { logger: options.logger } : {}), ...(options.rtsp ? { session: options.rtsp } : {}) });
  return (source) => {
    const kind = streamKind(source);
    if (kind === "picam") return picam(source);
    if (kind === "rtsp") return rtsp(source);
    throw new Error(`${kind} streams are not read through a feed.`);
  };
}
