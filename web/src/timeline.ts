import { OrderStatus, type Order } from "../../gen/shop/order/v1/order_pb.js";
import { analytics } from "./api.js";
import { describeError } from "./errors.js";
import { toDate } from "./format.js";
import { orderStatusLabel } from "./status.js";

/**
 * An order's timeline. The analytics service's GetOrderTimeline lists every domain event about
 * the order (reservation, payment, invoice, notifications, delivery); when it cannot be reached
 * or has not seen the order yet, the order's own status history stands in, and the page says so.
 * The gateway lets a customer read the timeline of their own orders only (another's is NOT_FOUND).
 */
export interface TimelineEntry {
  at?: Date;
  title: string;
  /** The event's subject ("payment.completed") and the service that published it. */
  event?: string;
  service?: string;
  detail?: string;
  /** How it went for the order: a failure, a setback or a step forward. */
  tone?: "good" | "bad" | "warn";
}

export interface Timeline {
  /** Oldest first. */
  entries: TimelineEntry[];
  /** "events": from the analytics service; "status-history": the order's status changes. */
  kind: "events" | "status-history";
  /** Why the status history stands in, or that recent events may still be missing. */
  note?: string;
  /** The events lag behind the order's status: asking again soon should give more. */
  behind?: boolean;
}

export interface TimelineSource {
  /** The timeline of `order`. Called again whenever the order changes. */
  timeline(order: Order, signal: AbortSignal): Promise<Timeline>;
}

export const statusHistoryTimeline: TimelineSource = {
  async timeline(order) {
    return {
      kind: "status-history",
      entries: order.history.map((change) => ({
        at: toDate(change.changedAt),
        title: orderStatusLabel(change.toStatus),
        detail: change.reason || undefined,
      })),
    };
  },
};

export const analyticsTimeline: TimelineSource = {
  async timeline(order, signal) {
    let answer;
    try {
      answer = await analytics.getOrderTimeline({ orderId: order.id }, { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      const fallback = await statusHistoryTimeline.timeline(order, signal);
      return {
        ...fallback,
        note: `The event timeline is unavailable (${describeError(error).detail.replace(/\.$/, "")}), so only the status changes are shown.`,
      };
    }
    if (answer.entries.length === 0) {
      const fallback = await statusHistoryTimeline.timeline(order, signal);
      return { ...fallback, behind: true, note: "No events are recorded for this order yet, so only the status changes are shown." };
    }
    // Analytics follows the events a moment behind the order service.
    const behind = answer.status !== OrderStatus.UNSPECIFIED && answer.status !== order.status;
    return {
      kind: "events",
      behind,
      note: behind ? "The latest events may take a moment to appear." : undefined,
      entries: answer.entries.map((entry) => ({
        at: toDate(entry.occurredAt),
        title: capitalize(entry.summary || entry.name.replace(/[._]/g, " ")),
        event: entry.name,
        service: entry.service,
        tone: toneOf(entry.name),
      })),
    };
  },
};

function toneOf(name: string): TimelineEntry["tone"] {
  if (/(failed|rejected|insufficient|expired)$/.test(name)) return "bad";
  if (/(cancelled|released|refunded)$/.test(name)) return "warn";
  if (/(confirmed|completed|delivered)$/.test(name)) return "good";
  return undefined;
}

export const timelineSource: TimelineSource = analyticsTimeline;

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
