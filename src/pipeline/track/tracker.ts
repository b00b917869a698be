/**
 * Object tracking: which detection of this frame is which object of the last
 * frames. A pure function of the tracks so far, this frame's detections, where
 * the detector looked and the time (`updateTracks(state, input, options)`), so
 * every rule is tested without clocks, cameras or a detector.
 *
 * Each track has a stable id and knows whether it is new (not yet confirmed),
 * moving, stationary, lost for a moment, or gone. It absorbs the detector's
 * usual noise:
 * - a missed frame, or a few: a track unseen for less than `memoryMs` (the
 *   camera's `timeout`) is found again near where it was lost, its expected
 *   place moving on with its last velocity, the search widening the longer it
 *   is out of sight (a person behind a tree);
 * - a box that jumps: matching needs overlap or a centre within about one box
 *   size of the expected place, not the same box;
 * - a car labelled truck for a frame: matching is by label family.
 *
 * A track is gone when it left through an edge of the picture it was moving
 * towards (after `edgeMs` unseen), or, inside the picture, after `memoryMs`
 * unseen; a stationary one only when the detector looked at its place
 * `stationaryMisses` times in a row and did not find it. A stationary object
 * that vanished that way is remembered as a ghost for `ghostMs`: the detector
 * often loses a parked car or a coat in one light and finds it again in
 * another, and that is the same object, not an arrival.
 *
 * Confirmation is the rule of confirmation.ts, counted per track over the
 * looks at its place (frames in which the detector covered it): `hits` of the
 * last `window` looks at `minScore` or more, or two looks in a row at
 * `sureScore` or more.
 */
import type { BoxXYXY, DetectedObject } from "../../domain/events.js";
import { labelFamily, MOTION_LABEL } from "../events/alert-rules.js";
import { DEFAULT_CONFIRMATION, isConfirmed, type ConfirmationRule, type Look } from "../events/confirmation.js";
import type { Region } from "../frame.js";
import { boxArea, iou } from "../geometry.js";

export interface TrackerOptions {
  confirmation: ConfirmationRule;
  /** A moving object unseen this long inside the picture is gone (the camera's `timeout`, at least 1 s). */
  memoryMs: number;
  /** One unseen this long after reaching an edge it was moving towards is gone. Default 1 s. */
  edgeMs: number;
  /** Not displaced for this long: stationary. Default 10 s. */
  stationaryMs: number;
  /** A stationary object's place is looked at again this often, motion or not. Default 5 s. */
  recheckMs: number;
  /** Looks in a row that do not find a stationary object before it is gone. Default 2. */
  stationaryMisses: number;
  /** Where a stationary object vanished without moving, what is found in its place is taken for it, for this long. Default 10 min. */
  ghostMs: number;
}

export const DEFAULT_TRACKER_OPTIONS: Readonly<TrackerOptions> = Object.freeze({
  confirmation: DEFAULT_CONFIRMATION,
  memoryMs: 5000,
  edgeMs: 1000,
  stationaryMs: 10_000,
  recheckMs: 5000,
  stationaryMisses: 2,
  ghostMs: 10 * 60_000,
});

/**
 * Detections below the camera's `score` still keep a track going (and are
 * tracked from the start, so a parked car the detector is unsure of at night is
 * known before it scores higher in the morning), but only sightings at `score`
 * or more confirm one.
 */
export const TRACK_MIN_SCORE = 0.3;

interface Sighting {
  at: number;
  box: BoxXYXY;
}

export interface Track {
  readonly id: number;
  /** Label family: car for car, truck and bus (alert-rules.ts). */
  readonly family: string;
  /** Label of the latest sighting. */
  label: string;
  /** Box and score of the latest sighting. */
  box: BoxXYXY;
  score: number;
  firstSeenAt: number;
  lastSeenAt: number;
  /** The latest sightings, newest last: velocity and the way out. */
  path: Sighting[];
  /** Looks at its place, newest last: confirmation. */
  looks: Look[];
  lastLookedAt: number;
  /** Looks in a row that did not find it. */
  misses: number;
  confirmed: boolean;
  /** Where it last settled, and since when. */
  anchor: Sighting;
  /** Displaced from its anchor in the previous sighting: a second one in a row is a move. */
  displaced: boolean;
  /** Moved at least once since it was first seen. */
  moved: boolean;
  /** When it first moved. */
  movedAt?: number;
  stationary: boolean;
  /**
   * Already there when the detector first looked at the whole picture (the
   * camera started, was armed, or its light changed), or found in the place of
   * a stationary object that vanished: it alerts only once it moves.
   */
  preexisting: boolean;
}

