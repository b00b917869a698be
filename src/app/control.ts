/**
 * The one control interface, over the store, the pipeline and the recorder.
 * Every change goes to the store first (validated, encrypted, atomic); the store
 * announces it and the pipeline and the recorder are reconciled from the store's
 * new state, so what runs always matches what is saved, whoever made the change
 * (chat, CLI, a restart).
 *
 * The mode is kept here too: the control moves it through the schedules' boundaries
 * (a timer at the next one, or `tick()` with an injected clock), tells the
 * pipeline what is in force, and tells every listener of each change.
 */
import { randomBytes } from "node:crypto";
import { formatSetting, isSettingKey, parseSetting, validateCameraName } from "../domain/camera.js";
import type { ArmState, CameraProbe, Control, ModeView, NewCameraInput, Snapshot, SystemStatus } from "../domain/control.js";
import type { CameraDiscovery } from "../domain/discovery.js";
import { machineTimeZone } from "../domain/local-time.js";
import { exitDelayUntil, MAX_EXIT_DELAY_S, modeInForce, presenceMode, type Mode, type ModeChange, type ModeSource, type ModeState } from "../domain/modes.js";
import type { PipelineHandle } from "../domain/pipeline.js";
import type { RecorderHandle } from "../domain/recorder.js";
import { advanceMode, inWindow, nextBoundaryAt, nextChange } from "../domain/schedule.js";
import { parseStreamUrl } from "../domain/stream-url.js";
import { InputError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import type { Store } from "../store/index.js";

export interface ControlOptions {
  store: Store;
  pipeline: PipelineHandle;
  recorder: RecorderHandle;
  /** Finds ONVIF cameras on the LAN and reads their streams (src/onvif; tests pin it to loopback). */
  discovery: CameraDiscovery;
  /** The clock. Default `Date.now`. */
  now?: () => number;
  /** The zone of schedules and quiet hours (VIGIL_TZ). Default: the machine's. */
  timeZone?: string;
  /** Where changes of mode, and a store that cannot be written, are logged. Default: silent. */
  logger?: Logger;
}

export interface OwnedControl extends Control {
  /** Follows the schedules from now on: applies what has passed, then looks again at each boundary (at least every minute). */
  start(): void;
  /** Applies every schedule boundary up to now (the timer does this; tests with an injected clock call it). Returns the changes made. */
  tick(): Promise<ModeChange[]>;
  /** Stops following the store and the schedules (the pipeline and the recorder are stopped by their owner). */
  close(): void;
}

/** Looked at again at least this often, so a clock that jumps (NTP at boot, a suspended machine) is followed within a minute. */
const LOOK_EVERY_MS = 60_000;

/** Creates the control and reconciles the pipeline and the recorder with the store once, then after every change. */
export function createControl(options: ControlOptions): OwnedControl {
  const { store, pipeline, recorder } = options;
  const now = options.now ?? Date.now;
  const timeZone = options.timeZone ?? machineTimeZone();
  const logger = options.logger ?? silentLogger;
  const startedAt = now();
  /** The mode state in force: the store's, moved on as boundaries pass (kept here too, so a full disk does not stop a schedule). */
  let state: ModeState = store.modeState();
  const listeners = new Set<(change: ModeChange) => void>();
  let queue: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let following = false;

  /** The state with every boundary up to `at` applied (not written). */
  const current = (at = now()) => advanceMode(state, store.schedules(), at, timeZone);

  const reconcile = () => {
    pipeline.reconcile(store.cameras(), modeInForce(current().state, store.exitDelay() * 1000));
    recorder.reconcile(store.cameras());
  };
  const unsubscribe = store.onChange((change) => {
    if (change === "cameras" || change === "mode") reconcile();
    if (change === "schedules") plan();
  });
  reconcile();

  /** Mode changes one at a time: a schedule's tick and a person's /mode never interleave. */
  function serial<R>(task: () => Promise<R>): Promise<R> {
    const next = queue.then(task, task);
    queue = next.catch(() => undefined);
    return next;
  }

  function emit(change: ModeChange): void {
    logger.info({ from: change.from, to: change.to, by: change.by.kind }, "mode changed");
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        logger.error({ err: error }, "a mode change listener threw");
      }
    }
  }

  /** Applies the boundaries that have passed: in force at once, written when the disk allows. */
  async function applyDue(): Promise<ModeChange[]> {
    const { state: next, changes } = current();
    if (next === state) return [];
    state = next;
    try {
      await store.setModeState(next);
    } catch (error) {
      logger.error({ err: error }, "the schedule changed the mode, but it could not be saved; it is in force all the same");
      reconcile();
    }
    for (const change of changes) emit(change);
    return changes;
  }

  /** A person's (or presence's) change: written first, so a store that cannot be written changes nothing and says so. */
  async function change(mode: Mode, by: ModeSource): Promise<ModeChange | undefined> {
    await applyDue();
    const at = now();
    const next: ModeState = { mode, at, by };
    await store.setModeState(next);
    const before = state;
    state = next;
    reconcile();
    if (before.mode === mode) return undefined;
    const made: ModeChange = { from: before.mode, to: mode, at, by };
    emit(made);
    return made;
  }

  const tick = () => serial(applyDue);

  function plan(): void {
    clearTimeout(timer);
    if (!following) return;
    const at = now();
    const next = nextBoundaryAt(store.schedules(), at, timeZone);
    // A little after the boundary, so the clock has certainly passed it.
    const wait = next === undefined ? LOOK_EVERY_MS : Math.min(LOOK_EVERY_MS, Math.max(0, next - at) + 50);
    timer = setTimeout(() => {
      tick()
        .catch((error: unknown) => logger.error({ err: error }, "could not apply the schedules"))
        .finally(plan);
    }, wait);
    timer.unref();
  }

  function view(): ModeView {
    const at = now();
    const { state: s } = current(at);
    const until = exitDelayUntil(s, store.exitDelay() * 1000);
    return {
      mode: s.mode,
      since: s.at,
      by: s.by,
      exitDelayUntil: until !== null && until > at ? until : null,
      next: nextChange(s, store.schedules(), at, timeZone),
      schedules: store.schedules(),
      exitDelay: store.exitDelay(),
      quietHours: store.quietHours(),
      timeZone,
    };
  }

  const armState = (): ArmState => ({ mode: view(), cameras: store.cameras().map((c) => ({ name: c.name, armed: c.armed, modes: [...c.settings.modes] })) });

  const setArmed = async (armed: boolean, camera: string | undefined, by: ModeSource): Promise<ArmState> => {
    const target = camera?.trim();
    if (!target || target.toLowerCase() === "all") await serial(() => change(armed ? "away" : "off", by));
    else await store.setCameraArmed(store.requireCamera(target).name, armed);
    return armState();
  };

  const noCameras = () => new InputError("There are no cameras yet; add one with /addcamera.");

  return {
    status(): Promise<SystemStatus> {
      const live = new Map(pipeline.status().map((s) => [s.cameraId, s]));
      const detector = pipeline.detectorStatus();
      return Promise.resolve({
        mode: view(),
        cameras: store.cameras().map((camera) => ({ camera, live: live.get(camera.id) })),
        detector: { ok: detector.ok, model: detector.model, ...(detector.reason ? { reason: detector.reason } : {}) },
        disk: recorder.status().disk,
        startedAt,
      });
    },

    cameras: () => store.cameras(),
    isArmed: () => current().state.mode !== "off",
    arm: (camera, by = { kind: "chat" }) => setArmed(true, camera, by),
    disarm: (camera, by = { kind: "chat" }) => setArmed(false, camera, by),

    mode: view,
    async setMode(mode, by) {
      await serial(() => change(mode, by));
      return view();
    },
    setPresence: (presence) =>
      serial(async () => {
        await applyDue();
        const to = presenceMode(state.mode, presence);
        return to === undefined ? undefined : change(to, { kind: "presence", presence });
      }),
    onModeChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    addSchedule: (mode, window) => store.addSchedule({ id: randomBytes(4).toString("hex"), mode, ...window, days: [...window.days], createdAt: now() }),
    removeSchedule: (id) => store.removeSchedule(id),
    clearSchedules: () => store.clearSchedules(),
    async setExitDelay(seconds) {
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_EXIT_DELAY_S) throw new InputError(`The exit delay is 0 (none) to ${MAX_EXIT_DELAY_S / 60} minutes, in whole seconds.`);
      await store.setExitDelay(seconds);
    },
    setQuietHours: (window) => store.setQuietHours(window),
    isQuiet(at) {
      const quiet = store.quietHours();
      return quiet !== null && inWindow(quiet, at, timeZone);
    },

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

    start() {
      following = true;
      tick()
        .catch((error: unknown) => logger.error({ err: error }, "could not apply the schedules"))
        .finally(plan);
    },
    tick,
    close() {
      following = false;
      clearTimeout(timer);
      unsubscribe();
    },
  };
}
