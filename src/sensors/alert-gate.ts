/**
 * `afterdoor`: a camera that alerts only in the minutes after one of its doors
 * opened. Its alerts outside that window are dropped before anything sees them
 * (the chat, the recorder, MQTT), and so are their visit's news and clip; a
 * visit that began inside the window is followed to its end. Motion, online
 * and offline always pass. The decision is {@link cameraMayAlert}'s.
 */
import type { Camera } from "../domain/camera.js";
import type { PipelineEvent } from "../domain/events.js";
import { cameraMayAlert } from "./door-rules.js";

export interface AlertGate {
  /** False: drop the event. */
  pass(event: PipelineEvent): boolean;
}

export function createAlertGate(cameras: () => readonly Camera[], lastOpenedFor: (cameraId: string) => number | undefined): AlertGate {
  const dropped = new Set<string>();
  return {
    pass(event) {
      switch (event.type) {
        case "alert": {
          const camera = cameras().find((c) => c.id === event.cameraId);
          if (!camera || cameraMayAlert(camera.settings.afterDoor, lastOpenedFor(camera.id), event.at)) return true;
          dropped.add(event.id);
          if (dropped.size > 1000) dropped.delete(dropped.values().next().value!);
          return false;
        }
        case "visit":
          return !dropped.has(event.id);
        case "clip-ready":
          return !dropped.has(event.alertId);
        default:
          return true;
      }
    },
  };
}