interface Ghost {
  family: string;
  box: BoxXYXY;
  until: number;
}

export interface TrackerState {
  tracks: readonly Track[];
  ghosts: readonly Ghost[];
  nextId: number;
}

export const INITIAL_TRACKER_STATE: TrackerState = Object.freeze({ tracks: Object.freeze([]), ghosts: Object.freeze([]), nextId: 1 });

export interface TrackerInput {
  /** Epoch ms of the frame. */
  at: number;
  frame: { width: number; height: number };
  /** What the detector found, of the families being tracked, at TRACK_MIN_SCORE or more. Empty when it did not run. */
  objects: readonly DetectedObject[];
  /** Where the detector looked in this frame; empty when it did not run. */
  looked: readonly Region[];
  /** The detector looked at the whole picture without knowing what moved: what it finds is taken as already there. */
  survey: boolean;
  /** The camera's `score`: sightings at this or more confirm. */
  minScore: number;
}

export type GoneReason = "left" | "lost" | "vanished";

export interface TrackerUpdate {
  state: TrackerState;
  /** Tracks that ended in this frame, as they were last, and why. */
  gone: { track: Track; reason: GoneReason }[];
  /** Tracks seen in this frame. */
  seen: Track[];
}

const PATH_LENGTH = 8;

function centre(b: BoxXYXY): [number, number] {
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
}

function maxSide(b: BoxXYXY): number {
  return Math.max(b[2] - b[0], b[3] - b[1]);
}

/** Moved off its anchor: the centre shifted by a quarter of the object's size (an occluded or jittering box shifts less). */
export function displacedFrom(anchor: BoxXYXY, box: BoxXYXY): boolean {
  const [ax, ay] = centre(anchor);
  const [bx, by] = centre(box);
  return Math.hypot(ax - bx, ay - by) > 0.25 * maxSide(anchor) || iou(anchor, box) < 0.3;
}

/** Pixels per ms from the last two sightings less than 2 s apart; none otherwise. */
function velocity(track: Track): [number, number] {
  const last = track.path.at(-1);
  const before = track.path.at(-2);
  if (!last || !before || last.at - before.at <= 0 || last.at - before.at > 2000) return [0, 0];
  const [x1, y1] = centre(last.box);
  const [x0, y0] = centre(before.box);
  const dt = last.at - before.at;
  return [(x1 - x0) / dt, (y1 - y0) / dt];
}

/** Where the track should be at `at`: moved on with its velocity for up to 1 s, and never by more than its size. */
export function expectedBox(track: Track, at: number): BoxXYXY {
  const [vx, vy] = velocity(track);
  const dt = Math.min(1000, Math.max(0, at - track.lastSeenAt));
  const limit = maxSide(track.box);
  const dx = Math.max(-limit, Math.min(limit, vx * dt));
  const dy = Math.max(-limit, Math.min(limit, vy * dt));
  const b = track.box;
  return [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy];
}

/**
 * How well a detection fits a track: above 1 when it overlaps the expected box
 * (more is better), from 0 to 1 when its centre is within reach, undefined when
 * it cannot be the same object. The reach is the larger of the two boxes'
 * sides, widening by half of that per second out of sight, up to 3x (not for
 * a stationary object: it is found again where it stands, or not at all).
 */
export function matchScore(track: Track, object: DetectedObject, at: number): number | undefined {
  if (labelFamily(object.label) !== track.family) return undefined;
  // Motion boxes split and merge from frame to frame: motion anywhere continues motion.
  if (track.family === MOTION_LABEL) return 1;
  const expected = expectedBox(track, at);
  const overlap = Math.max(iou(expected, object.box), iou(track.box, object.box));
  if (overlap > 0) return 1 + overlap;
  // Something standing still is found again where it stands, however long since the last look.
  const unseenS = track.stationary ? 0 : Math.max(0, at - track.lastSeenAt) / 1000;
  const reach = Math.max(maxSide(track.box), maxSide(object.box)) * (1 + 0.5 * Math.min(unseenS, 4));
  const [ex, ey] = centre(expected);
  const [ox, oy] = centre(object.box);
  const distance = Math.hypot(ex - ox, ey - oy);
  return distance <= reach ? 1 - distance / reach : undefined;
}

