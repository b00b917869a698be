/**
 * What a camera is and what can be set on it. Shared by the store (which persists
 * it), the pipeline (which obeys it) and the bot (which edits it), so that every
 * bound and default lives in exactly one place.
 */
import { InputError } from "../errors.js";
import { COCO_LABELS, normaliseLabel } from "./labels.js";
import { DEFAULT_CAMERA_MODES, parseCameraModes, type Mode } from "./modes.js";

/** A polygon in normalised frame coordinates: x and y from 0 (left/top) to 1 (right/bottom). */
export type Polygon = ReadonlyArray<readonly [number, number]>;

export interface MinSize {
  value: number;
  /** `px`: the longer side of the box, in pixels at the 640x360 reference size; `%`: of the frame's matching side. */
  unit: "px" | "%";
}

export interface CameraSettings {
  /** Changed pixels (counted at 640x360) needed to call it motion. Lower is more sensitive. */
  sensitivity: number;
  /**
   * Seconds a visitor who vanishes inside the picture (behind a tree, a parked
   * car, or missed by the detector) is still the same visit when seen again
   * near where they vanished. Never delays anyone: someone who left through an
   * edge of the picture, or who appears elsewhere, is a new visit at once.
   */
  timeout: number;
  /** COCO labels that alert. */
  classes: string[];
  /** The modes it alerts in (never `off`). Default every armed mode; an indoor camera typically only `away`. */
  modes: Mode[];
  /** Objects smaller than this are ignored. */
  minSize: MinSize;
  /** Minimum detector confidence, 0–1. */
  score: number;
  /** Frames per second decoded for detection. */
  fps: number;
  /** Detection frame size. */
  width: number;
  height: number;
  /** Objects count only when the bottom-centre of their box is inside one of these. Empty: the whole frame. */
  zones: Polygon[];
  /** Motion inside these polygons is ignored (a busy road, a tree). */
  masks: Polygon[];
  /** RTSP transport. */
  transport: "tcp" | "udp";
  /** Seconds without frames before the chat is told the camera is offline. */
  offlineAfter: number;
  /** Seconds of video kept before the first motion of an event. */
  preRoll: number;
  /** Seconds of video after the last motion of an event. */
  postRoll: number;
  /** Longest event clip, in seconds. */
  maxClip: number;
  /**
   * Minutes after one of its linked doors opened during which this camera
   * alerts; 0: it alerts whenever armed (the default). For indoor cameras in
   * a home with pets: cats do not open the front door.
   */
  afterDoor: number;
}

export interface Camera {
  /** Stable identifier; names can change, ids do not. */
  id: string;
  name: string;
  /** Detection stream (sub-stream) URL, without credentials. */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Recording stream (main stream) URL, without credentials. Default: `url`. */
  recordUrl?: string | undefined;
  /** High-resolution JPEG snapshot URL, without credentials. */
  snapshotUrl?: string | undefined;
  /** The camera's own switch: it alerts when this is on and the mode in force is one of its `modes`. */
  armed: boolean;
  /** Epoch ms until which alerts from this camera are muted, or null. */
  mutedUntil: number | null;
  settings: CameraSettings;
}

export const DEFAULT_SETTINGS: Readonly<CameraSettings> = Object.freeze<CameraSettings>({
  sensitivity: 2000,
  timeout: 5,
  classes: ["person"],
  modes: [...DEFAULT_CAMERA_MODES],
  minSize: { value: 0, unit: "px" },
  score: 0.5,
  fps: 5,
  width: 640,
  height: 360,
  zones: [],
  masks: [],
  transport: "tcp",
  offlineAfter: 60,
  preRoll: 5,
  postRoll: 5,
  maxClip: 30,
  afterDoor: 0,
});

export function defaultSettings(): CameraSettings {
  return structuredClone(DEFAULT_SETTINGS);
}

/** Names people can type in a command: letters, digits, `_` and `-`, up to 32. */
const NAME_PATTERN = /^[\p{L}\p{N}_-]{1,32}$/u;
const RESERVED_NAMES = new Set(["all"]);

