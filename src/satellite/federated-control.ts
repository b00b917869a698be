/**
 * The hub's control over every box: its own cameras through its own control,
 * the satellites' cameras through the link. The bot is given this and does
 * not know the difference: `/status`, `/snapshot all`, `/mute`, `/set`,
 * `/clip`, the alert buttons and `/addcamera` reach whichever box has the
 * camera. A satellite's camera is named `site/camera` (the bare name works
 * too when no other box has a camera of that name).
 *
 * The mode, schedules, exit delay and quiet hours are the hub's; the link
 * passes the mode on to every satellite.
 */
import { defaultSettings, type Camera, type CameraSettings } from "../domain/camera.js";
import type { ArmState, CameraProbe, CameraState, NewCameraInput, Snapshot, SystemStatus } from "../domain/control.js";
import type { ModeSource } from "../domain/modes.js";
import type { VideoClip } from "../domain/recorder.js";
import { InputError, userMessage } from "../errors.js";
import type { OwnedControl } from "../app/control.js";
import type { HubLink } from "./hub-link.js";
import { qualifiedName, remoteCameraId, resolveCamera, siteOfNewCamera, splitRemoteCameraId, type PublicCamera } from "./protocol.js";

export interface FederatedControlOptions {
  local: OwnedControl;
  link: HubLink;
  /** Where an event's stored clip is read when it is on the hub already (the recorder's history holds satellites' clips once fetched). */
  history: { get(id: string): { cameraId: string; clip?: unknown } | undefined };
}

/** A satellite's camera as the hub's chat sees it. */
export function remoteCamera(satelliteId: string, site: string, camera: PublicCamera): Camera {
  return {
    id: remoteCameraId(satelliteId, camera.id),
    name: qualifiedName(site, camera.name),
    url: camera.url,
    ...(camera.recordUrl ? { recordUrl: camera.recordUrl } : {}),
    armed: camera.armed,
    mutedUntil: camera.mutedUntil,
    settings: { ...defaultSettings(), ...(camera.settings as Partial<CameraSettings>) },
  };
}

