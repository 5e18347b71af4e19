import type { Order } from "../../gen/shop/order/v1/order_pb.js";
import { toDate } from "./format.js";
import { orderStatusLabel } from "./status.js";

/**
 * The seam for an order's timeline. Today it is the order's own status history; when the
 * analytics service offers GetOrderTimeline (every domain event about the order: reservation,
 * payment, invoice, notifications, delivery), a source calling it replaces
 * `statusHistoryTimeline` in `timelineSource` and the order page shows the richer list.
 */
export interface TimelineEntry {
  at?: Date;
  title: string;
  detail?: string;
}

export interface TimelineSource {
  /** The entries about `order`, oldest first. Called again whenever the order changes. */
  entries(order: Order, signal: AbortSignal): Promise<TimelineEntry[]>;
}

export const statusHistoryTimeline: TimelineSource = {
  async entries(order) {
    return order.history.map((change) => ({
      at: toDate(change.changedAt),
      title: orderStatusLabel(change.toStatus),
      detail: change.reason || undefined,
    }));
  },
};

export const timelineSource: TimelineSource = statusHistoryTimeline;