export function validateCameraName(raw: string): string {
  const name = raw.trim();
  if (!NAME_PATTERN.test(name)) {
    throw new InputError("A camera name is 1 to 32 letters, digits, `_` or `-`, with no spaces (for example front_door).");
  }
  if (RESERVED_NAMES.has(name.toLowerCase())) throw new InputError(`"${name}" is reserved; choose another camera name.`);
  return name;
}

/** A satellite's name (`vigil satellite join --site`): 1 to 32 letters, digits, `_` or `-`. */
export function validateSiteName(raw: string): string {
  const site = raw.trim();
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(site)) throw new InputError("A satellite's name is 1 to 32 letters, digits, `_` or `-` (for example garage).");
  return site;
}

/** The one sentence for a camera name that does not exist, listing those that do. */
export function unknownCameraError(name: string, cameras: readonly { name: string }[]): InputError {
  const shown = name.length > 32 ? `${name.slice(0, 32)}…` : name;
  return new InputError(cameras.length ? `There is no camera called "${shown}"; the cameras are ${cameras.map((c) => c.name).join(", ")}.` : `There is no camera called "${shown}"; there are no cameras yet (add one with /addcamera).`);
}

/** Finds a camera by name, case-insensitively. */
export function findCamera<T extends { name: string }>(cameras: readonly T[], name: string): T | undefined {
  const key = name.trim().toLowerCase();
  return cameras.find((c) => c.name.toLowerCase() === key);
}

/** The settings a user may change with `/set`, with their bounds, in the order `/help` lists them. */
export const SETTING_KEYS = ["modes", "sensitivity", "timeout", "classes", "minsize", "score", "fps", "size", "zone", "mask", "transport", "offline", "preroll", "postroll", "maxclip", "afterdoor"] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

interface NumberBound {
  min: number;
  max: number;
  integer: boolean;
  field: "sensitivity" | "timeout" | "score" | "fps" | "offlineAfter" | "preRoll" | "postRoll" | "maxClip" | "afterDoor";
  unit: string;
  help: string;
}

const NUMBER_SETTINGS: Partial<Record<SettingKey, NumberBound>> = {
  sensitivity: { field: "sensitivity", min: 10, max: 230_400, integer: true, unit: "changed pixels", help: "changed pixels (at 640x360) needed to call it motion; lower is more sensitive" },
  timeout: { field: "timeout", min: 1, max: 120, integer: true, unit: "s", help: "seconds someone who vanishes inside the picture (behind a tree or a car) is still the same visit if seen again there; never delays a new visitor, who is alerted at once" },
  score: { field: "score", min: 0.1, max: 0.99, integer: false, unit: "", help: "minimum detector confidence, 0.1 to 0.99" },
  fps: { field: "fps", min: 0.5, max: 30, integer: false, unit: "fps", help: "frames per second analysed" },
  offline: { field: "offlineAfter", min: 5, max: 86_400, integer: true, unit: "s", help: "seconds without video before an offline message" },
  preroll: { field: "preRoll", min: 0, max: 30, integer: true, unit: "s", help: "seconds of video kept before motion starts" },
  postroll: { field: "postRoll", min: 0, max: 60, integer: true, unit: "s", help: "seconds recorded after motion ends" },
  maxclip: { field: "maxClip", min: 5, max: 120, integer: true, unit: "s", help: "longest event clip" },
  afterdoor: { field: "afterDoor", min: 0, max: 240, integer: true, unit: "min", help: "minutes after one of its linked doors opened during which the camera alerts (vigil sensor link); 0: whenever armed" },
};

