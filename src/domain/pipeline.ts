/**
 * The pipeline as the rest of Vigil sees it. `src/pipeline` implements it
 * (`createPipeline`); `src/app/control.ts` and `src/main.ts` use it. Nothing here
 * knows about Telegram.
 */
import type { Camera } from "./camera.js";
import type { CameraProbe, Snapshot } from "./control.js";
import type { CameraStatus, PipelineEvent } from "./events.js";
import type { ModeInForce } from "./modes.js";

export interface ProbeInput {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  transport?: "tcp" | "udp";
}

export interface DetectorStatus {
  ok: boolean;
  /** Model name, e.g. yolox-nano-416. */
  model: string;
  /** Why it is not ok (model missing, session error); shown by /status. */
  reason?: string;
}

export interface PipelineHandle {
  /**
   * Makes the running camera workers match `cameras`: starts new ones, stops removed
   * ones, restarts those whose stream changed, and applies settings, switches,
   * mutes and the mode in force in place. Called at start, after every change
   * to the store and whenever the mode changes.
   */
  reconcile(cameras: readonly Camera[], inForce: ModeInForce): void;
  /** Every event, in order. Returns the unsubscribe function. */
  subscribe(listener: (event: PipelineEvent) => void): () => void;
  /** The newest frame of a camera, annotated with its confirmed objects. */
  snapshot(cameraId: string): Promise<Snapshot>;
  /** Live figures for every camera. */
  status(): CameraStatus[];
  detectorStatus(): DetectorStatus;
  /** Opens a stream once and returns its first frame, saving nothing. */
  probe(input: ProbeInput, signal?: AbortSignal): Promise<CameraProbe>;
  /** Stops every ffmpeg child and timer. */
  stop(): Promise<void>;
}
