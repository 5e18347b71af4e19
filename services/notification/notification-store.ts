import type { EntityManager } from "@mikro-orm/postgresql";
import { uuidv7 } from "../../lib/ids.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import type { ChannelName } from "./domain/recipients.js";
import type { Contact, PendingMessage } from "./domain/batch-plan.js";
import { sql as execute } from "../../lib/db/index.js";
import { totalFromColumns, totalToColumns } from "./total-columns.js";

/**
 * notification_log is both the log and the send queue. A row is PENDING with a next_attempt_at
 * until it is SENT or FAILED. Whoever makes an attempt first claims the row: attempts + 1 and
 * next_attempt_at pushed out by a lease, committed before the provider is called, so no
 * transaction stays open during a send. Results are written back only if the row is still the
 * same claim (status PENDING and the same attempts), so a sender whose lease ran out (it hung,
 * or its process died and another replica re-claimed the row) cannot overwrite a newer outcome.
 */

type Row = Record<string, unknown>;

/** A message to send, as the saga's consumers and SendNotification produce it. */
export interface NewMessage {
  orderId: string | null;
  customerId: string;
  channel: ChannelName;
  recipient: string;
  /** The built-in template it was rendered from, if any. */
  template: string | null;
  subject: string;
  body: string;
  /** The event that caused it, if any. */
  eventId: string | null;
  /** The trace its first attempt continues; the active span's when left out. */
  traceParent?: string | null;
}

/** A row some sender has claimed for attempt number `attempts`. */
export interface ClaimedNotification {
  id: string;
  orderId: string | null;
  customerId: string;
  channel: ChannelName;
  recipient: string;
  subject: string;
  body: string;
  attempts: number;
  /** The trace of whoever queued it (observability, issue 10). */
  traceParent: string | null;
}

function toClaimed(row: Row): ClaimedNotification {
  return {
    id: String(row.id),
    orderId: row.order_id === null ? null : String(row.order_id),
    customerId: String(row.customer_id),
    channel: row.channel as ChannelName,
    recipient: String(row.recipient),
    subject: String(row.subject),
    body: String(row.body),
    attempts: Number(row.attempts),
    traceParent: row.trace_parent == null ? null : String(row.trace_parent),
  };
}

const CLAIMED_COLUMNS = "id, order_id, customer_id, channel, recipient, subject, body, attempts, trace_parent";

/**
 * Queues messages as PENDING and due now, in one statement. A message whose (event_id, channel)
 * is already there is skipped, so an event handled twice never queues twice. Returns how many
 * were queued.
 */
export async function queue(em: EntityManager, messages: readonly NewMessage[]): Promise<number> {
  if (messages.length === 0) return 0;
  const traceParent = currentTraceParent();
  const rows = await execute(
    em,
    `INSERT INTO notification_log (id, order_id, customer_id, channel, recipient, template, subject, body, status, event_id, next_attempt_at, trace_parent)
     SELECT id, order_id, customer_id, channel, recipient, template, subject, body, 'PENDING', event_id, now(), trace_parent
     FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::uuid[], ?::text[])
       AS m(id, order_id, customer_id, channel, recipient, template, subject, body, event_id, trace_parent)
     ON CONFLICT (event_id, channel) DO NOTHING RETURNING id`,
    [
      messages.map(() => uuidv7()),
      messages.map((m) => m.orderId),
      messages.map((m) => m.customerId),
      messages.map((m) => m.channel),
      messages.map((m) => m.recipient),
      messages.map((m) => m.template),
      messages.map((m) => m.subject),
      messages.map((m) => m.body),
      messages.map((m) => m.eventId),
      messages.map((m) => (m.traceParent === undefined ? traceParent : m.traceParent)),
    ],
  );
  return rows.length;
}

/** Inserts a message already claimed for its first attempt, for a caller that sends it at once. */
export async function insertClaimed(em: EntityManager, m: NewMessage, leaseMs: number): Promise<ClaimedNotification> {
  const [row] = await execute(
    em,
    `INSERT INTO notification_log (id, order_id, customer_id, channel, recipient, template, subject, body, status, event_id, attempts, next_attempt_at, trace_parent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, 1, now() + ? * interval '1 millisecond', ?)
     RETURNING ${CLAIMED_COLUMNS}`,
    [uuidv7(), m.orderId, m.customerId, m.channel, m.recipient, m.template, m.subject, m.body, m.eventId, leaseMs, currentTraceParent()],
  );
  return toClaimed(row);
}

/**
 * Claims up to `limit` due PENDING rows of `channels` for their next attempt (one statement,
 * SKIP LOCKED: replicas claiming at once get different rows), oldest due first.
 */
