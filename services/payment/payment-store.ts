import type { EntityManager } from "@mikro-orm/postgresql";
import { CommitQueue, sql as query } from "../../lib/db/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { minorFromSql } from "../../lib/money.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import { tokenFingerprint } from "./card.js";
import type { IntentStatus, PaymentStatus, SettledIntentStatus } from "./domain/payment.js";
import { type PaymentRow, Refund, type RefundRow } from "./entities.js";

/**
 * Payment state on the caller's transaction: SQL only. The provider is called by charge.ts and
 * refund.ts, which use these to record what they are about to do and what the provider said.
 * Every operation that may create or change an order's payment first takes the order's lock (a
 * transaction-scoped advisory lock per order, `lockOrders`), so the saga consumers and the RPCs
 * are serialized per order: the provider is asked at most once per order at a time, and the
 * UNIQUE order_id of payments stays a last line of defence.
 * Lock order everywhere: order locks (sorted), intent rows, payment rows.
 */

/**
 * Serializes every payment change of the given orders until the transaction ends: one advisory
 * lock per order, taken in one statement in sorted order, so that two transactions locking
 * overlapping sets queue on their first common order instead of deadlocking. An advisory lock,
 * not a row lock, because the order's intent may not exist yet (inventory.reserved can arrive
 * before order.created). `orderIds` must be lower-case UUIDs.
 */
export async function lockOrders(em: EntityManager, orderIds: readonly string[]): Promise<void> {
  const keys = [...new Set(orderIds)].sort().map((orderId) => `payment-order:${orderId}`);
  if (keys.length === 0) return;
  // unnest yields the keys in array order, so the locks are taken in the order sorted above.
  await query(em, "SELECT count(pg_advisory_xact_lock(hashtextextended(key, 0))) FROM unnest(?::text[]) AS key", [keys]);
}

/** Serializes every payment change of one order until the transaction ends (see `lockOrders`). */
export function lockOrder(em: EntityManager, orderId: string): Promise<void> {
  return lockOrders(em, [orderId]);
}

// --- intents ---------------------------------------------------------------------------------

export interface Intent {
  orderId: string;
  customerId: string;
  amountMinor: bigint | null;
  currency: string | null;
  /** Present only while PENDING. */
  token: string | null;
  tokenFingerprint: string | null;
  status: IntentStatus;
  paymentId: string | null;
}

export interface NewIntent {
  orderId: string;
  customerId: string;
  amountMinor: bigint;
  currency: string;
  token: string | undefined;
}

/** The driver's error of a statement that bound a token, without the statement: its message would quote the token. */
function withoutToken(what: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  return new Error(`${what} failed (${typeof code === "string" ? code : "unknown error"})`);
}

/** An intent `recordIntent` queued, with what its row needs. */
interface QueuedIntent extends NewIntent {
  fingerprint: string | null;
  traceParent: string | null;
}

// The intents each transaction recorded, stored together just before it commits.
const queuedIntents = new CommitQueue<QueuedIntent[]>(() => [], insertIntents);

/**
 * Records the intent of an order from order.created (PENDING) and returns it. Call with the
 * order locked and after finding no intent. The row is written with the other intents of the
 * transaction in one statement just before it commits (a consumer batch of order.created costs
 * one insert, not one per order); nothing in the transaction reads it back before then, since
 * the charge of an intent recorded here comes from another event, in another transaction. An
 * intent that exists anyway (a bug) fails that insert on its primary key, which rolls the
 * transaction back, instead of being overwritten.
 */
export function recordIntent(em: EntityManager, intent: NewIntent): Intent {
  const fingerprint = intent.token ? tokenFingerprint(intent.token) : null;
  queuedIntents.of(em).push({ ...intent, fingerprint, traceParent: currentTraceParent() });
  return {
    orderId: intent.orderId,
    customerId: intent.customerId,
    amountMinor: intent.amountMinor,
    currency: intent.currency,
    token: intent.token ?? null,
    tokenFingerprint: fingerprint,
    status: "PENDING",
    paymentId: null,
  };
}

