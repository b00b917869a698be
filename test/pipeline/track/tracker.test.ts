import { describe, expect, it } from "vitest";
import type { BoxXYXY, DetectedObject } from "../../../src/domain/events.js";
import type { Region } from "../../../src/pipeline/frame.js";
import { DEFAULT_TRACKER_OPTIONS, dueForLook, exitEdge, INITIAL_TRACKER_STATE, updateTracks, type TrackerInput, type TrackerOptions, type TrackerState, type TrackerUpdate } from "../../../src/pipeline/track/tracker.js";

const FRAME = { width: 640, height: 360 };
const WHOLE: Region[] = [{ x: 0, y: 0, width: 640, height: 360 }];
const person = (x: number, score = 0.9, y = 100): DetectedObject => ({ label: "person", score, box: [x, y, x + 40, y + 120] });
const car = (x: number, label = "car", score = 0.8): DetectedObject => ({ label, score, box: [x, 200, x + 120, 260] });

/** Runs frames 200 ms apart (5 fps) through the tracker; each frame is its detections, or `null` when the detector did not run. */
function run(frames: (DetectedObject[] | null)[], options: Partial<TrackerOptions> & { survey?: (i: number) => boolean; start?: number; state?: TrackerState; minScore?: number } = {}): TrackerUpdate[] {
  let state = options.state ?? INITIAL_TRACKER_STATE;
  const opts = { ...DEFAULT_TRACKER_OPTIONS, ...options };
  return frames.map((objects, i) => {
    const input: TrackerInput = { at: (options.start ?? 0) + i * 200, frame: FRAME, objects: objects ?? [], looked: objects ? WHOLE : [], survey: options.survey?.(i) ?? false, minScore: options.minScore ?? 0.5 };
    const update = updateTracks(state, input, opts);
    state = update.state;
    return update;
  });
}

const ids = (u: TrackerUpdate) => u.state.tracks.map((t) => t.id);
const last = <T>(xs: T[]) => xs[xs.length - 1]!;