export async function claimDue(em: EntityManager, channels: readonly ChannelName[], limit: number, leaseMs: number): Promise<ClaimedNotification[]> {
  if (channels.length === 0 || limit <= 0) return [];
  const rows = await execute(
    em,
    `UPDATE notification_log n
     SET attempts = n.attempts + 1, next_attempt_at = now() + ? * interval '1 millisecond', updated_at = now()
     FROM (
       SELECT id FROM notification_log
       WHERE status = 'PENDING' AND next_attempt_at <= now() AND channel = ANY(?::text[])
       ORDER BY next_attempt_at, id
       LIMIT ?
       FOR UPDATE SKIP LOCKED
     ) due
     WHERE n.id = due.id
     RETURNING ${CLAIMED_COLUMNS.split(", ")
       .map((c) => `n.${c}`)
       .join(", ")}`,
    [leaseMs, `{${channels.join(",")}}`, limit],
  );
  return rows.map(toClaimed);
}

/** What became of a claimed attempt, to be written back. */
export type Outcome =
  | { kind: "sent"; providerMessageId: string }
  /** The attempt never reached the provider: it does not count, the row is due again after `delayMs`. */
  | { kind: "released"; reason: string; delayMs: number }
  | { kind: "retry"; error: string; delayMs: number }
  /** The last attempt failed: the message is given up. */
  | { kind: "failed"; error: string };

/**
 * Writes the outcomes of claimed attempts in one statement. Each is written only if its row is
 * still the same claim (PENDING, same attempts). Returns the ids written; a row missing from it
 * had its claim taken over (lease expired) and is not changed.
 */
export async function recordOutcomes(em: EntityManager, outcomes: readonly { claimed: ClaimedNotification; outcome: Outcome }[]): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set();
  const rows = await execute<{ id: string }>(
    em,
    `UPDATE notification_log n SET
       status = CASE o.kind WHEN 'sent' THEN 'SENT' WHEN 'failed' THEN 'FAILED' ELSE 'PENDING' END,
       attempts = n.attempts - (o.kind = 'released')::int,
       next_attempt_at = CASE WHEN o.kind IN ('retry', 'released') THEN now() + o.delay_ms * interval '1 millisecond' END,
       sent_at = CASE WHEN o.kind = 'sent' THEN now() END,
       provider_message_id = CASE WHEN o.kind = 'sent' THEN o.provider_message_id ELSE n.provider_message_id END,
       last_error = CASE WHEN o.kind = 'sent' THEN n.last_error ELSE o.error END,
       updated_at = now()
     FROM unnest(?::uuid[], ?::int[], ?::text[], ?::float8[], ?::text[], ?::text[]) AS o(id, attempts, kind, delay_ms, error, provider_message_id)
     WHERE n.id = o.id AND n.status = 'PENDING' AND n.attempts = o.attempts
     RETURNING n.id`,
    [
      outcomes.map((o) => o.claimed.id),
      outcomes.map((o) => o.claimed.attempts),
      outcomes.map((o) => o.outcome.kind),
      outcomes.map(({ outcome }) => (outcome.kind === "retry" || outcome.kind === "released" ? outcome.delayMs : null)),
      outcomes.map(({ outcome }) => (outcome.kind === "sent" ? null : (outcome.kind === "released" ? outcome.reason : outcome.error).slice(0, 2000))),
      outcomes.map(({ outcome }) => (outcome.kind === "sent" ? outcome.providerMessageId : null)),
    ],
  );
  return new Set(rows.map((row) => String(row.id)));
}

/**
 * Serializes the batches that touch the same orders until the transaction ends, so that one
 * batch's contact lookup and another's arrival of that contact never miss each other. One
 * statement for all of them, in one order (sorted), so two batches never wait on each other.
 * The key is the one the per-event consumers used: replicas of both versions exclude each other.
 */
export async function lockOrders(em: EntityManager, orderIds: readonly string[]): Promise<void> {
  if (orderIds.length === 0) return;
  const keys = [...new Set(orderIds)].map((id) => `notification-order:${id}`).sort();
  await execute(em, "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(?::text[]) AS k", [keys]);
}

type ContactRow = {
  order_id: string;
  customer_id: string;
  name: string;
  email: string;
  phone: string;
  total_minor: string | null;
  currency_code: string | null;
};
type TakenRow = {
  order_id: string;
  customer_id: string;
  event_id: string;
  stream_seq: string | null;
  template: string;
  vars: unknown;
  created_at: string;
};

const CONTACT_COLUMNS = "order_id, customer_id, name, email, phone, total_minor, currency_code";

