/**
 * Should this processed frame alert? One pure function of the state, the
 * detections and the time (`decideAlerts(state, input)`), so every rule is tested
 * without clocks, cameras or a detector.
 */
import type { CameraSettings } from "../../domain/camera.js";
import type { DetectedObject } from "../../domain/events.js";
import { alertCandidates, labelFamily } from "./alert-rules.js";
import { confirm, DEFAULT_CONFIRMATION, INITIAL_CONFIRMATION, type ConfirmationRule, type ConfirmationState } from "./confirmation.js";

export interface AlertState {
  confirmation: ConfirmationState;
  /** Epoch ms of the last alert per label family (the per camera+class timeout). */
  lastAlertAt: Readonly<Record<string, number>>;
}

export const INITIAL_ALERT_STATE: AlertState = Object.freeze({ confirmation: INITIAL_CONFIRMATION, lastAlertAt: Object.freeze({}) });

export interface AlertInput {
  /** Detections of this frame, or motion boxes labelled "motion" when the detector is unavailable. */
  objects: readonly DetectedObject[];
  /** Epoch ms of the frame. */
  at: number;
  frame: { width: number; height: number };
  settings: Pick<CameraSettings, "classes" | "score" | "minSize" | "zones" | "timeout">;
  /** System and camera armed. */
  armed: boolean;
  /** Epoch ms until which the camera is muted, or null. */
  mutedUntil: number | null;
}

export interface AlertDecision {
  state: AlertState;
  /** One object per label family whose timeout has passed, highest score first. */
  alerts: DetectedObject[];
  /** Every confirmed object of this frame (drawn on the snapshot). */
  confirmed: DetectedObject[];
  /** Something that may alert was seen but nothing is confirmed yet: the next frames decide (the worker analyses them all). */
  pending: boolean;
}

/** Disarmed or muted cameras keep their frames flowing but never alert. */
export function canAlert(armed: boolean, mutedUntil: number | null, at: number): boolean {
  return armed && (mutedUntil === null || at >= mutedUntil);
}

export function decideAlerts(state: AlertState, input: AlertInput, rule: ConfirmationRule = DEFAULT_CONFIRMATION): AlertDecision {
  if (!canAlert(input.armed, input.mutedUntil, input.at)) return { state, alerts: [], confirmed: [], pending: false };
  const candidates = alertCandidates(input.objects, input.settings, input.frame);
  const { state: confirmation, confirmed } = confirm(state.confirmation, { at: input.at, objects: candidates }, rule);
  const lastAlertAt = { ...state.lastAlertAt };
  const alerts: DetectedObject[] = [];
  for (const object of [...confirmed].sort((a, b) => b.score - a.score)) {
    const family = labelFamily(object.label);
    const last = lastAlertAt[family];
    if (last !== undefined && input.at - last < input.settings.timeout * 1000) continue;
    lastAlertAt[family] = input.at;
    alerts.push(object);
  }
  return { state: { confirmation, lastAlertAt }, alerts, confirmed, pending: candidates.length > 0 && confirmed.length === 0 };
}