async function insertIntents(em: EntityManager, intents: readonly QueuedIntent[]): Promise<void> {
  try {
    await query(
      em,
      `INSERT INTO payment_intents (order_id, customer_id, amount_minor, currency, token, token_fingerprint, status, trace_parent)
       SELECT i.order_id, i.customer_id, i.amount_minor, i.currency, i.token, i.token_fingerprint, 'PENDING', i.trace_parent
       FROM unnest(?::uuid[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[])
         AS i(order_id, customer_id, amount_minor, currency, token, token_fingerprint, trace_parent)`,
      [
        intents.map((i) => i.orderId),
        intents.map((i) => i.customerId),
        intents.map((i) => i.amountMinor.toString()),
        intents.map((i) => i.currency),
        intents.map((i) => i.token ?? null),
        intents.map((i) => i.fingerprint),
        intents.map((i) => i.traceParent),
      ],
    );
  } catch (error) {
    throw withoutToken("storing the payment intents", error);
  }
}

/**
 * Records that inventory.reserved arrived before order.created: an AWAITING_ORDER intent without
 * token or total, which order.created completes and charges. Call with the order locked and
 * after finding no intent.
 */
export async function awaitOrder(em: EntityManager, orderId: string, customerId: string): Promise<Intent> {
  await query(em, "INSERT INTO payment_intents (order_id, customer_id, status) VALUES (?, ?, 'AWAITING_ORDER')", [orderId, customerId]);
  return { orderId, customerId, amountMinor: null, currency: null, token: null, tokenFingerprint: null, status: "AWAITING_ORDER", paymentId: null };
}

/**
 * Fills in the `awaiting` (AWAITING_ORDER) intent from order.created and returns it PENDING,
 * chargeable; it keeps the customer inventory.reserved named. Call with the order locked.
 */
export async function completeIntent(em: EntityManager, awaiting: Intent, intent: NewIntent): Promise<Intent> {
  const fingerprint = intent.token ? tokenFingerprint(intent.token) : null;
  try {
    await query(
      em,
      `UPDATE payment_intents SET amount_minor = ?, currency = ?, token = ?, token_fingerprint = ?, status = 'PENDING', updated_at = now()
       WHERE order_id = ? AND status = 'AWAITING_ORDER'`,
      [intent.amountMinor, intent.currency, intent.token ?? null, fingerprint, intent.orderId],
    );
  } catch (error) {
    throw withoutToken("completing the payment intent", error);
  }
  return {
    ...awaiting,
    amountMinor: intent.amountMinor,
    currency: intent.currency,
    token: intent.token ?? null,
    tokenFingerprint: fingerprint,
    status: "PENDING",
  };
}

/** Settles an open (PENDING or AWAITING_ORDER) intent as CHARGED / FAILED / CANCELLED and wipes its token. */
export async function settleIntent(em: EntityManager, orderId: string, status: SettledIntentStatus, paymentId?: string): Promise<void> {
  await query(
    em,
    `UPDATE payment_intents SET status = ?, payment_id = coalesce(?, payment_id), token = NULL, updated_at = now()
     WHERE order_id = ? AND status IN ('PENDING', 'AWAITING_ORDER')`,
    [status, paymentId ?? null, orderId],
  );
}

/**
 * A CANCELLED intent for an order that ended before its order.created arrived; returns it.
 * Should a PENDING intent have appeared meanwhile (callers hold the order lock, so it cannot),
 * it is cancelled too.
 */
export async function writeTombstone(em: EntityManager, orderId: string, customerId: string): Promise<Intent> {
  await query(
    em,
    `INSERT INTO payment_intents (order_id, customer_id, status) VALUES (?, ?, 'CANCELLED')
     ON CONFLICT (order_id) DO UPDATE SET status = 'CANCELLED', token = NULL, updated_at = now()
     WHERE payment_intents.status IN ('PENDING', 'AWAITING_ORDER')`,
    [orderId, customerId],
  );
  return { orderId, customerId, amountMinor: null, currency: null, token: null, tokenFingerprint: null, status: "CANCELLED", paymentId: null };
}

// --- payments --------------------------------------------------------------------------------

const PAYMENT_COLUMNS =
  "id, order_id, customer_id, amount_minor, currency, status, card_last4, token_fingerprint, provider_reference, failure_reason, refunded_minor, created_at, updated_at";

