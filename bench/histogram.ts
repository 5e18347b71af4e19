import * as hdr from "hdr-histogram-js";

/** Latency figures in milliseconds (three significant digits, from the HDR histogram). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * An HDR histogram of latencies. Values are recorded in microseconds (1 µs to 1 h, three
 * significant digits, so any percentile is within 0.1 % of the recorded value) and reported in
 * milliseconds.
 */
export class LatencyHistogram {
  private readonly histogram = hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  /** Records one latency in milliseconds (negative values count as 0). */
  record(ms: number): void {
    this.histogram.recordValue(Math.max(0, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** The latency in ms at `percentile` (0-100); 0 when empty. */
  percentile(percentile: number): number {
    return this.histogram.totalCount === 0 ? 0 : this.histogram.getValueAtPercentile(percentile) / 1000;
  }

  summary(): LatencySummary {
    const empty = this.histogram.totalCount === 0;
    return {
      count: this.histogram.totalCount,
      mean: empty ? 0 : round(this.histogram.mean / 1000),
      p50: round(this.percentile(50)),
      p95: round(this.percentile(95)),
      p99: round(this.percentile(99)),
      max: empty ? 0 : round(this.histogram.maxValue / 1000),
    };
  }

  /** The histogram in the HdrHistogram compressed base64 form (for the JSON results; decodable by any HdrHistogram library). */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
