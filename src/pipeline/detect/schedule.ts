/**
 * Which waiting frame the next free detector takes: a pure function of the
 * queue, so the order is tested without clocks or a model.
 *
 * Each waiting frame is due some time after it joined the line, and the one due
 * first goes first (ties by arrival). A frame that would confirm or clear a
 * visit is due at once: a visitor seen once and not yet confirmed becomes an
 * alert one detector run after the next frame is served, and every frame it
 * waits behind adds one run to the alert. A frame whose motion appeared
 * somewhere new (look-memory.ts) is due a fifth of the bound later (0.2 s): it
 * may hold a visitor no one has seen yet, where the rest are most likely the
 * tree or the road the detector keeps finding empty. A routine frame is due
 * the whole bound later (1 s), so it is never starved: nothing that joins the
 * line after it is due goes ahead of it, and it waits at most the bound plus
 * the runs of the frames due before it (one per camera at most: each camera
 * has one frame waiting). A routine frame may hold a visitor too, walking where
 * things already move.
 *
 * Due times, not ranks. With ranks (confirming frames, then new motion, then
 * routine frames, a routine frame joining the first rank once it had waited the
 * bound), a detector that could not keep up had every camera's routine frame
 * reach the bound, one after another: each went ahead of the confirming frames
 * and new motion that had joined before it was overdue, and those waited until
 * they were about as old. On the bench's 32 cameras in constant motion, on a
 * slow day, new motion then waited about 1 s and confirming frames up to 0.6 s,
 * and visitors were alerted 1.2-1.8 s after they walked in. With due times, a
 * confirming frame waits only for what was due before it joined.
 *
 * The bound is 1 s, not less: at 0.5 s routine frames are due sooner after new
 * motion and confirming frames, and more of them go first when the detector
 * cannot keep up.
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
 * routine frames do not crowd out the visitor being confirmed, short enough
 * that every camera is looked at each second however busy the night.
 */
export const MAX_ROUTINE_WAIT_MS = 1000;

/** When a waiting frame is due: a confirming frame when it joins, new motion a fifth of the bound later, a routine frame the whole bound later. */
function due(waiting: Waiting, maxRoutineWaitMs: number): number {
  if (waiting.priority === "confirm") return waiting.since;
  return waiting.since + (waiting.priority === "new" ? maxRoutineWaitMs / 5 : maxRoutineWaitMs);
}

/** The waiting frame to serve next: the one due first, then by arrival. Undefined when none waits. */
export function nextWaiting<T extends Waiting>(waiting: Iterable<T>, maxRoutineWaitMs: number = MAX_ROUTINE_WAIT_MS): T | undefined {
  let best: T | undefined;
  let bestDue = Infinity;
  for (const candidate of waiting) {
    const d = due(candidate, maxRoutineWaitMs);
    if (d < bestDue || (d === bestDue && candidate.seq < best!.seq)) {
      best = candidate;
      bestDue = d;
    }
  }
  return best;
}