/** A payment from `row`, whose columns are PAYMENT_COLUMNS, each named with `prefix` first. */
function toPayment(row: Record<string, unknown>, prefix = ""): PaymentRow {
  const column = (name: string) => row[prefix + name];
  const text = (name: string) => (column(name) == null ? null : String(column(name)));
  return {
    id: String(column("id")),
    orderId: String(column("order_id")),
    customerId: String(column("customer_id")),
    amountMinor: minorFromSql(column("amount_minor")),
    currency: String(column("currency")),
    status: column("status") as PaymentStatus,
    cardLast4: text("card_last4"),
    tokenFingerprint: text("token_fingerprint"),
    providerReference: text("provider_reference"),
    failureReason: text("failure_reason"),
    refundedMinor: minorFromSql(column("refunded_minor")),
    createdAt: new Date(column("created_at") as Date),
    updatedAt: new Date(column("updated_at") as Date),
  };
}

/** The payment of an order; `lock` takes its row lock. */
export async function findPaymentOfOrder(em: EntityManager, orderId: string, lock = false): Promise<PaymentRow | null> {
  const [row] = await query(em, `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE order_id = ?${lock ? " FOR UPDATE" : ""}`, [orderId]);
  return row ? toPayment(row) : null;
}

/** What a charge is about, known before the provider is asked. */
export interface ChargeInput {
  orderId: string;
  customerId: string;
  amountMinor: bigint;
  currency: string;
  /** Undefined when the order carried no usable token: the payment fails without asking the provider. */
  token: string | undefined;
}

/** How a charge ended: the provider's answer, or a failure the service decided on itself. */
export type ChargeAnswer =
  { status: "COMPLETED"; cardLast4: string | null; providerReference: string } | { status: "FAILED"; cardLast4?: string | null; failureReason: string };

/** The columns `paymentValues` gives values for, in its order. */
const PAYMENT_VALUE_COLUMNS = [
  "id",
  "order_id",
  "customer_id",
  "amount_minor",
  "currency",
  "status",
  "card_last4",
  "token_fingerprint",
  "provider_reference",
  "failure_reason",
] as const;

const INSERT_PAYMENT = `INSERT INTO payments (${PAYMENT_VALUE_COLUMNS.join(", ")})
  VALUES (${PAYMENT_VALUE_COLUMNS.map(() => "?").join(", ")}) RETURNING ${PAYMENT_COLUMNS}`;

function paymentValues(id: string, input: ChargeInput, answer: ChargeAnswer): unknown[] {
  return [
    id,
    input.orderId,
    input.customerId,
    input.amountMinor.toString(),
    input.currency,
    answer.status,
    answer.cardLast4 ?? null,
    input.token ? tokenFingerprint(input.token) : null,
    answer.status === "COMPLETED" ? answer.providerReference : null,
    answer.status === "FAILED" ? answer.failureReason : null,
  ];
}

/** Records the answer to a charge as the order's payment (COMPLETED or FAILED). */
export async function recordPayment(em: EntityManager, input: ChargeInput, answer: ChargeAnswer): Promise<PaymentRow> {
  const [row] = await query(em, INSERT_PAYMENT, paymentValues(uuidv7(), input, answer));
  return toPayment(row);
}

/**
 * Records the saga's charge in one statement: the order's payment (as `recordPayment`) and its
 * open intent settled as `intentStatus`, pointing at the payment, its token wiped. In a
 * transaction that defers its charges (`deferCharges`) both are written at its commit, and the
 * payment returned is the one that will be: its timestamps are `now`, the transaction's now().
 */
