/**
 * Scales and labels for the dashboard's charts (components/charts.tsx): pure, so they are unit
 * tested without a browser.
 */

/**
 * Gridline values from 0 to a round maximum at or above `max`, about `count` steps of 1, 2 or 5
 * times a power of ten. Counts never get fractional steps (`integer`).
 */
export function niceTicks(max: number, count = 4, integer = true): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let value = 0; ticks.length === 0 || ticks[ticks.length - 1] < max; value += step) ticks.push(roundTo(value, step));
  return ticks;
}

function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return Number(value.toFixed(decimals));
}

/** A count for an axis or a bar: 950, 1.2k, 34k, 1.5M. */
export function formatCount(value: number): string {
  const abs = Math.abs(value);
  if (abs < 1_000) return String(Math.round(value * 100) / 100);
  if (abs < 1_000_000) return `${trim(value / 1_000)}k`;
  return `${trim(value / 1_000_000)}M`;
}

function trim(value: number): string {
  return Math.abs(value) < 10 ? value.toFixed(1).replace(/\.0$/, "") : String(Math.round(value));
}

/** A duration in milliseconds for people: 850 ms, 1.4 s, 2.5 min. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1_000)} s`;
  return `${trim(ms / 60_000)} min`;
}

/** `part` of `whole` as a whole percentage ("—" when there is no whole). */
export function percent(part: number, whole: number): string {
  if (!(whole > 0)) return "—";
  return `${Math.round((part / whole) * 100)} %`;
}

/** Indexes of `count` evenly spaced labels among `points` points, always the first and the last. */
export function labelIndexes(points: number, count: number): number[] {
  if (points <= 0) return [];
  if (points === 1 || count <= 1) return [0];
  const n = Math.min(points, count);
  const indexes = new Set<number>();
  for (let i = 0; i < n; i++) indexes.add(Math.round((i * (points - 1)) / (n - 1)));
  return [...indexes];
}

/** Shortens `text` to at most `max` characters with an ellipsis. */
export function ellipsize(text: string, max: number): string {
  if (max < 2) return text ? "…" : "";
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
