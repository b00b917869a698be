/**
 * How old frames are when the pipeline has finished with them: from the moment
 * the frame arrived from ffmpeg to its alert decision (after motion, and after
 * the shared detector when it ran). A growing age is the first sign that a
 * machine has more cameras than it can keep up with.
 *
 * Always on, so it must cost nothing: a fixed array of counters per camera,
 * one increment per frame. Counts are cumulative, so two readings subtract to
 * the frames in between, and cameras add up (what a benchmark needs for the
 * p95 of one window over every camera).
 */

/** Upper bounds of the buckets in ms: 10 ms steps to 1 s, 50 ms to 5 s, 500 ms to 30 s; then one more for anything older. */
export const AGE_BUCKETS_MS: readonly number[] = Object.freeze([
  ...Array.from({ length: 100 }, (_, i) => (i + 1) * 10),
  ...Array.from({ length: 80 }, (_, i) => 1000 + (i + 1) * 50),
  ...Array.from({ length: 50 }, (_, i) => 5000 + (i + 1) * 500),
]);

function bucketOf(ms: number): number {
  if (ms <= 1000) return Math.max(0, Math.ceil(ms / 10) - 1);
  if (ms <= 5000) return 99 + Math.ceil((ms - 1000) / 50);
  if (ms <= 30_000) return 179 + Math.ceil((ms - 5000) / 500);
  return AGE_BUCKETS_MS.length;
}

export interface AgeHistogram {
  record(ageMs: number): void;
  /** Cumulative count per bucket of {@link AGE_BUCKETS_MS}, plus one for older frames. */
  counts(): number[];
}

export function createAgeHistogram(): AgeHistogram {
  const counts = new Uint32Array(AGE_BUCKETS_MS.length + 1);
  return {
    record(ageMs) {
      counts[bucketOf(ageMs)]!++;
    },
    counts: () => Array.from(counts),
  };
}

/**
 * The `p`-quantile (0–1) of a histogram, as the upper bound of its bucket (a
 * slight overestimate, never an underestimate); Infinity when it falls among the
 * frames older than 30 s; undefined when the histogram is empty.
 */
export function ageQuantile(counts: readonly number[], p: number): number | undefined {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return AGE_BUCKETS_MS[i] ?? Infinity;
  }
  return Infinity;
}
