/**
 * Online/offline with a debounce, as pure functions of the time: a camera is
 * reported offline once it has sent no frame for `offlineAfterMs` (from its last
 * frame, or from the start when it never sent one), and back online on its next
 * frame, but only if the offline report went out: a short glitch says nothing.
 */

export interface AvailabilityState {
  /** An offline event was emitted and no frame has come since. */
  offline: boolean;
}

export const INITIAL_AVAILABILITY: AvailabilityState = Object.freeze({ offline: false });

/** Called periodically. */
export function checkOffline(state: AvailabilityState, now: number, lastFrameAt: number, startedAt: number, offlineAfterMs: number): { state: AvailabilityState; offline?: { lastFrameAt: number } } {
  if (state.offline) return { state };
  const silentSince = lastFrameAt || startedAt;
  if (now - silentSince < offlineAfterMs) return { state };
  return { state: { offline: true }, offline: { lastFrameAt } };
}

/** Called on every frame, with the time of the frame before it. */
export function frameArrived(state: AvailabilityState, now: number, previousFrameAt: number, startedAt: number): { state: AvailabilityState; online?: { downtimeMs: number } } {
  if (!state.offline) return { state };
  return { state: { offline: false }, online: { downtimeMs: Math.max(0, now - (previousFrameAt || startedAt)) } };
}
