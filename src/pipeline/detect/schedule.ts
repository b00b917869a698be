/**
 * Which waiting frame the next free detector takes: a pure function of the
 * queue and the time, so the order is tested without clocks or a model.
 *
 * A frame that would confirm or clear a visit goes first: a visitor seen once
 * and not yet confirmed becomes an alert one detector run after the next frame
 * is served, and every frame it waits behind another camera's routine frame
 * adds one run to the alert. Then a frame whose motion appeared somewhere new
 * (look-memory.ts): it may hold a visitor no one has seen yet, where the rest
 * are most likely the tree or the road the detector keeps finding empty. The
 * rest are served in the order they arrived. A routine frame is never starved:
 * one that has waited `maxRoutineWaitMs` counts as urgent too and takes its
 * place among the confirming frames by arrival, so it waits at most that long
 * plus the runs of the urgent frames that arrived before it (one per camera at
 * most: each camera has one frame waiting). A routine frame may hold a visitor
 * too, walking where things already move.
 *
 * The bound is 1 s, not less, because on a detector that cannot keep up every
 * camera's routine frame reaches it: at 0.5 s, on the bench's 32 cameras in
 * constant motion, overdue routine frames went ahead of everything that came
 * after them, and visitors were first seen 0.6 s after they walked in, or
 * confirmed 0.9 s after they were seen. Among themselves routine frames go by
 * arrival whatever the bound: a shorter one only moves them ahead of the
 * frames that decide alerts.
 */

/**
 * `confirm`: the frame may confirm a visit (something new that may alert was
 * seen in the camera's previous frame and is not confirmed yet) or clear one
 * (a visit's object is out of sight and due a look). `new`: its motion is
 * somewhere the detector has not looked lately. `routine`: anything else.
 */
export type DetectionPriority = "confirm" | "new" | "routine";

export interface Waiting {
  priority: DetectionPriority;
  /** When the camera's frame joined the queue, ms on any monotonic clock; a newer frame replacing it keeps this. */
  since: number;
  /** Arrival order, lowest first; a newer frame replacing a camera's waiting one keeps its place. */
  seq: number;
}

/**
 * How long a routine frame may wait behind confirming frames and new motion:
 * 1 s, five frames of a camera at 5 fps. Long enough that a busy detector's
 * overdue frames do not crowd out the visitor being confirmed, short enough
 * that every camera is looked at each second however busy the night.
 */
export const MAX_ROUTINE_WAIT_MS = 1000;

/** 0 for confirming and overdue frames, 1 for new motion, 2 for the rest. */
function rank(waiting: Waiting, now: number, maxRoutineWaitMs: number): number {
  if (waiting.priority === "confirm" || now - waiting.since >= maxRoutineWaitMs) return 0;
  return waiting.priority === "new" ? 1 : 2;
}

/** The waiting frame to serve next at `now`: urgent or overdue first, then new motion, each by arrival. Undefined when none waits. */
export function nextWaiting<T extends Waiting>(waiting: Iterable<T>, now: number, maxRoutineWaitMs: number = MAX_ROUTINE_WAIT_MS): T | undefined {
  let best: T | undefined;
  let bestRank = Infinity;
  for (const candidate of waiting) {
    const r = rank(candidate, now, maxRoutineWaitMs);
    if (r < bestRank || (r === bestRank && candidate.seq < best!.seq)) {
      best = candidate;
      bestRank = r;
    }
  }
  return best;
}
