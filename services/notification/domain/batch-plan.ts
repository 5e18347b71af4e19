import { formatMoney, type Money } from "../../../lib/money.js";
import type { ChannelName } from "./recipients.js";
import { isTemplateName, renderTemplate, type TemplateName } from "./templates.js";

/**
 * What a batch of saga events does to the notification tables, decided without I/O so that
 * the consumer can apply a whole batch with a few set-based statements.
 *
 * order.created brings an order's contact details (the first ones recorded stay). Every
 * customer-visible event queues one message per channel the order's contact has. An event
 * whose order has no contact yet waits (a pending message) until order.created arrives,
 * in this batch or a later one; order.created then queues its own message first and the
 * waiting ones after it, in the order their events arrived on the stream (not the order they
 * were saved or handled: a redelivered event arrives late in a batch, and the messages one batch
 * saved share their created_at).
 */

/** An order's contact details, as stored. */
export interface Contact {
  orderId: string;
  customerId: string;
  name: string;
  /** Normalised; empty when the order has no usable e-mail address. */
  email: string;
  /** Normalised; empty when the order has no usable phone number. */
  phone: string;
  /** The order's total; null when order.created brought none that can be shown. */
  total: Money | null;
}

/** A message waiting for its order's contact details. */
export interface PendingMessage {
  eventId: string;
  /** The stream sequence of its event; null for one saved before it was recorded. */
  streamSequence: number | null;
  orderId: string;
  customerId: string;
  /** Stored as text: a template that no longer exists is dropped, not queued. */
  template: string;
  vars: Record<string, string | undefined>;
}

/** A saga event reduced to the message it announces (and, for order.created, the contact it brings). */
export interface PlanEvent {
  eventId: string;
  /** Its sequence in the stream: the order of arrival, which waiting messages are released in. */
  streamSequence: number;
  orderId: string;
  customerId: string;
  template: TemplateName;
  vars: Record<string, string | undefined>;
  /** Set by order.created only. */
  contact?: Contact;
  /** The trace the event's messages continue (observability); passed through untouched. */
  traceParent: string | null;
}

/** A rendered message to insert into notification_log, once per (eventId, channel). */
export interface PlannedMessage {
  eventId: string;
  orderId: string;
  customerId: string;
  channel: ChannelName;
  recipient: string;
  template: TemplateName;
  subject: string;
  body: string;
  traceParent: string | null;
}

export interface BatchPlan {
  /** Messages to queue, in the order they are to be sent. */
  messages: PlannedMessage[];
  /** Messages to keep until their order's contact arrives. */
  pending: PendingMessage[];
  /** Taken pending messages whose template is unknown: dropped, reported. */
  dropped: PendingMessage[];
}

/**
 * The contacts the batch brings: the first order.created of each order (stored unless the
 * order has one already). Only these orders can have pending messages to take.
 */
export function contactsIn(events: readonly PlanEvent[]): Contact[] {
  const brought = new Map<string, Contact>();
  for (const event of events) {
    if (event.contact && !brought.has(event.orderId)) brought.set(event.orderId, event.contact);
  }
  return [...brought.values()];
}

/**
 * Plans `events` (in delivery order) given the contacts stored before the batch (`known`) and
 * the pending messages taken for the orders whose contact this batch brings (`taken`).
 */
export function planBatch(events: readonly PlanEvent[], known: ReadonlyMap<string, Contact>, taken: readonly PendingMessage[]): BatchPlan {
  const contacts = new Map(known);
  // Per order without a contact: the messages waiting for it, oldest first.
  const waiting = new Map<string, PendingMessage[]>();
  for (const message of taken) listOf(waiting, message.orderId).push(message);
  const plan: BatchPlan = { messages: [], pending: [], dropped: [] };
  const queued = new Set<string>();

  function queue(contact: Contact, message: PendingMessage, template: TemplateName, traceParent: string | null): void {
    const data = {
      order_id: contact.orderId,
      name: contact.name,
      total: contact.total ? formatMoney(contact.total) : undefined,
      ...message.vars,
    };
    for (const [channel, recipient] of recipientsOf(contact)) {
      // A message already planned (the same event twice) is queued once.
      const key = `${message.eventId}/${channel}`;
      if (queued.has(key)) continue;
      queued.add(key);
      plan.messages.push({
        ...renderTemplate(template, channel, data),
        eventId: message.eventId,
        orderId: contact.orderId,
        customerId: message.customerId || contact.customerId,
        channel,
        recipient,
        template,
        traceParent,
      });
    }
  }

  for (const event of events) {
    if (event.contact && !contacts.has(event.orderId)) contacts.set(event.orderId, event.contact);
    const contact = contacts.get(event.orderId);
    const message: PendingMessage = {
      eventId: event.eventId,
      streamSequence: event.streamSequence,
      orderId: event.orderId,
      customerId: event.customerId,
      template: event.template,
      vars: event.vars,
    };
    if (!contact) {
      listOf(waiting, event.orderId).push(message);
      continue;
    }
    queue(contact, message, event.template, event.traceParent);
    // The messages that waited for this contact, queued as part of this event.
    for (const waited of byArrival(waiting.get(event.orderId) ?? [])) {
      if (isTemplateName(waited.template)) queue(contact, waited, waited.template, event.traceParent);
      else plan.dropped.push(waited);
    }
    waiting.delete(event.orderId);
  }
  // Still no contact: the messages keep waiting, each once.
  const kept = new Set<string>();
  for (const message of [...waiting.values()].flat()) {
    if (!kept.has(message.eventId)) plan.pending.push(message);
    kept.add(message.eventId);
  }
  return plan;
}

/** `messages` in the order their events arrived; those saved without a sequence (older) first, as given. */
function byArrival(messages: PendingMessage[]): PendingMessage[] {
  return messages.sort((a, b) => (a.streamSequence ?? 0) - (b.streamSequence ?? 0));
}

/** The channels a contact can be reached on, e-mail first. */
function recipientsOf(contact: Contact): [ChannelName, string][] {
  const recipients: [ChannelName, string][] = [];
  if (contact.email) recipients.push(["EMAIL", contact.email]);
  if (contact.phone) recipients.push(["SMS", contact.phone]);
  return recipients;
}

function listOf<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  return list;
}
