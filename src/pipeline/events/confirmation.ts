/**
 * Confirmation: an object alerts only once it has been seen in `hits` of the last
 * `window` looks at its place (frames in which the detector covered it), none
 * older than `maxAgeMs`. The tracker (track/tracker.ts) says which sightings are
 * the same object, so two one-frame mistakes in different corners do not
 * confirm each other.
 *
 * The default, 3 of the last 4, was chosen on the footage with bench/confirmation.ts
 * (table in docs/detection.md): it is the fastest rule that gave zero false person
 * alerts on every clip without a person (swaying trees, road, parking lot with
 * exposure swings, pets). 2 of 3 and 2 of 2 are one processed frame faster
 * (0.2 s at 5 fps) but confirmed a kitten close-up as a person (0.60 and 0.57 in
 * two consecutive frames); 3 of 5 is as fast as 3 of 4 and more lenient. Cost:
 * a first alert 0.4 s after the object is first seen, at 5 fps.
 *
 * `maxAgeMs` bounds how old the other sightings may be, so hits spread over a
 * long quiet spell do not add up; 4 s still allows three consecutive frames at
 * 0.5 fps, the slowest rate a camera can be set to.
 *
 * `sureScore`: an object scored at least this in two consecutive processed
 * frames is confirmed on the second, without waiting for a third. The mistakes
 * that 3 of 4 is there for score low: the highest person score on any clip
 * without a person, at 5 and 10 fps, was 0.61 (the kitten, one frame; the puppy
 * 0.54, one frame), never two frames in a row above 0.5; a person in plain view
 * scores 0.85-0.95. 0.7 keeps that margin and confirms the wallflower visitor on
 * his second frame (0.73, then 0.85): with the frames in between analysed while
 * something is being confirmed (camera-worker.ts), 100 ms after the first
 * sighting at 10 fps instead of 400 ms.
 */
export interface ConfirmationRule {
  hits: number;
  window: number;
  /** Sightings older than this (relative to the current frame) do not count. */
  maxAgeMs: number;
  /** Scored at least this here and in the previous look: confirmed now. Omitted: `hits` of `window` only. */
  sureScore?: number;
}

export const DEFAULT_CONFIRMATION: Readonly<ConfirmationRule> = Object.freeze({ hits: 3, window: 4, maxAgeMs: 4000, sureScore: 0.7 });

/** One look of the detector at an object's place: its score when it was found at the camera's `score` or more, null when not. */
export interface Look {
  at: number;
  score: number | null;
}

/** Whether the looks (newest last, the newest being the current frame) confirm the object. */
export function isConfirmed(looks: readonly Look[], at: number, rule: ConfirmationRule, minScore: number): boolean {
  const recent = looks.filter((l) => at - l.at <= rule.maxAgeMs).slice(-rule.window);
  const hit = (l: Look | undefined, min: number) => l !== undefined && l.score !== null && l.score >= min;
  const [previous, current] = [recent.at(-2), recent.at(-1)];
  if (rule.sureScore !== undefined && hit(current, rule.sureScore) && hit(previous, rule.sureScore)) return true;
  return hit(current, minScore) && recent.filter((l) => hit(l, minScore)).length >= rule.hits;
}