export const SETTING_HELP: Record<SettingKey, string> = {
  modes: "the modes it alerts in, comma-separated: home, away, night (an indoor camera: away)",
  sensitivity: NUMBER_SETTINGS.sensitivity!.help,
  timeout: NUMBER_SETTINGS.timeout!.help,
  classes: "objects that alert, comma-separated COCO names (person, car, dog, cat, ...)",
  minsize: "smallest object that alerts: pixels (longer side, at 640x360) or a percentage like 5%",
  score: NUMBER_SETTINGS.score!.help,
  fps: NUMBER_SETTINGS.fps!.help,
  size: "detection frame size, like 640x360",
  zone: "where objects count: x,y points from 0 to 1 (e.g. 0,0.5 1,0.5 1,1 0,1), `;` between zones, or off",
  mask: "where motion is ignored: same form as zone, or off",
  transport: "RTSP transport: tcp or udp",
  offline: NUMBER_SETTINGS.offline!.help,
  preroll: NUMBER_SETTINGS.preroll!.help,
  postroll: NUMBER_SETTINGS.postroll!.help,
  maxclip: NUMBER_SETTINGS.maxclip!.help,
  afterdoor: NUMBER_SETTINGS.afterdoor!.help,
};

export function isSettingKey(key: string): key is SettingKey {
  return (SETTING_KEYS as readonly string[]).includes(key);
}

function parseNumber(key: string, raw: string, bound: NumberBound): number {
  const text = raw.trim().replace(/s$/i, bound.unit === "s" ? "" : "s").replace(/\s*min$/i, bound.unit === "min" ? "" : "min");
  // Plain decimal notation only: "1e12", "0x10", "Infinity" and "" are not numbers a person types.
  if (!/^-?\d+(\.\d+)?$/.test(text)) {
    throw new InputError(`${key} must be a number from ${bound.min} to ${bound.max}${bound.unit && bound.unit !== "changed pixels" ? ` ${bound.unit}` : ""}; "${truncate(raw)}" is not.`);
  }
  const value = Number(text);
  if (bound.integer && !Number.isInteger(value)) throw new InputError(`${key} must be a whole number from ${bound.min} to ${bound.max}.`);
  if (value < bound.min || value > bound.max) throw new InputError(`${key} must be from ${bound.min} to ${bound.max}; ${truncate(text)} is out of range.`);
  return value;
}

function truncate(text: string, max = 40): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

export function parseClasses(raw: string): string[] {
  const parts = raw.split(",").map((part) => part.trim()).filter(Boolean);
  if (parts.length === 0) throw new InputError("classes needs at least one object name, for example person or person,car.");
  const out: string[] = [];
  for (const part of parts) {
    const label = normaliseLabel(part);
    if (!label) throw new InputError(`"${truncate(part)}" is not an object Vigil knows; try person, car, dog, cat, bicycle, truck, bird.`);
    if (!out.includes(label)) out.push(label);
  }
  return out;
}

export function parseMinSize(raw: string): MinSize {
  const match = /^(\d+(?:\.\d+)?)\s*(px|%)?$/i.exec(raw.trim());
  if (!match) throw new InputError(`minsize must be pixels (like 40) or a percentage (like 5%); "${truncate(raw)}" is neither.`);
  const value = Number(match[1]);
  const unit = match[2] === "%" ? "%" : "px";
  if (unit === "%" && value > 100) throw new InputError("minsize as a percentage must be from 0% to 100%.");
  if (unit === "px" && value > 640) throw new InputError("minsize in pixels must be from 0 to 640 (measured at 640x360).");
  return { value, unit };
}

export function parseSize(raw: string): { width: number; height: number } {
  const match = /^(\d{2,4})\s*[x×]\s*(\d{2,4})$/i.exec(raw.trim());
  if (!match) throw new InputError(`size must look like 640x360; "${truncate(raw)}" does not.`);
  const width = Number(match[1]);
  const height = Number(match[2]);
  if (width < 160 || height < 90 || width > 1920 || height > 1080) throw new InputError("size must be from 160x90 to 1920x1080.");
  if (width % 2 || height % 2) throw new InputError("size must have even width and height, like 640x360.");
  return { width, height };
}