/** The contacts stored for a batch's orders before it, and the pending messages it takes. */
export interface BatchContacts {
  known: Map<string, Contact>;
  /** In the order their events arrived (see `byArrival`). */
  taken: PendingMessage[];
}

/**
 * Reads the contacts stored for `orderIds`; with `newContacts`, in the same statement also
 * stores those (the first ones recorded for an order stay) and removes and returns the pending
 * messages of their orders. `known` is what was stored before this statement: the statement's
 * snapshot does not see its own inserts. Run it after `lockOrders`, in a later statement, so
 * that its snapshot includes everything the batches that held those locks committed.
 */
export async function readContacts(em: EntityManager, orderIds: readonly string[], newContacts: readonly Contact[]): Promise<BatchContacts> {
  if (newContacts.length === 0) {
    const rows = await execute<ContactRow>(em, `SELECT ${CONTACT_COLUMNS} FROM notification_contacts WHERE order_id = ANY(?::uuid[])`, [orderIds]);
    return { known: new Map(rows.map((row) => [row.order_id, toContact(row)])), taken: [] };
  }
  const created = newContacts.map((c) => c.orderId);
  const rows = await execute<(ContactRow & { kind: "contact" }) | (TakenRow & { kind: "pending" })>(
    em,
    `WITH saved AS (
       INSERT INTO notification_contacts (${CONTACT_COLUMNS})
       SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[])
       ON CONFLICT (order_id) DO NOTHING
     ), taken AS (
       DELETE FROM pending_notifications WHERE order_id = ANY(?::uuid[])
       RETURNING event_id, stream_seq, order_id, customer_id, template, vars, created_at
     )
     SELECT 'contact' AS kind, ${CONTACT_COLUMNS}, NULL::uuid AS event_id, NULL::bigint AS stream_seq, NULL::text AS template, NULL::jsonb AS vars,
       NULL::timestamptz AS created_at
     FROM notification_contacts WHERE order_id = ANY(?::uuid[])
     UNION ALL
     SELECT 'pending', order_id, customer_id, NULL, NULL, NULL, NULL, NULL, event_id, stream_seq, template, vars, created_at FROM taken`,
    [
      created,
      newContacts.map((c) => c.customerId),
      newContacts.map((c) => c.name),
      newContacts.map((c) => c.email),
      newContacts.map((c) => c.phone),
      newContacts.map((c) => totalToColumns(c.total).total_minor),
      newContacts.map((c) => totalToColumns(c.total).currency_code),
      created,
      orderIds,
    ],
  );
  const known = new Map<string, Contact>();
  const taken: TakenRow[] = [];
  for (const row of rows) {
    if (row.kind === "contact") known.set(row.order_id, toContact(row));
    else taken.push(row);
  }
  return {
    known,
    taken: taken.sort(byArrival).map((row) => ({
      eventId: row.event_id,
      streamSequence: row.stream_seq === null ? null : Number(row.stream_seq),
      orderId: row.order_id,
      customerId: row.customer_id,
      template: row.template,
      vars: (typeof row.vars === "string" ? JSON.parse(row.vars) : row.vars) as Record<string, string | undefined>,
    })),
  };
}

/**
 * Rows in the order their events arrived on the stream. Rows saved before the sequence was
 * recorded have none: they come first, by when they were saved, then by event id (as before).
 */
function byArrival(a: TakenRow, b: TakenRow): number {
  const seq = (row: TakenRow) => (row.stream_seq === null ? 0 : Number(row.stream_seq));
  return seq(a) - seq(b) || new Date(a.created_at).getTime() - new Date(b.created_at).getTime() || a.event_id.localeCompare(b.event_id);
}

function toContact(row: ContactRow): Contact {
  return {
    orderId: row.order_id,
    customerId: row.customer_id,
    name: row.name,
    email: row.email,
    phone: row.phone,
    total: totalFromColumns(row),
  };
}

/**
 * Keeps messages until order.created brings their recipients; once per event, with the stream
 * sequence it first arrived at (the order they are released in).
 */
export async function savePending(em: EntityManager, pending: readonly PendingMessage[]): Promise<void> {
  if (pending.length === 0) return;
  await execute(
    em,
    `INSERT INTO pending_notifications (event_id, stream_seq, order_id, customer_id, template, vars)
     SELECT * FROM unnest(?::uuid[], ?::bigint[], ?::uuid[], ?::text[], ?::text[], ?::jsonb[])
     ON CONFLICT (event_id) DO NOTHING`,
    [
      pending.map((p) => p.eventId),
      pending.map((p) => p.streamSequence),
      pending.map((p) => p.orderId),
      pending.map((p) => p.customerId),
      pending.map((p) => p.template),
      pending.map((p) => JSON.stringify(p.vars)),
    ],
  );
}