describe("tracking", () => {
  it("follows a walker with one stable id, and confirms it on the third sighting (3 of 4)", () => {
    const updates = run([0, 1, 2, 3, 4, 5].map((i) => [person(100 + i * 12, 0.6)]));
    expect(new Set(updates.flatMap(ids))).toEqual(new Set([1]));
    expect(updates.map((u) => u.state.tracks[0]!.confirmed)).toEqual([false, false, true, true, true, true]);
  });

  it("confirms on the second sighting when both score 0.7 or more, as the old rule did", () => {
    expect(run([[person(100, 0.73)], [person(110, 0.85)]]).map((u) => u.state.tracks[0]!.confirmed)).toEqual([false, true]);
    // The kitten taken for a person, 0.60 then 0.57: two sightings are not three.
    expect(last(run([[person(100, 0.6)], [person(104, 0.57)], [], []])).state.tracks.some((t) => t.confirmed)).toBe(false);
  });

  it("absorbs a missed frame, a jumping box and a car labelled truck for a frame", () => {
    const updates = run([[car(100)], [], [car(118, "truck")], [car(140)], [{ label: "car", score: 0.8, box: [150, 190, 290, 268] }]]);
    expect(new Set(updates.flatMap(ids))).toEqual(new Set([1]));
    expect(last(updates).state.tracks[0]).toMatchObject({ confirmed: true, label: "car" });
  });

  it("finds a person lost behind a tree near where they were lost, within the memory (timeout)", () => {
    const hidden: null[] = Array<null>(10).fill(null); // 2 s unseen, the detector not even running there
    const updates = run([[person(100)], [person(112)], [person(124)], ...hidden, [person(190)]], { memoryMs: 5000 });
    expect(new Set(updates.flatMap(ids))).toEqual(new Set([1]));
    // With a 1 s memory the same person is a new track.
    const short = run([[person(100)], [person(112)], [person(124)], ...hidden, [person(190)]], { memoryMs: 1000 });
    expect(short.flatMap((u) => u.gone.map((g) => g.reason))).toEqual(["lost"]);
    expect(last(short).state.tracks.map((t) => t.id)).toEqual([2]);
  });

  it("ends a track that left through the edge it walked towards after 1 s, sooner than the memory", () => {
    const walkOut = [[person(80)], [person(40)], [person(0)], [], [], [], [], [], []];
    const updates = run(walkOut, { memoryMs: 5000 });
    const gone = updates.findIndex((u) => u.gone.length > 0);
    expect(updates[gone]!.gone[0]!.reason).toBe("left");
    expect(gone * 200 - 2 * 200).toBe(1000);
    // A tall person's box touches the bottom edge all along: that is no way out.
    const standing = run([[person(300, 0.9, 240)], [person(302, 0.9, 240)], [person(304, 0.9, 240)], [], [], [], [], [], []], { memoryMs: 5000 });
    expect(standing.flatMap((u) => u.gone)).toEqual([]);
  });

  it("tells which edge something is leaving through", () => {
    const [update] = run([[car(400)]]);
    const track = { ...update!.state.tracks[0]!, path: [{ at: 0, box: [560, 200, 680, 260] as BoxXYXY }, { at: 400, box: [580, 200, 640, 260] as BoxXYXY }], box: [580, 200, 640, 260] as BoxXYXY };
    expect(exitEdge(track, FRAME)).toBe("right");
    expect(exitEdge({ ...track, path: [{ at: 0, box: [600, 200, 640, 260] }, { at: 400, box: [580, 200, 640, 260] }] }, FRAME)).toBeUndefined();
  });

  it("keeps two people apart, each with their own id", () => {
    const updates = run([0, 1, 2, 3].map((i) => [person(100 + i * 10), person(400 - i * 10)]));
    expect(last(updates).state.tracks.map((t) => t.id)).toEqual([1, 2]);
    expect(last(updates).state.tracks.map((t) => t.box[0])).toEqual([130, 370]);
  });

  it("calls a track stationary once it has not moved for 10 s, and moving again after two displaced sightings", () => {
    const parked = Array.from({ length: 60 }, (_, i) => [car(300 + (i % 2 ? 1 : -1))]);
    const updates = run(parked);
    expect(updates[40]!.state.tracks[0]!.stationary).toBe(false);
    expect(last(updates).state.tracks[0]).toMatchObject({ stationary: true, moved: false });
    // A person walking past changes its box, not its place: still stationary.
    const occluded = run([[{ label: "car", score: 0.8, box: [330, 200, 420, 260] }]], { state: last(updates).state, start: 12_000 });
    expect(occluded[0]!.state.tracks[0]).toMatchObject({ stationary: true, moved: false });
    const drive = run([[car(380)], [car(460)]], { state: last(updates).state, start: 12_000 });
    expect(drive.map((u) => u.state.tracks[0]!.moved)).toEqual([false, true]);
    // Stationary until the second displaced sighting: the first alone may be a jump of the box.
    expect(drive.map((u) => u.state.tracks[0]!.stationary)).toEqual([true, false]);
    expect(last(drive).state.tracks[0]).toMatchObject({ stationary: false, movedAt: 12_200 });
  });

  it("keeps someone standing still stationary when every other look cuts his box short (a crop's edge)", () => {
    // A man standing for 20 s; from 12 s the crop around his motion cuts his box at x=415 on every other look.
    const man = (x2: number): DetectedObject => ({ label: "person", score: 0.93, box: [242, 43, x2, 356] });
    const updates = run(Array.from({ length: 100 }, (_, i) => [man(i >= 60 && i % 2 === 1 ? 415 : 613)]));
    expect(updates.slice(50).map((u) => u.state.tracks[0]!.stationary)).toEqual(Array(50).fill(true));
    expect(last(updates).state.tracks[0]).toMatchObject({ moved: false });
  });

  it("marks what a survey finds as already there, and what arrives later as new", () => {
    const updates = run([[car(300)], [car(300), person(0)], [car(300), person(20)]], { survey: (i) => i === 0 });
    expect(last(updates).state.tracks.map((t) => [t.family, t.preexisting])).toEqual([["car", true], ["person", false]]);
  });

  it("looks at a stationary object every 5 s, and ends it only after two looks in a row did not find it", () => {
    const parked = run(Array.from({ length: 60 }, () => [car(300)]));
    let state = last(parked).state;
    expect(dueForLook(state, 12_000)).toEqual([]);
    expect(dueForLook(state, 11_800 + 5000).map((t) => t.family)).toEqual(["car"]);
    // Frames without a look do not end it, however long.
    const quiet = run(Array<null>(300).fill(null), { state, start: 12_000 });
    expect(quiet.flatMap((u) => u.gone)).toEqual([]);
    state = last(quiet).state;
    const [first, second] = run([[], []], { state, start: 80_000 });
    expect(first!.gone).toEqual([]);
    expect(second!.gone.map((g) => g.reason)).toEqual(["vanished"]);
  });

  it("takes what is found where a stationary object vanished for that object, not an arrival", () => {
    const parked = run(Array.from({ length: 60 }, () => [car(300)]));
    const vanished = run([[], []], { state: last(parked).state, start: 12_000 });
    const back = run([[car(302)]], { state: last(vanished).state, start: 13_000 });
    expect(back[0]!.state.tracks[0]).toMatchObject({ preexisting: true, id: 2 });
    // Somewhere else, it is an arrival.
    const elsewhere = run([[car(20)]], { state: last(vanished).state, start: 13_000 });
    expect(elsewhere[0]!.state.tracks[0]!.preexisting).toBe(false);
  });

  it("keeps a track going on sightings below the camera's score, which do not confirm it", () => {
    const updates = run([0, 1, 2, 3, 4].map((i) => [person(100 + i * 5, 0.4)]), { minScore: 0.5 });
    expect(new Set(updates.flatMap(ids))).toEqual(new Set([1]));
    expect(last(updates).state.tracks[0]!.confirmed).toBe(false);
  });

  it("counts a miss only where the detector looked", () => {
    const [, away] = run([[person(100)], null]);
    expect(away!.state.tracks[0]!.misses).toBe(0);
    let state = run([[person(100)]])[0]!.state;
    // It looked elsewhere only.
    state = updateTracks(state, { at: 200, frame: FRAME, objects: [], looked: [{ x: 400, y: 0, width: 240, height: 360 }], survey: false, minScore: 0.5 }).state;
    expect(state.tracks[0]!.misses).toBe(0);
    state = updateTracks(state, { at: 400, frame: FRAME, objects: [], looked: [{ x: 0, y: 0, width: 300, height: 360 }], survey: false, minScore: 0.5 }).state;
    expect(state.tracks[0]!.misses).toBe(1);
  });

  it("follows motion as one object when the detector is unavailable", () => {
    const motion = (x: number): DetectedObject => ({ label: "motion", score: 1, box: [x, 0, x + 30, 30] });
    const updates = run([[motion(0)], [motion(500)], [motion(200)]]);
    expect(new Set(updates.flatMap(ids))).toEqual(new Set([1]));
    // Motion is happening: even seen in a survey, it is not "already there".
    expect(last(run([[motion(0)], [motion(20)]], { survey: () => true })).state.tracks[0]!.preexisting).toBe(false);
  });
});
