import type { DescMessage } from "@bufbuild/protobuf";
import type { EventBusNames } from "./names.js";

/** What subject derivation needs from a protobuf-es message schema. */
export type EventTypeDesc = Pick<DescMessage, "typeName" | "name">;

/** Where an event type lives on the bus, independent of the namespace. */
export interface EventRoute {
  /** The event's full protobuf name, e.g. `shop.events.v1.OrderPaymentFailed`. */
  readonly eventType: string;
  /** The first CamelCase word of the name in lower case, e.g. `order`. */
  readonly aggregateType: string;
  /** The subject below the root, e.g. `order.payment_failed`. */
  readonly subjectSuffix: string;
}

const routes = new Map<string, EventRoute>();

/**
 * The route of an event type, derived from its message name: the first CamelCase word is the
 * aggregate, the rest in snake_case is the event (`OrderPaymentFailed` -> `order.payment_failed`,
 * `FileInvoiceGenerated` -> `file.invoice_generated`). Deriving instead of configuring means a
 * publisher and a consumer can never disagree about a subject.
 */
export function eventRoute(schema: EventTypeDesc): EventRoute {
  const cached = routes.get(schema.typeName);
  if (cached) return cached;
  const words = schema.name.match(/[A-Z][a-z0-9]*/g) ?? [];
  if (words.join("") !== schema.name || words.length < 2) {
    throw new Error(
      `cannot derive a subject from ${schema.typeName}: an event name is an aggregate word followed by ` +
        "at least one more CamelCase word (OrderCreated, OrderPaymentFailed)",
    );
  }
  const [aggregate, ...rest] = words.map((word) => word.toLowerCase());
  const route = Object.freeze({
    eventType: schema.typeName,
    aggregateType: aggregate,
    subjectSuffix: `${aggregate}.${rest.join("_")}`,
  });
  routes.set(schema.typeName, route);
  return route;
}

/** The full subject of an event type in a namespace, e.g. `shop.order.payment_failed`. */
export function eventSubject(names: EventBusNames, schema: EventTypeDesc): string {
  return `${names.subjectRoot}.${eventRoute(schema).subjectSuffix}`;
}

/** `shop.order.created` -> `dlq.shop.order.created` (within the same namespace). */
export function deadLetterSubject(names: EventBusNames, subject: string): string {
  return `${names.dlqSubjectRoot}.${suffixOf(subject, names.subjectRoot)}`;
}

/** `dlq.shop.order.created` -> `shop.order.created`: the inverse of {@link deadLetterSubject}. */
export function originalSubject(names: EventBusNames, dlqSubject: string): string {
  return `${names.subjectRoot}.${suffixOf(dlqSubject, names.dlqSubjectRoot)}`;
}

function suffixOf(subject: string, root: string): string {
  if (!subject.startsWith(`${root}.`) || subject.length === root.length + 1) {
    throw new Error(`subject "${subject}" is not below "${root}."`);
  }
  return subject.slice(root.length + 1);
}
