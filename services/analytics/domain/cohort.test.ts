import { describe, expect, it } from "@jest/globals";
import { cohortDeltas, Metric, sumDeltas } from "./cohort.js";
import { bucketOf } from "./latency-histogram.js";
import { LATENCY_COUNTED, Stage } from "./order-progress.js";

const created = new Date("2026-01-01T10:00:20Z");
const confirmed = new Date("2026-01-01T10:01:05Z");

describe("cohort deltas", () => {
  it("counts nothing before the order's creation is known", () => {
    expect(cohortDeltas({ createdAt: null, confirmedAt: confirmed, newlyCounted: 0, statusBefore: null, statusNow: null })).toEqual([]);
  });

  it("moves the status and counts new stages at the creation minute, latency at the confirmation minute", () => {
    const deltas = cohortDeltas({
      createdAt: created,
      confirmedAt: confirmed,
      newlyCounted: Stage.PAID | LATENCY_COUNTED,
      statusBefore: "RESERVED",
      statusNow: "CONFIRMED",
    });
    const minute = new Date("2026-01-01T10:00:00Z");
    const later = new Date("2026-01-01T10:01:00Z");
    expect(deltas).toEqual([
      { minute, metric: Metric.ORDER_STATUS, dim: "RESERVED", value: -1n },
      { minute, metric: Metric.ORDER_STATUS, dim: "CONFIRMED", value: 1n },
      { minute, metric: Metric.FUNNEL, dim: "PAID", value: 1n },
      { minute: later, metric: Metric.LATENCY_BUCKET, dim: String(bucketOf(45_000)), value: 1n },
      { minute: later, metric: Metric.LATENCY_SUM_MS, dim: "", value: 45_000n },
      { minute: later, metric: Metric.LATENCY_COUNT, dim: "", value: 1n },
    ]);
  });

  it("adds up equal keys and drops what cancels out", () => {
    const minute = new Date("2026-01-01T10:00:00Z");
    expect(
      sumDeltas([
        { minute, metric: "b", dim: "x", value: 1n },
        { minute, metric: "a", dim: "", value: 2n },
        { minute, metric: "b", dim: "x", value: 3n },
        { minute, metric: "c", dim: "", value: 1n },
        { minute, metric: "c", dim: "", value: -1n },
      ]),
    ).toEqual([
      { minute, metric: "a", dim: "", value: 2n },
      { minute, metric: "b", dim: "x", value: 4n },
    ]);
  });
});
