/**
 * How far an order got, as analytics sees it from events that arrive in any order and any
 * number of times. Every piece is merged with a commutative, idempotent function (min of
 * times, union of stages, max of status by rank), so the result does not depend on the
 * order of arrival.
 */

/** Order statuses, as the shop.order.v1.OrderStatus value names without prefix. */
export const ORDER_STATUSES = [
  "PENDING",
  "RESERVED",
  "CONFIRMED",
  "REJECTED",
  "PAYMENT_FAILED",
  "CANCELLED",
  "EXPIRED",
  "SHIPPED",
  "DELIVERED",
  "DELIVERY_FAILED",
] as const;
export type OrderStatusName = (typeof ORDER_STATUSES)[number];

// The order state machine only moves forward: PENDING -> RESERVED -> CONFIRMED -> SHIPPED,
// and each final status ends it. So the status with the highest rank is the current one.
const RANK: Record<OrderStatusName, number> = {
  PENDING: 1,
  RESERVED: 2,
  CONFIRMED: 3,
  SHIPPED: 4,
  REJECTED: 5,
  PAYMENT_FAILED: 5,
  CANCELLED: 5,
  EXPIRED: 5,
  DELIVERED: 5,
  DELIVERY_FAILED: 5,
};

export function statusRank(status: OrderStatusName): number {
  return RANK[status];
}

/** Funnel stages as bits; a stage implies the ones before it (a paid order was reserved). */
export const Stage = { CREATED: 1, RESERVED: 2, PAID: 4, DELIVERED: 8 } as const;
export type StageName = keyof typeof Stage;
export const STAGES = Object.keys(Stage) as StageName[];

/** Bit of `counted` that says the order's saga latency entered the histogram. */
export const LATENCY_COUNTED = 16;

/** A stage together with the stages it implies (CREATED is only ever seen, never implied). */
export function withImpliedStages(stage: StageName): number {
  switch (stage) {
    case "CREATED":
      return Stage.CREATED;
    case "RESERVED":
      return Stage.RESERVED;
    case "PAID":
      return Stage.RESERVED | Stage.PAID;
    case "DELIVERED":
      return Stage.RESERVED | Stage.PAID | Stage.DELIVERED;
  }
}

/** What one event (or a batch of them) says about one order. */
export interface OrderProgress {
  orderId: string;
  /** When order.created happened. */
  createdAt?: Date;
  /** When order.confirmed happened. */
  confirmedAt?: Date;
  /** The status with the highest rank seen, and when it was entered. */
  status?: { name: OrderStatusName; at: Date };
  /** Union of stage bits. */
  stages: number;
}

function earlier(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

/** True when status `a` wins over `b`: higher rank, then later, then by name (so ties are deterministic). */
export function statusWins(a: { name: OrderStatusName; at: Date }, b: { name: OrderStatusName; at: Date }): boolean {
  const rank = RANK[a.name] - RANK[b.name];
  if (rank !== 0) return rank > 0;
  const at = a.at.getTime() - b.at.getTime();
  if (at !== 0) return at > 0;
  return a.name > b.name;
}

/** Merges two views of the same order (commutative, associative, idempotent). */
export function mergeProgress(a: OrderProgress, b: OrderProgress): OrderProgress {
  if (a.orderId !== b.orderId) throw new Error(`cannot merge progress of orders ${a.orderId} and ${b.orderId}`);
  let status = a.status ?? b.status;
  if (a.status && b.status) status = statusWins(b.status, a.status) ? b.status : a.status;
  return {
    orderId: a.orderId,
    createdAt: earlier(a.createdAt, b.createdAt),
    confirmedAt: earlier(a.confirmedAt, b.confirmedAt),
    status,
    stages: a.stages | b.stages,
  };
}

/** Merges the progress of many events into one entry per order, sorted by order id (a stable lock order). */
export function progressByOrder(progress: OrderProgress[]): OrderProgress[] {
  const merged = new Map<string, OrderProgress>();
  for (const p of progress) {
    const seen = merged.get(p.orderId);
    merged.set(p.orderId, seen ? mergeProgress(seen, p) : p);
  }
  return [...merged.values()].sort((x, y) => (x.orderId < y.orderId ? -1 : x.orderId > y.orderId ? 1 : 0));
}
