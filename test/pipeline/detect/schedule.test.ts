import { describe, expect, it } from "vitest";
import { MAX_ROUTINE_WAIT_MS, nextWaiting, type DetectionPriority, type Waiting } from "../../../src/pipeline/detect/schedule.js";

type Job = Waiting & { cameraId: string };
const job = (cameraId: string, priority: DetectionPriority, since: number, seq: number): Job => ({ cameraId, priority, since, seq });

/** The order in which a single detector would serve a fixed queue. */
function order(queue: Job[], maxRoutineWaitMs = MAX_ROUTINE_WAIT_MS): string[] {
  const left = [...queue];
  const served: string[] = [];
  for (let next = nextWaiting(left, maxRoutineWaitMs); next; next = nextWaiting(left, maxRoutineWaitMs)) {
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
    expect(order([job("c", "routine", 20, 3), job("a", "routine", 0, 1), job("b", "routine", 10, 2)])).toEqual(["a", "b", "c"]);
  });

  it("serves a frame that would confirm a visit before routine frames that came earlier, confirming ones by arrival", () => {
    const queue = [job("a", "routine", 0, 1), job("b", "routine", 10, 2), job("c", "confirm", 20, 3), job("d", "confirm", 30, 4)];
    expect(order(queue)).toEqual(["c", "d", "a", "b"]);
  });

  it("serves a frame whose motion is new after confirming ones and before routine frames that came earlier, unless one was due before it joined", () => {
    const queue = [job("tree", "routine", 0, 1), job("road", "routine", 10, 2), job("gate", "new", 20, 3), job("door", "confirm", 30, 4), job("yard", "new", 40, 5)];
    expect(order(queue)).toEqual(["door", "gate", "yard", "tree", "road"]);
    // New motion is due 0.2 s after it joins: the tree's frame, due at 1 s, goes first when the gate's joins after 0.8 s.
    const late = [job("tree", "routine", 0, 1), job("gate", "new", MAX_ROUTINE_WAIT_MS * 0.8 - 1, 2)];
    expect(order(late)).toEqual(["gate", "tree"]);
    expect(order(late.map((j) => (j.cameraId === "gate" ? { ...j, since: MAX_ROUTINE_WAIT_MS * 0.8 + 1 } : j)))).toEqual(["tree", "gate"]);
  });

  it("serves a confirming frame and new motion before the routine frames a saturated detector has kept waiting", () => {
    // Every other camera's routine frame has waited more than half a second, as on a detector that cannot keep
    // up; the porch's visitor is being confirmed and the gate has just seen someone new, after all of them.
    const queue = Array.from({ length: 30 }, (_, i) => job(`c${i}`, "routine", i * 10, i));
    queue.push(job("gate", "new", 380, 30), job("porch", "confirm", 400, 31));
    expect(order(queue).slice(0, 3)).toEqual(["porch", "gate", "c0"]);
  });

  it("serves a routine frame that has waited its bound before confirming frames that joined after it was due, not before those that joined earlier", () => {
    const queue = [job("old", "routine", 0, 1), job("early", "confirm", 900, 2), job("late", "confirm", MAX_ROUTINE_WAIT_MS + 10, 3), job("fresh", "routine", 450, 4)];
    expect(order(queue)).toEqual(["early", "old", "late", "fresh"]);
    // With no bound at all (0 ms), the queue is plain arrival order.
    expect(order(queue, 0)).toEqual(["old", "fresh", "early", "late"]);
  });

  it("on a detector that cannot keep up, has a confirming frame wait only for the routine frames due before it joined", () => {
    // One detector, 50 ms a run, 30 cameras each sending a routine frame the moment their last one is
    // answered: each waits about 1.5 s, so at any moment about 10 are past their bound.
    const runMs = 50;
    let seq = 0;
    const queue: Job[] = Array.from({ length: 30 }, (_, i) => job(`c${i}`, "routine", 0, seq++));
    let now = 0;
    let confirmedAt: number | undefined;
    const joins = 6000;
    while (confirmedAt === undefined && now < 20_000) {
      if (now >= joins && !queue.some((j) => j.cameraId === "porch")) queue.push(job("porch", "confirm", now, seq++));
      const next = nextWaiting(queue)!;
      queue.splice(queue.indexOf(next), 1);
      now += runMs;
      if (next.cameraId === "porch") confirmedAt = now;
      else queue.push(job(next.cameraId, "routine", now, seq++));
    }
    const overdueAtJoin = 10;
    expect(confirmedAt! - joins).toBeLessThanOrEqual((overdueAtJoin + 1) * runMs + runMs);
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
      const next = nextWaiting(queue)!;
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
