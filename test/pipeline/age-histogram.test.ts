import { describe, expect, it } from "vitest";
import { AGE_BUCKETS_MS, ageQuantile, createAgeHistogram } from "../../src/pipeline/age-histogram.js";

describe("frame age histogram", () => {
  it("gives quantiles as the upper bound of their bucket, never below the true value", () => {
    const h = createAgeHistogram();
    // 95 frames decided within 3 ms, 5 that waited 0.8 s to 2.3 s.
    for (let i = 0; i < 95; i++) h.record(3);
    for (const ms of [800, 1200, 1499, 2300, 2301]) h.record(ms);
    expect(ageQuantile(h.counts(), 0.5)).toBe(10);
    expect(ageQuantile(h.counts(), 0.95)).toBe(10);
    expect(ageQuantile(h.counts(), 0.96)).toBe(800);
    expect(ageQuantile(h.counts(), 0.98)).toBe(1500);
    expect(ageQuantile(h.counts(), 1)).toBe(2350);
  });

  it("subtracts and adds up across readings and cameras", () => {
    const a = createAgeHistogram();
    const b = createAgeHistogram();
    for (let i = 0; i < 50; i++) a.record(15);
    const before = a.counts();
    for (let i = 0; i < 10; i++) a.record(700);
    for (let i = 0; i < 10; i++) b.record(25);
    const window = a.counts().map((n, i) => n - before[i]! + b.counts()[i]!);
    expect(ageQuantile(window, 0.5)).toBe(30);
    expect(ageQuantile(window, 0.95)).toBe(700);
  });

  it("keeps frames older than its last bucket, and says nothing when empty", () => {
    const h = createAgeHistogram();
    expect(ageQuantile(h.counts(), 0.95)).toBeUndefined();
    h.record(45_000);
    expect(h.counts()).toHaveLength(AGE_BUCKETS_MS.length + 1);
    expect(ageQuantile(h.counts(), 0.95)).toBe(Infinity);
    h.record(0);
    expect(ageQuantile(h.counts(), 0.5)).toBe(10);
  });
});
