import { describe, expect, it } from "@jest/globals";
import { expectedWaitMs, nextDrainRate, shouldShed } from "./backlog.js";

const bounds = { maxAgeMs: 5_000, minOrders: 32 };

describe("shouldShed", () => {
  it("sheds only when many orders are in progress and the oldest is past the bound", () => {
    expect(shouldShed({ unsettled: 100, oldestAgeMs: 6_000, drainPerSecond: 0 }, bounds).shed).toBe(true);
    expect(shouldShed({ unsettled: 100, oldestAgeMs: 4_000, drainPerSecond: 0 }, bounds).shed).toBe(false);
    expect(shouldShed({ unsettled: 3, oldestAgeMs: 60_000, drainPerSecond: 0 }, bounds).shed).toBe(false);
    expect(shouldShed({ unsettled: 0, oldestAgeMs: 0, drainPerSecond: 0 }, bounds).shed).toBe(false);
  });

  it("sheds before the oldest order is late when the backlog cannot drain in time", () => {
    // 300 orders at 40/s take 7.5 s: an order placed now would be late, although the oldest is 2 s old.
    expect(expectedWaitMs({ unsettled: 300, oldestAgeMs: 2_000, drainPerSecond: 40 })).toBe(7_500);
    expect(shouldShed({ unsettled: 300, oldestAgeMs: 2_000, drainPerSecond: 40 }, bounds).shed).toBe(true);
    expect(shouldShed({ unsettled: 100, oldestAgeMs: 2_000, drainPerSecond: 40 }, bounds).shed).toBe(false);
  });

  it("asks for a longer wait the further the backlog is behind, within 1 to 30 s", () => {
    expect(shouldShed({ unsettled: 100, oldestAgeMs: 5_001, drainPerSecond: 0 }, bounds).retryAfterSeconds).toBe(1);
    expect(shouldShed({ unsettled: 100, oldestAgeMs: 8_500, drainPerSecond: 0 }, bounds).retryAfterSeconds).toBe(4);
    expect(shouldShed({ unsettled: 100, oldestAgeMs: 600_000, drainPerSecond: 0 }, bounds).retryAfterSeconds).toBe(30);
  });

  it("learns the drain rate only from intervals that began with a backlog, so a burst after a quiet spell is not shed", () => {
    // Quiet: 2 orders/s come and go; that is demand, not how fast the saga can drain.
    const quiet = nextDrainRate(0, { settled: 2, intervalMs: 1_000, unsettledAtStart: 3 }, bounds.minOrders);
    expect(quiet).toBe(0);
    // A burst of 200: with no rate known the wait is the oldest order's age, not 200 / 2 s.
    expect(shouldShed({ unsettled: 200, oldestAgeMs: 1_000, drainPerSecond: quiet }, bounds).shed).toBe(false);
    // Under a real backlog the first measurement is taken as it is, later ones smoothed.
    const busy = nextDrainRate(quiet, { settled: 50, intervalMs: 1_000, unsettledAtStart: 200 }, bounds.minOrders);
    expect(busy).toBe(50);
    expect(nextDrainRate(busy, { settled: 20, intervalMs: 1_000, unsettledAtStart: 150 }, bounds.minOrders)).toBeCloseTo(41);
    // A quiet interval later keeps what the busy ones measured.
    expect(nextDrainRate(busy, { settled: 1, intervalMs: 1_000, unsettledAtStart: 2 }, bounds.minOrders)).toBe(50);
    expect(nextDrainRate(busy, { settled: 5, intervalMs: 0, unsettledAtStart: 100 }, bounds.minOrders)).toBe(50);
  });
});