/** `0,0.5 1,0.5 1,1 0,1; ...` → polygons. `off`, `none` or `clear` → no polygons. */
export function parsePolygons(key: string, raw: string): Polygon[] {
  const text = raw.trim().toLowerCase();
  if (["off", "none", "clear", "all"].includes(text)) return [];
  const polygons: Polygon[] = [];
  for (const chunk of text.split(";").map((c) => c.trim()).filter(Boolean)) {
    const points = chunk.split(/\s+/).map((pair) => {
      const m = /^(\d*\.?\d+),(\d*\.?\d+)$/.exec(pair);
      if (!m) throw new InputError(`${key} points are x,y pairs from 0 to 1 separated by spaces (like 0,0.5 1,0.5 1,1 0,1); "${truncate(pair)}" is not one.`);
      const x = Number(m[1]);
      const y = Number(m[2]);
      if (x > 1 || y > 1) throw new InputError(`${key} coordinates go from 0 to 1 (fractions of the frame); "${truncate(pair)}" is outside.`);
      return [x, y] as const;
    });
    if (points.length < 3 || points.length > 32) throw new InputError(`A ${key} needs 3 to 32 points.`);
    polygons.push(points);
  }
  if (polygons.length === 0 || polygons.length > 8) throw new InputError(`Give 1 to 8 ${key}s, separated by ";", or "off".`);
  return polygons;
}

/**
 * Parses what a user typed for one setting into a settings patch. Throws an
 * {@link InputError} with a one-sentence explanation when the value is not acceptable.
 */
export function parseSetting(key: string, raw: string): Partial<CameraSettings> {
  const k = key.trim().toLowerCase();
  if (!isSettingKey(k)) throw new InputError(`There is no setting called "${truncate(key, 20)}"; the settings are ${SETTING_KEYS.join(", ")}.`);
  if (raw.trim() === "") throw new InputError(`Give a value for ${k}: ${SETTING_HELP[k]}.`);
  const bound = NUMBER_SETTINGS[k];
  if (k === "afterdoor" && ["off", "none", "0"].includes(raw.trim().toLowerCase())) return { afterDoor: 0 };
  if (bound) return { [bound.field]: parseNumber(k, raw, bound) };
  switch (k) {
    case "modes":
      return { modes: parseCameraModes(raw) };
    case "classes":
      return { classes: parseClasses(raw) };
    case "minsize":
      return { minSize: parseMinSize(raw) };
    case "size":
      return parseSize(raw);
    case "zone":
      return { zones: parsePolygons("zone", raw) };
    case "mask":
      return { masks: parsePolygons("mask", raw) };
    case "transport": {
      const t = raw.trim().toLowerCase();
      if (t !== "tcp" && t !== "udp") throw new InputError("transport must be tcp or udp.");
      return { transport: t };
    }
    default:
      throw new InputError(`${k} cannot be set this way.`);
  }
}

/** How a setting reads back to a person (`/get`). */
export function formatSetting(key: SettingKey, s: CameraSettings): string {
  const bound = NUMBER_SETTINGS[key];
  if (bound) {
    const value = s[bound.field];
    if (bound.field === "afterDoor") return value === 0 ? "off (alerts whenever armed)" : `${value} min`;
    return bound.unit === "s" ? `${value} s` : String(value);
  }
  switch (key) {
    case "modes":
      return s.modes.join(", ");
    case "classes":
      return s.classes.join(", ");
    case "minsize":
      return `${s.minSize.value}${s.minSize.unit === "%" ? "%" : " px"}`;
    case "size":
      return `${s.width}x${s.height}`;
    case "zone":
      return s.zones.length ? s.zones.map((p) => p.map(([x, y]) => `${x},${y}`).join(" ")).join("; ") : "whole frame";
    case "mask":
      return s.masks.length ? s.masks.map((p) => p.map(([x, y]) => `${x},${y}`).join(" ")).join("; ") : "none";
    case "transport":
      return s.transport;
    default:
      return "";
  }
}

export { COCO_LABELS };
