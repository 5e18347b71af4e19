/**
 * The dashboard's window: a trailing span of whole minutes ending at a minute boundary, and
 * its division into at most MAX_POINTS series steps.
 */

export const MINUTE_MS = 60_000;
export const DEFAULT_WINDOW_MINUTES = 60;
/** 7 days: the dashboard reads per-minute rows, so longer windows would read too many. */
export const MAX_WINDOW_MINUTES = 7 * 24 * 60;
export const MAX_POINTS = 120;

const UNITS: Record<string, number> = { m: 1, h: 60, d: 24 * 60 };

export type WindowChoice = { ok: true; minutes: number } | { ok: false; field: string; problem: string };

/**
 * The window length in minutes from `window` ("15m", "1h", "24h", "7d") or `windowMinutes`
 * (0 = unset); the default when neither is given.
 */
export function chooseWindow(window: string, windowMinutes: number): WindowChoice {
  const text = window.trim();
  if (text !== "" && windowMinutes !== 0) return { ok: false, field: "window", problem: "set either window or window_minutes, not both" };
  let minutes = DEFAULT_WINDOW_MINUTES;
  let field = "window_minutes";
  if (text !== "") {
    field = "window";
    const match = /^(\d{1,6})([mhd])$/i.exec(text);
    if (!match) return { ok: false, field, problem: `must be a number and a unit m, h or d such as "15m", "1h", "24h", got "${text.slice(0, 32)}"` };
    minutes = Number(match[1]) * UNITS[match[2].toLowerCase()];
  } else if (windowMinutes !== 0) {
    minutes = windowMinutes;
  }
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_WINDOW_MINUTES) {
    return { ok: false, field, problem: `must be from 1 minute to ${MAX_WINDOW_MINUTES} minutes (7d), got ${minutes} minutes` };
  }
  return { ok: true, minutes };
}

/** The start of the minute `at` falls in. */
export function minuteOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS);
}

/** The window [start, end) of `minutes` ending at `end` rounded up to a whole minute. */
export function windowEnding(end: Date, minutes: number): { start: Date; end: Date } {
  const endMs = Math.ceil(end.getTime() / MINUTE_MS) * MINUTE_MS;
  return { start: new Date(endMs - minutes * MINUTE_MS), end: new Date(endMs) };
}

/** Minutes per series step so that a window has at most MAX_POINTS points. */
export function seriesStep(minutes: number): number {
  return Math.max(1, Math.ceil(minutes / MAX_POINTS));
}
