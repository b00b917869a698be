/** Alert events as the pipeline emits them (plain data), with real snapshots. */
import { randomBytes } from "node:crypto";
import type { AlertEvent } from "../../src/domain/events.js";

export function makeAlert(fields: Partial<AlertEvent> & { cameraId: string; at: number; snapshot: Buffer }): AlertEvent {
  return {
    type: "alert",
    id: randomBytes(6).toString("hex"),
    cameraName: fields.cameraId,
    startedAt: fields.at - 1000,
    label: "person",
    score: 0.87,
    box: [40, 30, 120, 110],
    objects: [{ label: "person", score: 0.87, box: [40, 30, 120, 110] }],
    frameWidth: 640,
    frameHeight: 360,
    motionOnly: false,
    mode: "away",
    ...fields,
  };
}
