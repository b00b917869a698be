/**
 * Finding ONVIF cameras and their streams: the {@link CameraDiscovery} that
 * main.ts hands to the bot and the CLI. Our own small client rather than the
 * `onvif` npm package: see the README's dependency table for why.
 */
import type { CameraDiscovery, FoundCamera } from "../domain/discovery.js";
import type { Logger } from "../log.js";
import { DEFAULT_DISCOVERY_TIMEOUT_MS, discoverCameras, type MulticastTarget } from "./discovery.js";
import { readCameraStreams } from "./media.js";

export { DEFAULT_DISCOVERY_TIMEOUT_MS, discoverCameras, parseMulticastTarget, WS_DISCOVERY, type DiscoveryOptions, type DiscoveryResult, type MulticastTarget } from "./discovery.js";
export { chooseStreams, readCameraStreams, type MediaProfile } from "./media.js";

export interface OnvifDiscoveryOptions {
  /** An IPv4 address of this machine to search from (`VIGIL_ONVIF_INTERFACE`). Default: every interface but loopback. */
  interfaceAddress?: string | undefined;
  /** Group and port of the search (`VIGIL_ONVIF_MULTICAST`). Default 239.255.255.250:3702. */
  multicast?: MulticastTarget | undefined;
  /** How long a search listens for answers. Default 3 s; 0 switches the search off (`enabled` false). */
  timeoutMs?: number | undefined;
  /** Per SOAP call to a camera. Default 5 s. */
  callTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
  now?: () => number;
}

export function createOnvifDiscovery(options: OnvifDiscoveryOptions = {}): CameraDiscovery {
  return {
    enabled: options.timeoutMs !== 0,
    async find(signal?: AbortSignal): Promise<FoundCamera[]> {
      if (options.timeoutMs === 0) return [];
      const result = await discoverCameras({ interfaceAddress: options.interfaceAddress, multicast: options.multicast, timeoutMs: options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS, signal });
      options.logger?.info({ cameras: result.cameras.map((c) => `${c.address} ${c.name ?? ""}`.trim()), interfaces: result.interfaces, ignored: result.ignored }, "ONVIF search done");
      return result.cameras;
    },
    streams(camera, login, signal) {
      return readCameraStreams(camera.xaddr, login, { signal, timeoutMs: options.callTimeoutMs, ...(options.now ? { now: options.now } : {}) });
    },
  };
}