/** Fraction of the box inside the regions the detector looked at (the largest single overlap: crops rarely overlap). */
export function coverage(box: BoxXYXY, looked: readonly Region[]): number {
  const area = boxArea(box);
  if (area <= 0) return 0;
  let best = 0;
  for (const r of looked) {
    const w = Math.min(box[2], r.x + r.width) - Math.max(box[0], r.x);
    const h = Math.min(box[3], r.y + r.height) - Math.max(box[1], r.y);
    if (w > 0 && h > 0) best = Math.max(best, (w * h) / area);
  }
  return best;
}

/**
 * The edge a track is leaving through: its last box touches an edge (within
 * 2 % of the picture) and it was moving towards it, or shrinking against it as
 * it went out. Undefined when it is not leaving (a tall person's box touches the
 * bottom edge all the time; that is not a way out unless they move down).
 */
export function exitEdge(track: Track, frame: { width: number; height: number }): "left" | "right" | "top" | "bottom" | undefined {
  const last = track.path.at(-1);
  const first = track.path.find((s) => last !== undefined && last.at - s.at <= 1500);
  if (!last || !first || first === last) return undefined;
  const b = last.box;
  const mx = Math.max(2, frame.width * 0.02);
  const my = Math.max(2, frame.height * 0.02);
  const [x1, y1] = centre(b);
  const [x0, y0] = centre(first.box);
  const w1 = b[2] - b[0];
  const h1 = b[3] - b[1];
  const w0 = first.box[2] - first.box[0];
  const h0 = first.box[3] - first.box[1];
  const narrower = w1 < 0.9 * w0;
  const shorter = h1 < 0.9 * h0;
  if (b[0] <= mx && (x1 < x0 || narrower)) return "left";
  if (b[2] >= frame.width - mx && (x1 > x0 || narrower)) return "right";
  if (b[1] <= my && (y1 < y0 || shorter)) return "top";
  if (b[3] >= frame.height - my && (y1 > y0 || shorter)) return "bottom";
  return undefined;
}

/**
 * Places the detector should look at in this frame although no motion sends it
 * there: stationary objects due a look (every `recheckMs`, or every second while
 * there is motion on them: it may be the object leaving), and confirmed objects
 * out of sight.
 */
export function dueForLook(state: TrackerState, at: number, options: TrackerOptions = DEFAULT_TRACKER_OPTIONS, motionOn: (track: Track) => boolean = () => false): Track[] {
  return state.tracks.filter((t) => {
    if (t.family === MOTION_LABEL) return false;
    if (t.stationary) return at - t.lastLookedAt >= (motionOn(t) ? 1000 : options.recheckMs);
    // Someone who stopped moving where motion does not show (a mask, a dark corner): look before forgetting them.
    return t.confirmed && at - t.lastSeenAt >= 1000 && at - t.lastLookedAt >= 1000;
  });
}

function newTrack(id: number, object: DetectedObject, at: number, preexisting: boolean): Track {
  const sighting = { at, box: object.box };
  return {
    id,
    family: labelFamily(object.label),
    label: object.label,
    box: object.box,
    score: object.score,
    firstSeenAt: at,
    lastSeenAt: at,
    path: [sighting],
    looks: [],
    lastLookedAt: at,
    misses: 0,
    confirmed: false,
    anchor: sighting,
    displaced: false,
    moved: false,
    stationary: false,
    preexisting,
  };
}

