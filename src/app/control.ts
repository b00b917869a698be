/**
 * The one control interface, over the store, the pipeline and the recorder.
 * Every change goes to the store first (validated, encrypted, atomic); the store
 * announces it and the pipeline and the recorder are reconciled from the store's
 * new state, so what runs always matches what is saved, whoever made the change
 * (chat, CLI, a restart).
 */
import { formatSetting, isSettingKey, parseSetting, validateCameraName } from "../domain/camera.js";
import type { ArmState, CameraProbe, Control, NewCameraInput, Snapshot, SystemStatus } from "../domain/control.js";
import type { CameraDiscovery } from "../domain/discovery.js";
import type { PipelineHandle } from "../domain/pipeline.js";
import type { RecorderHandle } from "../domain/recorder.js";
import { parseStreamUrl } from "../domain/stream-url.js";
import { InputError } from "../errors.js";
import type { Store } from "../store/index.js";

export interface ControlOptions {
  store: Store;
  pipeline: PipelineHandle;
  recorder: RecorderHandle;
  /** Finds ONVIF cameras on the LAN and reads their streams (src/onvif; tests pin it to loopback). */
  discovery: CameraDiscovery;
  /** The clock. Default `Date.now`. */
  now?: () => number;
}

export interface OwnedControl extends Control {
  /** Stops following the store (the pipeline and the recorder are stopped by their owner). */
  close(): void;
}

/** Creates the control and reconciles the pipeline and the recorder with the store once, then after every change. */
export function createControl(options: ControlOptions): OwnedControl {
  const { store, pipeline, recorder } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const reconcile = () => {
    pipeline.reconcile(store.cameras(), store.isArmed());
    recorder.reconcile(store.cameras());
  };
  const unsubscribe = store.onChange((change) => {
    if (change === "cameras" || change === "armed") reconcile();
  });
  reconcile();

  const armState = (): ArmState => ({ systemArmed: store.isArmed(), cameras: store.cameras().map((c) => ({ name: c.name, armed: c.armed })) });

  const setArmed = async (armed: boolean, camera: string | undefined): Promise<ArmState> => {
    const target = camera?.trim();
    if (!target || target.toLowerCase() === "all") await store.setArmed(armed);
    else await store.setArmed(armed, store.requireCamera(target).name);
    return armState();
  };

  const noCameras = () => new InputError("There are no cameras yet; add one with /addcamera.");

  return {
    status(): Promise<SystemStatus> {
      const live = new Map(pipeline.status().map((s) => [s.cameraId, s]));
      const detector = pipeline.detectorStatus();
      return Promise.resolve({
        armed: store.isArmed(),
        cameras: store.cameras().map((camera) => ({ camera, live: live.get(camera.id) })),
        detector: { ok: detector.ok, model: detector.model, ...(detector.reason ? { reason: detector.reason } : {}) },
        disk: recorder.status().disk,
        startedAt,
      });
    },

    cameras: () => store.cameras(),
    isArmed: () => store.isArmed(),
    arm: (camera) => setArmed(true, camera),
    disarm: (camera) => setArmed(false, camera),

    async snapshot(name: string): Promise<Snapshot> {
      return pipeline.snapshot(store.requireCamera(name).id);
    },

    async setSetting(camera, key, value) {
      const target = camera === undefined ? undefined : store.requireCamera(camera).name;
      const patch = parseSetting(key, value);
      if (store.cameras().length === 0) throw noCameras();
      const changed = await store.updateSettings(target, patch);
      const k = key.trim().toLowerCase();
      const first = changed[0];
      return { cameras: changed.map((c) => c.name), display: first && isSettingKey(k) ? formatSetting(k, first.settings) : value.trim() };
    },

    async mute(camera, until) {
      if (until !== null && until <= now()) throw new InputError("A mute must end in the future.");
      if (camera === undefined && store.cameras().length === 0) throw noCameras();
      const changed = await store.setMuted(camera === undefined ? undefined : store.requireCamera(camera).name, until);
      return changed.map((c) => c.name);
    },

    cameraSearchEnabled: () => options.discovery.enabled,
    findCameras: (signal) => options.discovery.find(signal),
    cameraStreams: (camera, login, signal) => options.discovery.streams(camera, login, signal),

    async probeCamera(input: NewCameraInput, signal?: AbortSignal): Promise<CameraProbe> {
      const parsed = parseStreamUrl(input.url);
      return pipeline.probe({ url: parsed.url, username: input.username ?? parsed.username, password: input.password ?? parsed.password }, signal);
    },

    async addCamera(input: NewCameraInput) {
      const name = validateCameraName(input.name);
      const parsed = parseStreamUrl(input.url);
      const recordUrl = input.recordUrl ? parseStreamUrl(input.recordUrl).url : undefined;
      return store.addCamera({ name, url: parsed.url, username: input.username ?? parsed.username, password: input.password ?? parsed.password, recordUrl: recordUrl === parsed.url ? undefined : recordUrl });
    },

    removeCamera: (name) => store.removeCamera(name),
    renameCamera: (name, newName) => store.renameCamera(name, newName),

    events: (n) => recorder.events(n),
    async clip(camera, seconds, signal) {
      return recorder.clip(store.requireCamera(camera).id, seconds, signal);
    },
    eventClip: (alertId) => recorder.eventClip(alertId),

    close: unsubscribe,
  };
}
