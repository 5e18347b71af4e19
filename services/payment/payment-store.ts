import type { EntityManager } from "@mikro-orm/postgresql";
import { sql as query } from "../../lib/db/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { minorFromSql } from "../../lib/money.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import { tokenFingerprint } from "./card.js";
import type { IntentStatus, PaymentStatus } from "./domain/payment.js";
import { type PaymentRow, Refund, type RefundRow } from "./entities.js";

/**
 * Payment state on the caller's transaction: SQL only. The provider is called by charge.ts and
 * refund.ts, which use these to record what they are about to do and what the provider said.
 * Every operation that may create or change an order's payment first takes `lockOrder` (a
 * transaction-scoped advisory lock per order), so the saga consumers and the RPCs are
 * serialized per order: the provider is asked at most once per order at a time, and the UNIQUE
 * order_id of payments stays a last line of defence.
 * Lock order everywhere: order lock, intent row, payment row.
 */

/** Serializes every payment change of one order until the transaction ends. */
export async function lockOrder(em: EntityManager, orderId: string): Promise<void> {
  await query(em, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [`payment-order:${orderId}`]);
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

/**
 * Stores the intent of an order from order.created. Idempotent: an existing intent (a
 * redelivery, or a CANCELLED tombstone of an order that ended first) is left as it is. Call
 * with lockOrder held: otherwise a concurrent cancellation could miss an intent that is being
 * inserted, and the order would stay chargeable.
 */
export async function recordIntent(em: EntityManager, intent: NewIntent): Promise<boolean> {
  try {
    const rows = await query(
      em,
      `INSERT INTO payment_intents (order_id, customer_id, amount_minor, currency, token, token_fingerprint, status, trace_parent)
       VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?) ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
      [
        intent.orderId,
        intent.customerId,
        intent.amountMinor,
        intent.currency,
        intent.token ?? null,
        intent.token ? tokenFingerprint(intent.token) : null,
        currentTraceParent(),
      ],
    );
    return rows.length > 0;
  } catch (error) {
    // Driver errors quote the statement with its bound values, the token among them: keep only the SQLSTATE.
    const code = (error as { code?: unknown }).code;
    throw new Error(`storing the payment intent failed (${typeof code === "string" ? code : "unknown error"})`);
  }
}

/**
 * Records that inventory.reserved arrived before order.created: an AWAITING_ORDER intent without
 * token or total, which order.created completes and charges. Call with lockOrder held.
 */
export async function awaitOrder(em: EntityManager, orderId: string, customerId: string): Promise<void> {
  await query(em, "INSERT INTO payment_intents (order_id, customer_id, status) VALUES (?, ?, 'AWAITING_ORDER') ON CONFLICT (order_id) DO NOTHING", [
    orderId,
    customerId,
  ]);
}

/** Fills in an AWAITING_ORDER intent from order.created; it is PENDING (and chargeable) afterwards. Call with lockOrder held. */
export async function completeIntent(em: EntityManager, intent: NewIntent): Promise<void> {
  try {
    await query(
      em,
      `UPDATE payment_intents SET amount_minor = ?, currency = ?, token = ?, token_fingerprint = ?, status = 'PENDING', updated_at = now()
       WHERE order_id = ? AND status = 'AWAITING_ORDER'`,
      [intent.amountMinor, intent.currency, intent.token ?? null, intent.token ? tokenFingerprint(intent.token) : null, intent.orderId],
    );
  } catch (error) {
    // As in recordIntent: the driver's message would quote the token.
    const code = (error as { code?: unknown }).code;
    throw new Error(`completing the payment intent failed (${typeof code === "string" ? code : "unknown error"})`);
  }
}

/** The intent of an order, locked for the rest of the transaction. */
export async function lockIntent(em: EntityManager, orderId: string): Promise<Intent | undefined> {
  const [row] = await query(
    em,
    `SELECT order_id, customer_id, amount_minor, currency, token, token_fingerprint, status, payment_id
     FROM payment_intents WHERE order_id = ? FOR UPDATE`,
    [orderId],
  );
  if (!row) return undefined;
  return {
    orderId: String(row.order_id),
    customerId: String(row.customer_id),
    amountMinor: row.amount_minor === null ? null : minorFromSql(row.amount_minor),
    currency: row.currency === null ? null : String(row.currency),
    token: row.token === null ? null : String(row.token),
    tokenFingerprint: row.token_fingerprint === null ? null : String(row.token_fingerprint),
    status: row.status as IntentStatus,
    paymentId: row.payment_id === null ? null : String(row.payment_id),
  };
}

/** Settles an open (PENDING or AWAITING_ORDER) intent as CHARGED / FAILED / CANCELLED and wipes its token. */
export async function settleIntent(
  em: EntityManager,
  orderId: string,
  status: Exclude<IntentStatus, "PENDING" | "AWAITING_ORDER">,
  paymentId?: string,
): Promise<void> {
  await query(
    em,
    `UPDATE payment_intents SET status = ?, payment_id = coalesce(?, payment_id), token = NULL, updated_at = now()
     WHERE order_id = ? AND status IN ('PENDING', 'AWAITING_ORDER')`,
    [status, paymentId ?? null, orderId],
  );
}

/**
 * A CANCELLED intent for an order that ended before its order.created arrived. Should a PENDING
 * intent have appeared meanwhile (callers hold lockOrder, so it cannot), it is cancelled too.
 */
export async function writeTombstone(em: EntityManager, orderId: string, customerId: string): Promise<void> {
  await query(
    em,
    `INSERT INTO payment_intents (order_id, customer_id, status) VALUES (?, ?, 'CANCELLED')
     ON CONFLICT (order_id) DO UPDATE SET status = 'CANCELLED', token = NULL, updated_at = now()
     WHERE payment_intents.status IN ('PENDING', 'AWAITING_ORDER')`,
    [orderId, customerId],
  );
}

// --- payments --------------------------------------------------------------------------------

const PAYMENT_COLUMNS =
  "id, order_id, customer_id, amount_minor, currency, status, card_last4, token_fingerprint, provider_reference, failure_reason, refunded_minor, created_at, updated_at";

function toPayment(row: Record<string, unknown>): PaymentRow {
  return {
    id: String(row.id),
    orderId: String(row.order_id),
    customerId: String(row.customer_id),
    amountMinor: minorFromSql(row.amount_minor),
    currency: String(row.currency),
    status: row.status as PaymentStatus,
    cardLast4: row.card_last4 == null ? null : String(row.card_last4),
    tokenFingerprint: row.token_fingerprint == null ? null : String(row.token_fingerprint),
    providerReference: row.provider_reference == null ? null : String(row.provider_reference),
    failureReason: row.failure_reason == null ? null : String(row.failure_reason),
    refundedMinor: minorFromSql(row.refunded_minor),
    createdAt: new Date(row.created_at as Date),
    updatedAt: new Date(row.updated_at as Date),
  };
}

/** The payment of an order; `lock` takes its row lock. Plain SQL: the saga asks once per order. */
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

/** Records the answer to a charge as the order's payment (COMPLETED or FAILED). */
export async function recordPayment(em: EntityManager, input: ChargeInput, answer: ChargeAnswer): Promise<PaymentRow> {
  const [row] = await query(
    em,
    `INSERT INTO payments (id, order_id, customer_id, amount_minor, currency, status, card_last4, token_fingerprint, provider_reference, failure_reason)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${PAYMENT_COLUMNS}`,
    [
      uuidv7(),
      input.orderId,
      input.customerId,
      input.amountMinor.toString(),
      input.currency,
      answer.status,
      answer.cardLast4 ?? null,
      input.token ? tokenFingerprint(input.token) : null,
      answer.status === "COMPLETED" ? answer.providerReference : null,
      answer.status === "FAILED" ? answer.failureReason : null,
    ],
  );
  return toPayment(row);
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
