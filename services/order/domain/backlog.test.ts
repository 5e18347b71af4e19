import { describe, expect, it } from "@jest/globals";
import { expectedWaitMs, shouldShed } from "./backlog.js";

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
});
