/** The saga backlog as measured: unsettled orders and the age of the oldest. */
export interface Backlog {
  unsettled: number;
  oldestAgeMs: number;
}

export interface BacklogBounds {
  maxAgeMs: number;
  minOrders: number;
}

/**
 * Whether CreateOrder sheds. Both bounds must be passed: a few orders stuck for long (a slow
 * payment retry) do not stop the shop, and many young ones are just a busy shop. The retry delay
 * grows with how far the oldest order is past the bound, between 1 and 30 s.
 */
export function shouldShed(backlog: Backlog, bounds: BacklogBounds): { shed: boolean; retryAfterSeconds: number } {
  const shed = backlog.unsettled >= bounds.minOrders && backlog.oldestAgeMs > bounds.maxAgeMs;
  const over = Math.max(0, backlog.oldestAgeMs - bounds.maxAgeMs);
  return { shed, retryAfterSeconds: Math.min(30, Math.max(1, Math.ceil(over / 1000))) };
}
