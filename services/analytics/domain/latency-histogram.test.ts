import { describe, expect, it } from "@jest/globals";
import { bucketBound, bucketOf, BUCKETS, quantile } from "./latency-histogram.js";

describe("latency histogram", () => {
  it("puts a latency in the bucket whose bounds hold it, within about 19 %", () => {
    for (const ms of [1.5, 2, 3, 10, 99, 100, 101, 1_234, 60_000, 3_600_000]) {
      const i = bucketOf(ms);
      expect(bucketBound(i)).toBeGreaterThanOrEqual(ms);
      expect(bucketBound(i - 1)).toBeLessThan(ms);
      expect(bucketBound(i) / ms).toBeLessThan(1.19);
    }
  });

  it("keeps exact powers of two in their own bucket and clamps the ends", () => {
    expect(bucketOf(2)).toBe(4);
    expect(bucketOf(1024)).toBe(40);
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(-5)).toBe(0);
    expect(bucketOf(Number.NaN)).toBe(0);
    expect(bucketOf(1e15)).toBe(BUCKETS - 1);
  });

  it("reads quantiles from summed per-bucket counts", () => {
    const counts = new Map<number, number>();
    for (let ms = 1; ms <= 1000; ms++) {
      const b = bucketOf(ms);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    for (const [q, exact] of [
      [0.5, 500],
      [0.9, 900],
      [0.99, 990],
    ] as const) {
      const value = quantile(counts, q)!;
      expect(value).toBeGreaterThanOrEqual(exact);
      expect(value / exact).toBeLessThan(1.19);
    }
    expect(quantile(new Map(), 0.5)).toBeUndefined();
    expect(quantile(new Map([[bucketOf(250), 3]]), 1)).toBe(bucketBound(bucketOf(250)));
  });
});
