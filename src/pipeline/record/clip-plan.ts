/**
 * When an event clip starts and ends: pure decisions over the alert and motion
 * events of one camera, with the time passed in, so they are tested without
 * clocks, ffmpeg or cameras.
 *
 * A clip runs from `preRoll` before the first motion of the event to `postRoll`
 * after its last motion or alert, and is at most `maxClip` long. When motion
 * had been going on for so long before the alert that the alert would not fit,
 * the pre-roll counts back from the alert instead: the clip is there to show
 * what caused the alert, not the tree that swayed for a minute before it.
 */

export interface ClipTiming {
  /** Seconds before the first motion. */
  preRoll: number;
  /** Seconds after the last motion or alert. */
  postRoll: number;
  /** Longest clip, seconds. */
  maxClip: number;
}

export interface ClipPlan {
  cameraId: string;
  /** Every alert the clip is for: later alerts during an open clip join it. */
  alertIds: string[];
  /** Wall ms where the clip should begin. */
  start: number;
  /** The moment the first keyframe must not be later than (first motion, or the alert). */
  anchor: number;
  /** start + maxClip. */
  hardEnd: number;
  /** Newest alert or end of motion seen during the clip. */
  lastActivity: number;
  postRollMs: number;
}

export interface AlertTimes {
  id: string;
  cameraId: string;
  at: number;
  motionStartedAt: number;
}

/** The clip an alert opens. */
export function planClip(alert: AlertTimes, timing: ClipTiming): ClipPlan {
  const max = timing.maxClip * 1000;
  const post = Math.min(timing.postRoll * 1000, max);
  const pre = timing.preRoll * 1000;
  const motionStart = Math.min(alert.motionStartedAt, alert.at);
  const fromMotion = motionStart - pre;
  const fits = alert.at + post - fromMotion <= max;
  // Settings can ask for more pre- and post-roll than maxClip holds; the alert itself must stay in.
  const start = fits ? fromMotion : alert.at - Math.min(pre, max - post);
  return { cameraId: alert.cameraId, alertIds: [alert.id], start, anchor: fits ? motionStart : alert.at, hardEnd: start + max, lastActivity: alert.at, postRollMs: post };
}

/** When the clip ends, given whether motion is still going on. */
export function clipEnd(plan: ClipPlan, motionActive: boolean): number {
  return motionActive ? plan.hardEnd : Math.min(plan.hardEnd, plan.lastActivity + plan.postRollMs);
}

/**
 * Per-camera state: motion on or off, and the open clip. Events go in as they
 * come; {@link ClipPlanner.due} says which clips are complete at a given time.
 */
export class ClipPlanner {
  readonly #motion = new Map<string, boolean>();
  readonly #open = new Map<string, ClipPlan>();

  /** Motion started or ended on a camera. */
  motion(cameraId: string, state: "start" | "end", at: number): void {
    this.#motion.set(cameraId, state === "start");
    const plan = this.#open.get(cameraId);
    if (plan) plan.lastActivity = Math.max(plan.lastActivity, at);
  }

  /** An alert: joins the camera's open clip if it has not ended yet, else opens one. */
  alert(alert: AlertTimes, timing: ClipTiming): { plan: ClipPlan; joined: boolean } {
    const open = this.#open.get(alert.cameraId);
    if (open && alert.at <= clipEnd(open, this.motionActive(alert.cameraId))) {
      if (!open.alertIds.includes(alert.id)) open.alertIds.push(alert.id);
      open.lastActivity = Math.max(open.lastActivity, alert.at);
      return { plan: open, joined: true };
    }
    const plan = planClip(alert, timing);
    // An older clip still waiting for its video keeps its own plan under another key.
    if (open) this.#open.set(`${alert.cameraId}\u0000${open.alertIds[0]}`, open);
    this.#open.set(alert.cameraId, plan);
    return { plan, joined: false };
  }

  motionActive(cameraId: string): boolean {
    return this.#motion.get(cameraId) ?? false;
  }

  /** Clips whose end is at or before `now`, with that end, earliest first; they stay open until {@link finish}. */
  due(now: number): { plan: ClipPlan; end: number }[] {
    const out: { plan: ClipPlan; end: number }[] = [];
    for (const plan of this.#open.values()) {
      const end = clipEnd(plan, this.motionActive(plan.cameraId) && this.#open.get(plan.cameraId) === plan);
      if (end <= now) out.push({ plan, end });
    }
    return out.sort((a, b) => a.end - b.end);
  }

  /** Every open clip with its end as things stand (for stopping: finish them with what there is). */
  all(): { plan: ClipPlan; end: number }[] {
    return [...this.#open.values()].map((plan) => ({ plan, end: clipEnd(plan, false) }));
  }

  /** The clip is made (or given up): forget it. */
  finish(plan: ClipPlan): void {
    for (const [key, value] of this.#open) if (value === plan) this.#open.delete(key);
  }

  /** Forgets a camera that was removed. */
  forget(cameraId: string): void {
    this.#motion.delete(cameraId);
  }

  /** Earliest `start` among open clips of a camera: the ring must keep video from there. */
  keepFrom(cameraId: string): number | undefined {
    let from: number | undefined;
    for (const plan of this.#open.values()) if (plan.cameraId === cameraId && (from === undefined || plan.start < from)) from = plan.start;
    return from;
  }
}
