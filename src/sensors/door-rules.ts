/**
 * The pure decisions about doors: when a reading becomes a state (debounce),
 * when an opened door alerts, and when a camera that waits for its doors may
 * alert. Time is passed in; nothing here has a clock or a timer.
 */

/** A sensor's debounced state and the change waiting to be believed. */
export interface Debounced {
  /** The believed state; undefined until the source has said anything. */
  open: boolean | undefined;
  /** A different state that has been read but not held long enough yet. */
  candidate?: { open: boolean; since: number } | undefined;
}

/**
 * A reading arrived. The believed state changes only once the new state has
 * held for `debounceMs` (see {@link settle}); a reading back to the believed
 * state cancels a waiting change (a bouncing contact, a noisy wire).
 */
export function read(state: Debounced, open: boolean, at: number): Debounced {
  if (open === state.open) return { open: state.open };
  if (state.candidate?.open === open) return state;
  return { open: state.open, candidate: { open, since: at } };
}

/** When the waiting change should be believed (epoch ms), or undefined when none waits. */
export function settleAt(state: Debounced, debounceMs: number): number | undefined {
  return state.candidate ? state.candidate.since + debounceMs : undefined;
}

/** Believes the waiting change if it has held for `debounceMs` by `now`; `changed` says what changed. */
export function settle(state: Debounced, debounceMs: number, now: number): { state: Debounced; changed?: { from: boolean | undefined; to: boolean; since: number } } {
  const c = state.candidate;
  if (!c || now - c.since < debounceMs) return { state };
  return { state: { open: c.open }, changed: { from: state.open, to: c.open, since: c.since } };
}

/**
 * Whether a debounced change alerts: a door that was closed and is now open,
 * while Vigil is armed and the sensor is not muted. The first state a sensor
 * reports after a start (`from` undefined) is not an opening, and a door that
 * stays open is not said again: only a change alerts.
 */
export function doorAlerts(change: { from: boolean | undefined; to: boolean }, alerting: boolean, mutedUntil: number | null, now: number): boolean {
  if (!(change.from === false && change.to)) return false;
  if (!alerting) return false;
  return mutedUntil === null || mutedUntil <= now;
}

/**
 * Whether a camera may alert at `at`: always when its `afterdoor` is 0, else
 * only within `afterDoorMinutes` after one of its linked doors last opened
 * (`lastOpenedAt`, epoch ms; undefined: none has since Vigil started).
 */
export function cameraMayAlert(afterDoorMinutes: number, lastOpenedAt: number | undefined, at: number): boolean {
  if (afterDoorMinutes <= 0) return true;
  if (lastOpenedAt === undefined) return false;
  return at >= lastOpenedAt && at - lastOpenedAt <= afterDoorMinutes * 60_000;
}