export function createFederatedControl(options: FederatedControlOptions): OwnedControl {
  const { local, link } = options;

  const satellites = () => link.adoptedSatellites().map((s) => ({ ...s, cameras: [...s.cameras] }));
  const remoteCameras = (): Camera[] => satellites().flatMap((s) => s.cameras.map((c) => remoteCamera(s.id, s.site, c)));
  const allNames = () => [...local.cameras(), ...remoteCameras()];

  /** The box a typed camera name belongs to, or the sentence for a name that is no camera. */
  function owner(name: string) {
    const found = resolveCamera(name, local.cameras(), satellites());
    if (found.box === "none") {
      const names = allNames().map((c) => c.name);
      const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name;
      throw new InputError(names.length ? `There is no camera called "${shown}"; the cameras are ${names.join(", ")}.` : `There is no camera called "${shown}"; there are no cameras yet (add one with /addcamera).`);
    }
    if (found.box === "ambiguous") throw new InputError(`Several boxes have a camera called ${name.slice(0, 32)}: say which, ${found.names.join(" or ")}.`);
    return found;
  }

  const siteOf = (site: string) => {
    const found = satellites().find((s) => s.site.toLowerCase() === site.toLowerCase());
    if (!found) throw new InputError(`There is no satellite called ${site.slice(0, 32)}; /satellites lists them.`);
    return found;
  };

  const withRemote = (state: ArmState): ArmState => ({
    mode: state.mode,
    cameras: [...state.cameras, ...remoteCameras().map((c) => ({ name: c.name, armed: c.armed, modes: [...c.settings.modes] }))],
  });

  const localArmState = (): ArmState => ({ mode: local.mode(), cameras: local.cameras().map((c) => ({ name: c.name, armed: c.armed, modes: [...c.settings.modes] })) });

  const cameraFromAnswer = (satelliteId: string, site: string, result: unknown): Camera => remoteCamera(satelliteId, site, (result as { camera: PublicCamera }).camera);

  /** Applies `each` to the hub's cameras (if any) and every satellite that answers; one sentence lists the boxes that did not. */
  async function everywhere<T>(what: string, localPart: () => Promise<T[]>, remotePart: (satelliteId: string, site: string) => Promise<T[]>): Promise<T[]> {
    const out: T[] = [];
    const failed: string[] = [];
    const sats = satellites().filter((s) => s.cameras.length > 0);
    if (local.cameras().length === 0 && sats.length === 0) throw new InputError("There are no cameras yet; add one with /addcamera.");
    if (local.cameras().length > 0) out.push(...(await localPart()));
    const results = await Promise.allSettled(sats.map((s) => remotePart(s.id, s.site)));
    results.forEach((r, i) => (r.status === "fulfilled" ? out.push(...r.value) : failed.push(`${sats[i]!.site} (${userMessage(r.reason)})`)));
    if (failed.length) throw new InputError(`${what} ${out.length ? `was done on ${out.length} camera(s), but not on the satellite ${failed.join("; ")}` : `was not done: ${failed.join("; ")}`}`.replace(/\.?$/, "."));
    return out;
  }

  const control: OwnedControl = {
    async status(): Promise<SystemStatus> {
      const own = await local.status();
      const remote: CameraState[] = link.adoptedSatellites().flatMap((s) =>
        s.cameras.map((camera) => {
          const heard = s.live?.find((c) => c.camera.id === camera.id)?.live;
          const shown = remoteCamera(s.id, s.site, camera);
          const live = s.silent
            ? { cameraId: shown.id, cameraName: shown.name, state: "offline" as const, fps: 0, framesIn: 0, framesDropped: 0, lastFrameAt: heard?.lastFrameAt ?? 0, lastMotionAt: heard?.lastMotionAt ?? 0, lastAlertAt: heard?.lastAlertAt ?? 0, lastError: `the satellite ${s.site} is silent`, restarts: heard?.restarts ?? 0 }
            : heard
              ? { cameraId: shown.id, cameraName: shown.name, ...heard }
              : undefined;
          return { camera: shown, live };
        }),
      );
      return { ...own, cameras: [...own.cameras, ...remote] };
    },

    cameras: () => allNames(),
    isArmed: () => local.isArmed(),

    async arm(camera?: string, by?: ModeSource) {
      if (!camera || camera.trim().toLowerCase() === "all" || owner(camera).box === "local") return withRemote(await local.arm(camera, by));
      const o = owner(camera);
      if (o.box !== "satellite") throw new Error("unreachable");
      await link.request(o.satelliteId, { op: "arm", camera: o.name, armed: true });
      return withRemote(localArmState());
    },
    async disarm(camera?: string, by?: ModeSource) {
      if (!camera || camera.trim().toLowerCase() === "all" || owner(camera).box === "local") return withRemote(await local.disarm(camera, by));
      const o = owner(camera);
      if (o.box !== "satellite") throw new Error("unreachable");
      await link.request(o.satelliteId, { op: "arm", camera: o.name, armed: false });
      return withRemote(localArmState());
    },

    mode: () => local.mode(),
    setMode: (mode, by) => local.setMode(mode, by),
    setPresence: (presence) => local.setPresence(presence),
    onModeChange: (listener) => local.onModeChange(listener),
    addSchedule: (mode, window) => local.addSchedule(mode, window),
    removeSchedule: (id) => local.removeSchedule(id),
    clearSchedules: () => local.clearSchedules(),
    setExitDelay: (seconds) => local.setExitDelay(seconds),
    setQuietHours: (window) => local.setQuietHours(window),
    isQuiet: (at) => local.isQuiet(at),

    async snapshot(name: string): Promise<Snapshot> {
      const o = owner(name);
      if (o.box === "local") return local.snapshot(o.name);
      if (o.box !== "satellite") throw new Error("unreachable");
      const answer = await link.request(o.satelliteId, { op: "snapshot", camera: o.name });
      const result = answer.result as { cameraId: string; at: number };
      return { cameraId: remoteCameraId(o.satelliteId, result.cameraId), cameraName: qualifiedName(o.site, o.name), jpeg: answer.attachment, at: result.at };
    },

    async setSetting(camera, key, value) {
      if (camera !== undefined) {
        const o = owner(camera);
        if (o.box === "local") return local.setSetting(o.name, key, value);
        if (o.box !== "satellite") throw new Error("unreachable");
        const answer = await link.request(o.satelliteId, { op: "set", camera: o.name, key, value });
        const result = answer.result as { cameras: string[]; display: string };
        return { cameras: result.cameras.map((c) => qualifiedName(o.site, c)), display: result.display };
      }
      let display = value.trim();
      const cameras = await everywhere(
        `Setting ${key}`,
        async () => {
          const result = await local.setSetting(undefined, key, value);
          display = result.display;
          return result.cameras;
        },
        async (id, site) => {
          const result = (await link.request(id, { op: "set", key, value })).result as { cameras: string[]; display: string };
          if (local.cameras().length === 0) display = result.display;
          return result.cameras.map((c) => qualifiedName(site, c));
        },
      );
      return { cameras, display };
    },

    async mute(camera, until) {
      if (camera !== undefined) {
        const o = owner(camera);
        if (o.box === "local") return local.mute(o.name, until);
        if (o.box !== "satellite") throw new Error("unreachable");
        if (until !== null && until <= Date.now()) throw new InputError("A mute must end in the future.");
        const result = (await link.request(o.satelliteId, { op: "mute", camera: o.name, until })).result as { cameras: string[] };
        return result.cameras.map((c) => qualifiedName(o.site, c));
      }
      return everywhere(
        until === null ? "Unmuting" : "Muting",
        () => local.mute(undefined, until),
        async (id, site) => ((await link.request(id, { op: "mute", until })).result as { cameras: string[] }).cameras.map((c) => qualifiedName(site, c)),
      );
    },

    cameraSearchEnabled: () => local.cameraSearchEnabled(),
    findCameras: (signal) => local.findCameras(signal),
    cameraStreams: (camera, login, signal) => local.cameraStreams(camera, login, signal),

    async probeCamera(input: NewCameraInput, signal?: AbortSignal): Promise<CameraProbe> {
      const at = siteOfNewCamera(input.name);
      if (!at) return local.probeCamera(input, signal);
      const sat = siteOf(at.site);
      const answer = await link.request(sat.id, { op: "probe-camera", input: { ...input, name: at.camera } });
      const result = answer.result as { firstFrameMs: number; width: number; height: number };
      return { jpeg: answer.attachment, ...result };
    },

    async addCamera(input: NewCameraInput) {
      const at = siteOfNewCamera(input.name);
      if (!at) return local.addCamera(input);
      const sat = siteOf(at.site);
      const answer = await link.request(sat.id, { op: "add-camera", input: { ...input, name: at.camera } });
      return cameraFromAnswer(sat.id, sat.site, answer.result);
    },

    async removeCamera(name) {
      const o = owner(name);
      if (o.box === "local") return local.removeCamera(o.name);
      if (o.box !== "satellite") throw new Error("unreachable");
      return cameraFromAnswer(o.satelliteId, o.site, (await link.request(o.satelliteId, { op: "remove-camera", camera: o.name })).result);
    },

    async renameCamera(name, newName) {
      const o = owner(name);
      if (o.box === "local") return local.renameCamera(o.name, newName);
      if (o.box !== "satellite") throw new Error("unreachable");
      // `garage/porch` or `porch`: a camera stays on its box.
      const target = siteOfNewCamera(newName);
      if (target && target.site.toLowerCase() !== o.site.toLowerCase()) throw new InputError(`A camera stays on its box: rename ${qualifiedName(o.site, o.name)} to a name without a site, or ${o.site}/<name>.`);
      return cameraFromAnswer(o.satelliteId, o.site, (await link.request(o.satelliteId, { op: "rename-camera", camera: o.name, newName: target ? target.camera : newName })).result);
    },

    events: (n) => local.events(n),

    async clip(camera, seconds, signal): Promise<VideoClip> {
      const o = owner(camera);
      if (o.box === "local") return local.clip(o.name, seconds, signal);
      if (o.box !== "satellite") throw new Error("unreachable");
      const answer = await link.request(o.satelliteId, { op: "clip", camera: o.name, ...(seconds !== undefined ? { seconds } : {}) });
      const result = answer.result as { durationSeconds: number; width: number; height: number; transcoded: boolean };
      return { mp4: answer.attachment, bytes: answer.attachment.length, ...result };
    },

    async eventClip(alertId) {
      const entry = options.history.get(alertId);
      const remote = entry ? splitRemoteCameraId(entry.cameraId) : undefined;
      if (!remote || entry?.clip) return local.eventClip(alertId);
      // A satellite's event whose clip is not on the hub yet: fetched now.
      const answer = await link.request(remote.satelliteId, { op: "event-clip", alertId });
      const result = answer.result as { durationSeconds: number; width: number; height: number; transcoded: boolean };
      return { mp4: answer.attachment, bytes: answer.attachment.length, ...result };
    },

    start: () => local.start(),
    tick: () => local.tick(),
    close: () => local.close(),
  };
  return control;
}
