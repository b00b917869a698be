/**
 * Which detections may alert on a camera: its classes, minimum score, minimum
 * size and zones, and whether it may alert at all in the mode in force. Pure
 * functions of the detections, the settings, what is in force and the time.
 */
import type { Camera, CameraSettings, MinSize, Polygon } from "../../domain/camera.js";
import { alertsIn, type ModeInForce } from "../../domain/modes.js";
import type { BoxXYXY } from "../../domain/events.js";
import { pointInPolygon } from "../geometry.js";

/** Label of motion-only "objects" when the detector is unavailable. */
export const MOTION_LABEL = "motion";

const VEHICLES = new Set(["car", "truck", "bus"]);

/**
 * What counts as the same kind of object. Detectors flip between car, truck and
 * bus on one vehicle, so these are one family: `classes car` accepts a van
 * labelled truck, and the tracker follows one vehicle as one object.
 */
export function labelFamily(label: string): string {
  return VEHICLES.has(label) ? "car" : label;
}

export function matchesClasses(label: string, classes: readonly string[]): boolean {
  const family = labelFamily(label);
  return classes.some((c) => labelFamily(c) === family);
}

/** `px`: the box's longer side at the 640x360 reference; `%`: the larger of width/frame width and height/frame height. */
export function largeEnough(box: BoxXYXY, minSize: MinSize, frame: { width: number; height: number }): boolean {
  if (minSize.value <= 0) return true;
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  if (minSize.unit === "%") return Math.max(w / frame.width, h / frame.height) * 100 >= minSize.value;
  return Math.max((w * 640) / frame.width, (h * 360) / frame.height) >= minSize.value;
}

/** An object is in a zone when the bottom-centre of its box (where it stands) is. No zones: everywhere. */
export function inZones(box: BoxXYXY, zones: readonly Polygon[], frame: { width: number; height: number }): boolean {
  if (zones.length === 0) return true;
  const x = (box[0] + box[2]) / 2 / frame.width;
  const y = box[3] / frame.height;
  return zones.some((zone) => pointInPolygon(x, y, zone));
}

export type AlertRules = Pick<CameraSettings, "classes" | "score" | "minSize" | "zones">;

/**
 * Whether a camera may alert at `at`: the mode in force is one of its modes,
 * its own switch is on, and it is not muted. Cameras that may not keep their
 * frames flowing (motion, the recorder, snapshots) but never alert.
 */
export function canAlert(camera: Pick<Camera, "armed" | "mutedUntil"> & { settings: Pick<CameraSettings, "modes"> }, inForce: Pick<ModeInForce, "mode">, at: number): boolean {
  return camera.armed && alertsIn(camera.settings.modes, inForce.mode) && (camera.mutedUntil === null || at >= camera.mutedUntil);
}

/** Whether `at` is inside the exit delay after a person armed: visits that start then never alert. */
export function inExitDelay(inForce: ModeInForce, at: number): boolean {
  return inForce.exitDelayUntil !== null && at < inForce.exitDelayUntil;
}
