/**
 * Visits: alerts belong to them, not to a timer. A pure function of the visits
 * so far, the tracks after this frame and the time (`updateVisits(state,
 * input)`), so every rule is tested without clocks, cameras or a detector.
 *
 * - A visit starts when a new track of an alerting class is confirmed and may
 *   alert (large enough, standing in a zone, and, when it was already there as
 *   the camera started or was armed, once it has moved). Its alert goes out at
 *   once: an earlier visit never holds it back.
 * - A track confirmed near a moving object of a visit that is going on joins
 *   that visit instead (two people walking in together, a dog on its lead):
 *   one alert, whose count goes up. One that appears away from every object of
 *   every visit is a new visit with its own alert.
 * - A visit ends when the last of its tracks is gone. Stationary tracks keep
 *   their visit going (a car parked after it drove in is still there), but are
 *   never joined: someone who gets out of it is an arrival.
 * - While it lasts, a visit is "updated" when it counts more objects, when it
 *   comes to a standstill or moves again, and as its duration passes each of
 *   UPDATE_AFTER_S, so the alert can say how many of what, and for how long,
 *   within Telegram's edit limits.
 */
import type { DetectedObject } from "../../domain/events.js";
import type { Track } from "../track/tracker.js";
import { MOTION_LABEL, inZones, largeEnough, type AlertRules } from "./alert-rules.js";

/** Durations (seconds) at which a visit going on is updated: a handful of edits in the first minutes, then few. */
export const UPDATE_AFTER_S: readonly number[] = Object.freeze([30, 60, 120, 300, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600]);

export interface Visit {
  /** Also the id of its alert. */
  readonly id: string;
  /** Label of the object that opened it (the alert's). */
  readonly label: string;
  /** Its tracks that are not gone. */
  trackIds: number[];
  /** When its first object was first seen (or, for one that was already there, first moved). */
  readonly startedAt: number;
  /** When it was confirmed: the alert's time. */
  readonly alertAt: number;
  /** The last time any of its objects was seen. */
  lastSeenAt: number;
  /** Most objects of each label family seen at once. */
  peak: Record<string, number>;
  /** Every object of it stands still. */
  stationary: boolean;
  /** How many of UPDATE_AFTER_S it has passed. */
  milestones: number;
}

export interface VisitState {
  visits: readonly Visit[];
}

export const INITIAL_VISIT_STATE: VisitState = Object.freeze({ visits: Object.freeze([]) });

export interface VisitInput {
  at: number;
  frame: { width: number; height: number };
  /** Every track after this frame. */
  tracks: readonly Track[];
  /** Tracks that ended in this frame. */
  gone: readonly { track: Track }[];
  rules: Pick<AlertRules, "minSize" | "zones">;
  /** A new visit's id (random in Vigil, predictable in tests). */
  newId: () => string;
}

export interface VisitDecision {
  state: VisitState;
  /** New visits, each with the tracks that opened it in this frame (the alert's objects). */
  started: { visit: Visit; objects: DetectedObject[] }[];
  /** Visits going on with news: more objects, a standstill or a move, another milestone of time. */
  updated: Visit[];
  /** Visits whose last object has gone. */
  ended: Visit[];
}

const objectOf = (t: Track): DetectedObject => ({ label: t.label, score: t.score, box: t.box });

function centre(t: Track): [number, number] {
  return [(t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2];
}

function side(t: Track): number {
  return Math.max(t.box[2] - t.box[0], t.box[3] - t.box[1]);
}

/** Close enough to belong to the same visit: centres within one and a half of the larger object's size. */
function near(a: Track, b: Track): boolean {
  if (a.family === MOTION_LABEL || b.family === MOTION_LABEL) return a.family === b.family;
  const [ax, ay] = centre(a);
  const [bx, by] = centre(b);
  return Math.hypot(ax - bx, ay - by) <= 1.5 * Math.max(side(a), side(b));
}

/** Whether a confirmed track may open or join a visit now. */
export function mayAlert(track: Track, at: number, frame: { width: number; height: number }, rules: VisitInput["rules"]): boolean {
  if (!track.confirmed || track.lastSeenAt !== at) return false;
  if (track.preexisting && !track.moved) return false;
  return largeEnough(track.box, rules.minSize, frame) && inZones(track.box, rules.zones, frame);
}

export function updateVisits(state: VisitState, input: VisitInput): VisitDecision {
  const { at } = input;
  const byId = new Map(input.tracks.map((t) => [t.id, t]));
  const goneIds = new Set(input.gone.map((g) => g.track.id));
  const visits: Visit[] = state.visits.map((v) => ({ ...v, trackIds: v.trackIds.filter((id) => !goneIds.has(id)), peak: { ...v.peak } }));
  const assigned = new Set(visits.flatMap((v) => v.trackIds));
  const started: VisitDecision["started"] = [];
  const news = new Set<Visit>();

  const candidates = input.tracks.filter((t) => !assigned.has(t.id) && mayAlert(t, at, input.frame, input.rules)).sort((a, b) => b.score - a.score);
  for (const track of candidates) {
    const joined = visits.find((v) => v.trackIds.some((id) => {
      const other = byId.get(id);
      return other !== undefined && !other.stationary && near(other, track);
    }));
    if (joined) {
      joined.trackIds.push(track.id);
      news.add(joined);
      const opening = started.find((s) => s.visit === joined);
      if (opening) opening.objects.push(objectOf(track));
    } else {
      const visit: Visit = {
        id: input.newId(),
        label: track.label,
        trackIds: [track.id],
        startedAt: track.preexisting ? (track.movedAt ?? track.firstSeenAt) : track.firstSeenAt,
        alertAt: at,
        lastSeenAt: track.lastSeenAt,
        peak: {},
        stationary: false,
        milestones: 0,
      };
      visits.push(visit);
      started.push({ visit, objects: [objectOf(track)] });
    }
    assigned.add(track.id);
  }

  const ended: Visit[] = [];
  const live: Visit[] = [];
  for (const visit of visits) {
    const tracks = visit.trackIds.map((id) => byId.get(id)).filter((t): t is Track => t !== undefined);
    if (tracks.length === 0) {
      ended.push(visit);
      continue;
    }
    live.push(visit);
    visit.lastSeenAt = Math.max(visit.lastSeenAt, ...tracks.map((t) => t.lastSeenAt));
    const counts: Record<string, number> = {};
    for (const t of tracks) if (t.lastSeenAt === at) counts[t.family] = (counts[t.family] ?? 0) + 1;
    for (const [family, n] of Object.entries(counts)) {
      if (n > (visit.peak[family] ?? 0)) {
        if (visit.peak[family] !== undefined || Object.keys(visit.peak).length > 0) news.add(visit);
        visit.peak[family] = n;
      }
    }
    const stationary = tracks.every((t) => t.stationary);
    if (stationary !== visit.stationary) {
      visit.stationary = stationary;
      news.add(visit);
    }
    while (visit.milestones < UPDATE_AFTER_S.length && at - visit.startedAt >= UPDATE_AFTER_S[visit.milestones]! * 1000) {
      visit.milestones += 1;
      news.add(visit);
    }
  }
  const isNew = new Set(started.map((s) => s.visit));
  const updated = live.filter((v) => news.has(v) && !isNew.has(v));
  return { state: { visits: live }, started, updated, ended };
}

/** Every visit ends now (the camera is disarmed or muted, or stops). */
export function endVisits(state: VisitState): { state: VisitState; ended: Visit[] } {
  return { state: INITIAL_VISIT_STATE, ended: [...state.visits] };
}
