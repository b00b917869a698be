import { describe, expect, it } from "vitest";
import { MAX_ROUTINE_WAIT_MS, nextWaiting, type DetectionPriority, type Waiting } from "../../../src/pipeline/detect/schedule.js";

type Job = Waiting & { cameraId: string };
const job = (cameraId: string, priority: DetectionPriority, since: number, seq: number): Job => ({ cameraId, priority, since, seq });

/** The order in which a single detector would serve a fixed queue at `now`. */
function order(queue: Job[], now: number, maxRoutineWaitMs = MAX_ROUTINE_WAIT_MS): string[] {
  const left = [...queue];
  const served: string[] = [];
  for (let next = nextWaiting(left, now, maxRoutineWaitMs); next; next = nextWaiting(left, now, maxRoutineWaitMs)) {
    served.push(next.cameraId);
    left.splice(left.indexOf(next), 1);
  }
  return served;
}

describe("the order of waiting frames", () => {
  it("serves nothing when nothing waits", () => {
    expect(nextWaiting([], 0)).toBeUndefined();
  });

  it("serves routine frames in the order they arrived", () => {
    expect(order([job("c", "routine", 20, 3), job("a", "routine", 0, 1), job("b", "routine", 10, 2)], 30)).toEqual(["a", "b", "c"]);
  });

  it("serves a frame that would confirm a visit before routine frames that came earlier, confirming ones by arrival", () => {
    const queue = [job("a", "routine", 0, 1), job("b", "routine", 10, 2), job("c", "confirm", 20, 3), job("d", "confirm", 30, 4)];
    expect(order(queue, 40)).toEqual(["c", "d", "a", "b"]);
  });

  it("serves a frame whose motion is new after confirming ones and before routine frames that came earlier, and one that waited the bound before both", () => {
    const queue = [job("tree", "routine", 0, 1), job("road", "routine", 10, 2), job("gate", "new", 20, 3), job("door", "confirm", 30, 4), job("yard", "new", 40, 5)];
    expect(order(queue, 50)).toEqual(["door", "gate", "yard", "tree", "road"]);
    expect(order(queue, MAX_ROUTINE_WAIT_MS - 1)).toEqual(["door", "gate", "yard", "tree", "road"]);
    // The tree's frame has waited its longest: it joins the confirming ones, ahead of new motion.
    expect(order(queue, MAX_ROUTINE_WAIT_MS)).toEqual(["tree", "door", "gate", "yard", "road"]);
  });

  it("serves a confirming frame and new motion before the routine frames a saturated detector has kept waiting", () => {
    // Every other camera's routine frame has waited more than half a second, as on a detector that cannot keep
    // up; the porch's visitor is being confirmed and the gate has just seen someone new, after all of them.
    const queue = Array.from({ length: 30 }, (_, i) => job(`c${i}`, "routine", i * 10, i));
    queue.push(job("gate", "new", 380, 30), job("porch", "confirm", 400, 31));
    expect(order(queue, 900).slice(0, 3)).toEqual(["porch", "gate", "c0"]);
  });

  it("puts a routine frame that has waited too long among the confirming ones, by arrival", () => {
    const queue = [job("old", "routine", 0, 1), job("c", "confirm", 100, 2), job("fresh", "routine", 450, 3)];
    expect(order(queue, MAX_ROUTINE_WAIT_MS - 1)).toEqual(["c", "old", "fresh"]);
    expect(order(queue, MAX_ROUTINE_WAIT_MS)).toEqual(["old", "c", "fresh"]);
    // With no bound at all (0 ms), the queue is plain arrival order.
    expect(order(queue, 0, 0)).toEqual(["old", "c", "fresh"]);
  });

  it("never starves a quiet camera behind cameras that are confirming all the time", () => {
    // One detector, 20 ms a run; four cameras each send a confirming frame the moment their last one is answered.
    const runMs = 20;
    let seq = 0;
    const queue: Job[] = ["a", "b", "c", "d"].map((id) => job(id, "confirm", 0, seq++));
    queue.push(job("quiet", "routine", 0, seq++));
    let now = 0;
    let quietServedAt: number | undefined;
    while (quietServedAt === undefined && now < 10_000) {
      const next = nextWaiting(queue, now)!;
      queue.splice(queue.indexOf(next), 1);
      now += runMs;
      if (next.cameraId === "quiet") quietServedAt = now;
      else queue.push(job(next.cameraId, "confirm", now, seq++));
    }
    // At most the bound, then the confirming frames that arrived before it turned urgent (one per camera), then its own run.
    expect(quietServedAt).toBeDefined();
    expect(quietServedAt!).toBeLessThanOrEqual(MAX_ROUTINE_WAIT_MS + 4 * runMs + runMs);
  });
});