function see(track: Track, object: DetectedObject, at: number, options: TrackerOptions): void {
  const sighting = { at, box: object.box };
  track.label = object.label;
  track.box = object.box;
  track.score = object.score;
  track.lastSeenAt = at;
  track.path = [...track.path, sighting].slice(-PATH_LENGTH);
  track.misses = 0;
  if (track.family === MOTION_LABEL) return;
  if (!displacedFrom(track.anchor.box, object.box)) {
    track.displaced = false;
  } else if (track.displaced) {
    // Two sightings in a row away from where it settled: it moves (one could be a jump of the box).
    track.movedAt ??= at;
    track.moved = true;
    track.anchor = sighting;
    track.displaced = false;
  } else track.displaced = true;
  // One sighting away may be a jump of the box (a crop that cut the object): a stationary object stays so until a second one.
  if (!track.displaced) track.stationary = at - track.anchor.at >= options.stationaryMs;
}

function look(track: Track, at: number, score: number | null, options: TrackerOptions): void {
  track.lastLookedAt = at;
  track.looks = [...track.looks, { at, score }].slice(-Math.max(2, options.confirmation.window));
  if (score === null) track.misses += 1;
}

export function updateTracks(state: TrackerState, input: TrackerInput, options: TrackerOptions = DEFAULT_TRACKER_OPTIONS): TrackerUpdate {
  const { at } = input;
  let nextId = state.nextId;
  const ghosts = state.ghosts.filter((g) => g.until > at).map((g) => ({ ...g }));
  const tracks: Track[] = state.tracks.map((t) => ({ ...t }));
  const seen: Track[] = [];

  if (input.looked.length > 0) {
    // Greedy matching, best fit first.
    const pairs: { track: Track; object: DetectedObject; fit: number }[] = [];
    for (const track of tracks) {
      for (const object of input.objects) {
        const fit = matchScore(track, object, at);
        if (fit !== undefined) pairs.push({ track, object, fit });
      }
    }
    pairs.sort((a, b) => b.fit - a.fit);
    const usedTracks = new Set<Track>();
    const usedObjects = new Set<DetectedObject>();
    for (const { track, object } of pairs) {
      if (usedTracks.has(track) || usedObjects.has(object)) continue;
      usedTracks.add(track);
      usedObjects.add(object);
      see(track, object, at, options);
      look(track, at, object.score >= input.minScore ? object.score : null, options);
      // A sighting below the camera's score keeps the track, but is not a hit and not a miss.
      if (object.score < input.minScore) track.misses = 0;
      seen.push(track);
    }
    for (const track of tracks) {
      if (usedTracks.has(track)) continue;
      if (coverage(expectedBox(track, at), input.looked) >= 0.7) look(track, at, null, options);
    }
    for (const object of input.objects) {
      if (usedObjects.has(object)) continue;
      const family = labelFamily(object.label);
      const ghost = ghosts.findIndex((g) => g.family === family && iou(g.box, object.box) > 0.5);
      if (ghost >= 0) ghosts.splice(ghost, 1);
      // Motion is happening by definition: it was not "already there".
      const track = newTrack(nextId++, object, at, family !== MOTION_LABEL && (input.survey || ghost >= 0));
      look(track, at, object.score >= input.minScore ? object.score : null, options);
      tracks.push(track);
      seen.push(track);
    }
  }

  for (const track of seen) if (!track.confirmed && isConfirmed(track.looks, at, options.confirmation, input.minScore)) track.confirmed = true;

  const gone: TrackerUpdate["gone"] = [];
  const kept: Track[] = [];
  for (const track of tracks) {
    const reason = goneReason(track, input, options);
    if (!reason) {
      kept.push(track);
      continue;
    }
    gone.push({ track, reason });
    if (reason === "vanished") ghosts.push({ family: track.family, box: track.box, until: at + options.ghostMs });
  }
  return { state: { tracks: kept, ghosts, nextId }, gone, seen };
}

function goneReason(track: Track, input: TrackerInput, options: TrackerOptions): GoneReason | undefined {
  const unseen = input.at - track.lastSeenAt;
  if (unseen <= 0) return undefined;
  if (track.stationary) return track.misses >= options.stationaryMisses ? "vanished" : undefined;
  // Not confirmed yet: only as long as its sightings can still add up to a confirmation.
  const memory = track.confirmed ? options.memoryMs : Math.min(options.memoryMs, options.confirmation.maxAgeMs);
  if (track.family !== MOTION_LABEL && unseen >= options.edgeMs && exitEdge(track, input.frame)) return "left";
  return unseen >= memory ? "lost" : undefined;
}