export async function recordCharge(
  em: EntityManager,
  input: ChargeInput,
  answer: ChargeAnswer,
  intentStatus: "CHARGED" | "FAILED",
  now: Date,
): Promise<PaymentRow> {
  const id = uuidv7();
  const queued = queuedCharges.peek(em);
  if (queued) {
    queued.push({ values: paymentValues(id, input, answer), intentStatus });
    return {
      id,
      orderId: input.orderId,
      customerId: input.customerId,
      amountMinor: input.amountMinor,
      currency: input.currency,
      status: answer.status,
      cardLast4: answer.cardLast4 ?? null,
      tokenFingerprint: input.token ? tokenFingerprint(input.token) : null,
      providerReference: answer.status === "COMPLETED" ? answer.providerReference : null,
      failureReason: answer.status === "FAILED" ? answer.failureReason : null,
      refundedMinor: 0n,
      createdAt: now,
      updatedAt: now,
    };
  }
  const [row] = await query(
    em,
    `WITH payment AS (${INSERT_PAYMENT}),
     intent AS (
       UPDATE payment_intents SET status = ?, payment_id = ?, token = NULL, updated_at = now()
       WHERE order_id = ? AND status IN ('PENDING', 'AWAITING_ORDER'))
     SELECT * FROM payment`,
    [...paymentValues(id, input, answer), intentStatus, id, input.orderId],
  );
  return toPayment(row);
}

/** A charge `recordCharge` queued: its payments row, and how its intent settles. */
interface QueuedCharge {
  values: unknown[];
  intentStatus: "CHARGED" | "FAILED";
}

// The charges of transactions that called `deferCharges`, recorded together just before they commit.
const queuedCharges = new CommitQueue<QueuedCharge[]>(() => [], insertCharges);

/**
 * Queues the charges this transaction records until just before it commits, where they are
 * written in one statement (a consumer batch of inventory.reserved costs one insert, not one per
 * order). The order locks make a conflict impossible; should one happen anyway (a bug), the
 * commit fails and the batch's events are applied one at a time. Nothing in the transaction may
 * change a payment it charged: the row is not there until the commit.
 */
export function deferCharges(em: EntityManager): void {
  queuedCharges.of(em);
}

async function insertCharges(em: EntityManager, charges: readonly QueuedCharge[]): Promise<void> {
  const column = (i: number) => charges.map((charge) => charge.values[i]);
  await query(
    em,
    `WITH payment AS (
       INSERT INTO payments (${PAYMENT_VALUE_COLUMNS.join(", ")})
       SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
     ),
     intent AS (
       UPDATE payment_intents i SET status = c.status, payment_id = c.payment_id, token = NULL, updated_at = now()
       FROM unnest(?::uuid[], ?::uuid[], ?::text[]) AS c(order_id, payment_id, status)
       WHERE i.order_id = c.order_id AND i.status IN ('PENDING', 'AWAITING_ORDER')
     )
     SELECT 1`,
    [...PAYMENT_VALUE_COLUMNS.map((_, i) => column(i)), column(1), column(0), charges.map((charge) => charge.intentStatus)],
  );
}

// --- locked orders ---------------------------------------------------------------------------

const INTENT_COLUMNS = "customer_id, amount_minor, currency, token, token_fingerprint, status, payment_id";

/** An intent from `row`, whose columns are INTENT_COLUMNS named with `prefix` first; undefined if they are all null. */
function toIntent(orderId: string, row: Record<string, unknown>, prefix: string): Intent | undefined {
  const column = (name: string) => row[prefix + name];
  const text = (name: string) => (column(name) == null ? null : String(column(name)));
  if (column("status") == null) return undefined;
  return {
    orderId,
    customerId: String(column("customer_id")),
    amountMinor: column("amount_minor") == null ? null : minorFromSql(column("amount_minor")),
    currency: text("currency"),
    token: text("token"),
    tokenFingerprint: text("token_fingerprint"),
    status: column("status") as IntentStatus,
    paymentId: text("payment_id"),
  };
}

/** `alias.column AS prefixcolumn` for each of `columns`: the result row keeps intent and payment columns apart. */
function prefixed(alias: string, columns: string, prefix: string): string {
  return columns
    .split(", ")
    .map((name) => `${alias}.${name} AS ${prefix}${name}`)
    .join(", ");
}

// The row locks are taken in subqueries: FOR UPDATE may not name the nullable side of an outer join.
const READ_ORDERS = `SELECT o.order_id, ${prefixed("i", INTENT_COLUMNS, "intent_")}, ${prefixed("p", PAYMENT_COLUMNS, "payment_")}, now() AS now
  FROM unnest(?::uuid[]) AS o (order_id)
  LEFT JOIN (SELECT order_id, ${INTENT_COLUMNS} FROM payment_intents WHERE order_id = ANY(?::uuid[]) FOR UPDATE) AS i ON i.order_id = o.order_id
  LEFT JOIN (SELECT ${PAYMENT_COLUMNS} FROM payments WHERE order_id = ANY(?::uuid[]) FOR UPDATE) AS p ON p.order_id = o.order_id`;

