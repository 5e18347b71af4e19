/**
 * A latency histogram with fixed logarithmic buckets, so per-minute histograms can be stored
 * as counts per bucket and added up over any window. Bucket i holds latencies in
 * (bound(i-1), bound(i)] with bound(i) = 2^(i/4) ms: each bucket is about 19 % wider than the
 * one before, which bounds a percentile's error to one bucket. Bucket 0 holds everything up to
 * 1 ms; the last bucket (about 12 days) everything above.
 */

const PER_DOUBLING = 4;
export const BUCKETS = 4 * 40; // 2^40 ms: beyond any saga

/** Upper bound of bucket `i` in milliseconds. */
export function bucketBound(i: number): number {
  return 2 ** (i / PER_DOUBLING);
}

/** The bucket a latency of `ms` falls in. */
export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  const i = Math.ceil(Math.log2(ms) * PER_DOUBLING - 1e-9);
  return Math.min(BUCKETS - 1, i);
}

/**
 * The `q`-quantile (0 < q <= 1) of a histogram given as bucket -> count: the upper bound of the
 * bucket holding the rank-ceil(q*n) latency, or undefined for an empty histogram.
 */
export function quantile(counts: ReadonlyMap<number, number>, q: number): number | undefined {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bucket of [...counts.keys()].sort((a, b) => a - b)) {
    seen += counts.get(bucket)!;
    if (seen >= rank) return bucketBound(bucket);
  }
  return bucketBound(BUCKETS - 1);
}
