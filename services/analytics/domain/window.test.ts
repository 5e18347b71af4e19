import { describe, expect, it } from "@jest/globals";
import { chooseWindow, MAX_POINTS, minuteOf, seriesStep, windowEnding } from "./window.js";

describe("dashboard window", () => {
  it("reads durations and minutes, defaulting to one hour", () => {
    expect(chooseWindow("", 0)).toEqual({ ok: true, minutes: 60 });
    expect(chooseWindow("15m", 0)).toEqual({ ok: true, minutes: 15 });
    expect(chooseWindow("1h", 0)).toEqual({ ok: true, minutes: 60 });
    expect(chooseWindow(" 24H ", 0)).toEqual({ ok: true, minutes: 1440 });
    expect(chooseWindow("7d", 0)).toEqual({ ok: true, minutes: 10080 });
    expect(chooseWindow("", 90)).toEqual({ ok: true, minutes: 90 });
  });

  it("refuses nonsense, naming the field", () => {
    expect(chooseWindow("1h", 60)).toMatchObject({ ok: false, field: "window" });
    expect(chooseWindow("an hour", 0)).toMatchObject({ ok: false, field: "window", problem: expect.stringContaining('"an hour"') });
    expect(chooseWindow("0m", 0)).toMatchObject({ ok: false, field: "window" });
    expect(chooseWindow("8d", 0)).toMatchObject({ ok: false, field: "window", problem: expect.stringContaining("7d") });
    expect(chooseWindow("", -5)).toMatchObject({ ok: false, field: "window_minutes" });
    expect(chooseWindow("", 10081)).toMatchObject({ ok: false, field: "window_minutes" });
  });

  it("ends windows on whole minutes and keeps the series short", () => {
    const end = new Date("2026-01-01T10:00:30.500Z");
    expect(windowEnding(end, 15)).toEqual({ start: new Date("2026-01-01T09:46:00Z"), end: new Date("2026-01-01T10:01:00Z") });
    expect(windowEnding(new Date("2026-01-01T10:00:00Z"), 1)).toEqual({ start: new Date("2026-01-01T09:59:00Z"), end: new Date("2026-01-01T10:00:00Z") });
    expect(minuteOf(end)).toEqual(new Date("2026-01-01T10:00:00Z"));
    expect(seriesStep(15)).toBe(1);
    expect(seriesStep(1440)).toBe(12);
    expect(Math.ceil(10080 / seriesStep(10080))).toBeLessThanOrEqual(MAX_POINTS);
  });
});
