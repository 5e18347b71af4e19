/** The saga backlog as measured: unsettled orders, the age of the oldest, and how fast it drains. */
export interface Backlog {
  unsettled: number;
  oldestAgeMs: number;
  /** Orders per second that left PENDING / RESERVED lately (0: not known yet). */
  drainPerSecond: number;
}

export interface BacklogBounds {
  maxAgeMs: number;
  minOrders: number;
}

/**
 * How long an order placed now would wait behind the backlog: the unsettled orders at the rate
 * the backlog drains, and never less than the oldest has already waited.
 */
export function expectedWaitMs(backlog: Backlog): number {
  const draining = backlog.drainPerSecond > 0 ? (backlog.unsettled / backlog.drainPerSecond) * 1000 : 0;
  return Math.max(draining, backlog.oldestAgeMs);
}

/**
 * Whether CreateOrder sheds: when an order placed now would wait longer than the bound. The age
 * of the oldest order alone reacts too late (when it passes the bound, twice the work may be
 * queued behind it), so the wait is predicted from the drain rate. A few orders stuck for long (a
 * slow payment retry) do not stop the shop: fewer than `minOrders` never shed. The retry delay
 * grows with how far the wait is past the bound, between 1 and 30 s.
 */
export function shouldShed(backlog: Backlog, bounds: BacklogBounds): { shed: boolean; retryAfterSeconds: number } {
  const wait = expectedWaitMs(backlog);
  const shed = backlog.unsettled >= bounds.minOrders && wait > bounds.maxAgeMs;
  const over = Math.max(0, wait - bounds.maxAgeMs);
  return { shed, retryAfterSeconds: Math.min(30, Math.max(1, Math.ceil(over / 1000))) };
}

/**
 * The drain rate after one more sample: `settled` orders left PENDING / RESERVED in `intervalMs`.
 * Only an interval that began with a real backlog (at least `minOrders` unsettled) measures how
 * fast the saga can drain; while the backlog is small, orders leave as fast as they arrive, and
 * that rate is demand, not capacity. Taking it would shed the first burst after a quiet spell
 * (200 orders at once against a rate learned from a few per second). The first measurement is
 * taken as it is; later ones are smoothed.
 */
export function nextDrainRate(previous: number, sample: { settled: number; intervalMs: number; unsettledAtStart: number }, minOrders: number): number {
  if (sample.intervalMs <= 0 || sample.unsettledAtStart < minOrders) return previous;
  const rate = (sample.settled * 1000) / sample.intervalMs;
  return previous === 0 ? rate : 0.7 * previous + 0.3 * rate;
}
