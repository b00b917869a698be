/**
 * Motion start and end with hysteresis, as a pure function of the time: a start
 * needs motion in `startFrames` frames in a row (one noisy frame is not an event),
 * an end needs `endAfterMs` without any. The recorder ends clips on `end`.
 */

export interface MotionEventState {
  active: boolean;
  /** Consecutive motion frames so far (while inactive). */
  streak: number;
  /** Epoch ms of the last frame with motion. */
  lastMotionAt: number;
  /** Epoch ms of the first motion frame of the current event. */
  startedAt: number;
}

export interface MotionEventOptions {
  /** Default 2. */
  startFrames?: number;
  /** Default 3000 ms. */
  endAfterMs?: number;
}

export const INITIAL_MOTION_STATE: MotionEventState = Object.freeze({ active: false, streak: 0, lastMotionAt: 0, startedAt: 0 });

export function nextMotionState(state: MotionEventState, motion: boolean, at: number, options: MotionEventOptions = {}): { state: MotionEventState; change?: "start" | "end" } {
  const startFrames = options.startFrames ?? 2;
  const endAfterMs = options.endAfterMs ?? 3000;
  if (motion) {
    const streak = state.active ? state.streak : state.streak + 1;
    const startedAt = state.active ? state.startedAt : streak === 1 ? at : state.startedAt;
    if (!state.active && streak >= startFrames) return { state: { active: true, streak, lastMotionAt: at, startedAt }, change: "start" };
    return { state: { active: state.active, streak, lastMotionAt: at, startedAt } };
  }
  if (state.active && at - state.lastMotionAt >= endAfterMs) return { state: { ...state, active: false, streak: 0 }, change: "end" };
  return { state: state.active ? state : { ...state, streak: 0 } };
}
