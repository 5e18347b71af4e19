import { describe, expect, it } from "@jest/globals";
import { ellipsize, formatCount, formatMs, labelIndexes, niceTicks, percent } from "./chart-scale.js";

describe("chart scales", () => {
  it("puts gridlines at round values up to at least the maximum", () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(1)).toEqual([0, 1]);
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(95)).toEqual([0, 50, 100]);
    expect(niceTicks(130)).toEqual([0, 50, 100, 150]);
    expect(niceTicks(0.3, 4, false)).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it("labels counts, durations and shares for people", () => {
    expect(formatCount(950)).toBe("950");
    expect(formatCount(1_234)).toBe("1.2k");
    expect(formatCount(34_000)).toBe("34k");
    expect(formatCount(1_500_000)).toBe("1.5M");
    expect(formatMs(850.4)).toBe("850 ms");
    expect(formatMs(1_400)).toBe("1.4 s");
    expect(formatMs(150_000)).toBe("2.5 min");
    expect(percent(1, 3)).toBe("33 %");
    expect(percent(1, 0)).toBe("—");
  });

  it("spreads axis labels over the points, first and last included", () => {
    expect(labelIndexes(60, 3)).toEqual([0, 30, 59]);
    expect(labelIndexes(2, 5)).toEqual([0, 1]);
    expect(labelIndexes(1, 5)).toEqual([0]);
    expect(labelIndexes(0, 5)).toEqual([]);
  });

  it("shortens long labels", () => {
    expect(ellipsize("Desk lamp", 20)).toBe("Desk lamp");
    expect(ellipsize("A very long product name", 10)).toBe("A very lo…");
  });
});
