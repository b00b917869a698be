/**
 * When an event clip starts and ends: pure decisions over the visits of one
 * camera, with the time passed in, so they are tested without clocks, ffmpeg
 * or cameras.
 *
 * A clip covers its visit: from `preRoll` before the visitor was first seen to
 * `postRoll` after they were last seen, and is at most `maxClip` long (a visit
 * that lasts longer gets its first `maxClip` seconds). When the visit had begun
 * so long before its alert that the alert would not fit (something already there
 * that started to move), the pre-roll counts back from the alert instead: the
 * clip is there to show what caused the alert.
 */

export interface ClipTiming {
  /** Seconds before the visitor was first seen. */
  preRoll: number;
  /** Seconds after the visit ended. */
  postRoll: number;
  /** Longest clip, seconds. */
  maxClip: number;
}

export interface ClipPlan {
  cameraId: string;
  /** Every visit (alert id) the clip is for: another visit that begins during an open clip joins it. */
  alertIds: string[];
  /** Its visits that have not ended yet: until they have, the clip runs on to `hardEnd`. */
  open: Set<string>;
  /** Wall ms where the clip should begin. */
  start: number;
  /** The moment the first keyframe must not be later than (the visitor first seen, or the alert). */
  anchor: number;
  /** start + maxClip. */
  hardEnd: number;
  /** The latest alert, or end of a visit. */
  lastActivity: number;
  postRollMs: number;
}

export interface AlertTimes {
  id: string;
  cameraId: string;
  at: number;
  /** When the visitor was first seen. */
  startedAt: number;
}

/** The clip an alert opens. */
export function planClip(alert: AlertTimes, timing: ClipTiming): ClipPlan {
  const max = timing.maxClip * 1000;
  const post = Math.min(timing.postRoll * 1000, max);
  const pre = timing.preRoll * 1000;
  const visitStart = Math.min(alert.startedAt, alert.at);
  const fromVisit = visitStart - pre;
  const fits = alert.at + post - fromVisit <= max;
  // Settings can ask for more pre- and post-roll than maxClip holds; the alert itself must stay in.
  const start = fits ? fromVisit : alert.at - Math.min(pre, max - post);
  return { cameraId: alert.cameraId, alertIds: [alert.id], open: new Set([alert.id]), start, anchor: fits ? visitStart : alert.at, hardEnd: start + max, lastActivity: alert.at, postRollMs: post };
}

/** When the clip ends: `postRoll` after its last visit ended, or at `maxClip` while one goes on. */
export function clipEnd(plan: ClipPlan): number {
  return plan.open.size > 0 ? plan.hardEnd : Math.min(plan.hardEnd, plan.lastActivity + plan.postRollMs);
}

/**
 * Per-camera open clips. Alerts and visit ends go in as they come;
 * {@link ClipPlanner.due} says which clips are complete at a given time.
 */
export class ClipPlanner {
  readonly #open = new Map<string, ClipPlan>();

  /** An alert: joins the camera's open clip if it has not ended yet, else opens one. */
  alert(alert: AlertTimes, timing: ClipTiming): { plan: ClipPlan; joined: boolean } {
    const open = this.#open.get(alert.cameraId);
    if (open && alert.at <= clipEnd(open)) {
      if (!open.alertIds.includes(alert.id)) open.alertIds.push(alert.id);
      open.open.add(alert.id);
      open.lastActivity = Math.max(open.lastActivity, alert.at);
      return { plan: open, joined: true };
    }
    const plan = planClip(alert, timing);
    // An older clip still waiting for its video keeps its own plan under another key.
    if (open) this.#open.set(`${alert.cameraId}\u0000${open.alertIds[0]}`, open);
    this.#open.set(alert.cameraId, plan);
    return { plan, joined: false };
  }

  /** A visit ended: its last object was seen at `lastSeenAt`. */
  visitEnded(alertId: string, lastSeenAt: number): void {
    for (const plan of this.#open.values()) {
      if (!plan.open.delete(alertId)) continue;
      plan.lastActivity = Math.max(plan.lastActivity, lastSeenAt);
    }
  }

  /** Clips whose end is at or before `now`, with that end, earliest first; they stay open until {@link finish}. */
  due(now: number): { plan: ClipPlan; end: number }[] {
    const out: { plan: ClipPlan; end: number }[] = [];
    for (const plan of this.#open.values()) {
      const end = clipEnd(plan);
      if (end <= now) out.push({ plan, end });
    }
    return out.sort((a, b) => a.end - b.end);
  }

  /** Every open clip with its end as things stand (for stopping: finish them with what there is). */
  all(): { plan: ClipPlan; end: number }[] {
    return [...this.#open.values()].map((plan) => ({ plan, end: Math.min(plan.hardEnd, plan.lastActivity + plan.postRollMs) }));
  }

  /** The clip is made (or given up): forget it. */
  finish(plan: ClipPlan): void {
    for (const [key, value] of this.#open) if (value === plan) this.#open.delete(key);
  }

  /** Earliest `start` among open clips of a camera: the ring must keep video from there. */
  keepFrom(cameraId: string): number | undefined {
    let from: number | undefined;
    for (const plan of this.#open.values()) if (plan.cameraId === cameraId && (from === undefined || plan.start < from)) from = plan.start;
    return from;
  }
}