/** What the database holds about one order's payment. */
export interface OrderPayment {
  intent: Intent | undefined;
  payment: PaymentRow | undefined;
}

/**
 * The intent and payment of each of `orderIds` (lower-case UUIDs, at least one), their rows
 * locked, and the transaction's now(), in one statement. Call with the orders locked
 * (`lockOrders`) and only after that statement: this one's snapshot then sees every intent
 * committed before the locks were granted.
 */
export async function readOrders(em: EntityManager, orderIds: readonly string[]): Promise<{ orders: Map<string, OrderPayment>; now: Date }> {
  const ids = [...new Set(orderIds)];
  const rows = await query(em, READ_ORDERS, [ids, ids, ids]);
  const orders = new Map(
    rows.map((row) => {
      const orderId = String(row.order_id);
      return [orderId, { intent: toIntent(orderId, row, "intent_"), payment: row.payment_id == null ? undefined : toPayment(row, "payment_") }];
    }),
  );
  return { orders, now: new Date(rows[0].now as Date) };
}

// --- refunds ---------------------------------------------------------------------------------

const REFUND_COLUMNS = "id, payment_id, seq, amount_minor, reason, provider_reference, created_at";

function toRefund(row: Record<string, unknown>): RefundRow {
  return {
    id: String(row.id),
    paymentId: String(row.payment_id),
    seq: Number(row.seq),
    amountMinor: minorFromSql(row.amount_minor),
    reason: String(row.reason),
    providerReference: String(row.provider_reference),
    createdAt: new Date(row.created_at as Date),
  };
}

/**
 * Records a refund of `amountMinor` of a payment before any money moves: the row (numbered
 * `seq`, from 1 per payment) is inserted at once, so whatever the database refuses (a
 * constraint, a value it cannot store) fails here, before the provider is asked. Its provider
 * reference stays empty until `completeRefund`. `payment` must be locked.
 */
export async function startRefund(em: EntityManager, payment: PaymentRow, amountMinor: bigint, reason: string): Promise<RefundRow> {
  const [row] = await query(
    em,
    `INSERT INTO refunds (id, payment_id, seq, amount_minor, reason, provider_reference)
     SELECT ?, ?, coalesce(max(seq), 0) + 1, ?, ?, '' FROM refunds WHERE payment_id = ?
     RETURNING ${REFUND_COLUMNS}`,
    [uuidv7(), payment.id, amountMinor.toString(), reason, payment.id],
  );
  return toRefund(row);
}

/**
 * Fills in the provider's reference of a started refund and the payment's refunded total and
 * status, in one statement; `payment` and `refund` are updated to match.
 */
export async function completeRefund(
  em: EntityManager,
  payment: PaymentRow,
  refund: RefundRow,
  providerReference: string,
  after: { refundedMinor: bigint; status: PaymentStatus },
): Promise<void> {
  const [row] = await query<{ updated_at: Date }>(
    em,
    `WITH refund AS (UPDATE refunds SET provider_reference = ? WHERE id = ?)
     UPDATE payments SET refunded_minor = ?, status = ?, updated_at = now() WHERE id = ? RETURNING updated_at`,
    [providerReference, refund.id, after.refundedMinor.toString(), after.status, payment.id],
  );
  refund.providerReference = providerReference;
  payment.refundedMinor = after.refundedMinor;
  payment.status = after.status;
  payment.updatedAt = new Date(row.updated_at);
}

/** Refunds of the given payments, oldest first, grouped by payment id. */
export async function refundsOf(em: EntityManager, paymentIds: string[]): Promise<Map<string, RefundRow[]>> {
  const byPayment = new Map<string, RefundRow[]>(paymentIds.map((id) => [id, []]));
  if (paymentIds.length === 0) return byPayment;
  const rows = await em.find(Refund, { paymentId: { $in: paymentIds } }, { orderBy: { seq: "asc" } });
  for (const row of rows) byPayment.get(row.paymentId)?.push(row);
  return byPayment;
}
