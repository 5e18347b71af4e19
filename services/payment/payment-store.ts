import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { uuidv7 } from "../../lib/ids.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import { tokenFingerprint } from "./card.js";
import { canTransition, FailureReason, type IntentStatus, type PaymentStatus, planRefund } from "./domain/payment.js";
import { Payment, type PaymentRow, Refund, type RefundRow } from "./entities.js";
import type { PaymentProvider } from "./provider/index.js";
import { sql as query } from "../../lib/db/index.js";

/**
 * Payment state changes on the caller's transaction. Every operation that may create or change
 * an order's payment first takes `lockOrder` (a transaction-scoped advisory lock per order), so
 * the saga consumers and the RPCs are serialized per order: the provider is asked at most once
 * per order at a time, and the UNIQUE order_id of payments stays a last line of defence.
 * Lock order everywhere: order lock, intent row, payment row.
 */



/** The provider idempotency key of an order's charge: a retry after a crash gets the same charge. */
export function chargeKey(orderId: string): string {
  return `charge:${orderId}`;
}

/** The provider idempotency key of the `seq`-th refund of an order's payment. */
export function refundKey(orderId: string, seq: number): string {
  return `refund:${orderId}:${seq}`;
}

/** Serializes every payment change of one order until the transaction ends. */
export async function lockOrder(em: EntityManager, orderId: string): Promise<void> {
  await query(em, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [`payment-order:${orderId}`]);
}

// --- intents ---------------------------------------------------------------------------------

export interface Intent {
  orderId: string;
  customerId: string;
  amountMinor: number | null;
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
  amountMinor: number;
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
    amountMinor: row.amount_minor === null ? null : Number(row.amount_minor),
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

/** The payment of an order; `lock` takes its row lock and re-reads it. */
export function findPaymentOfOrder(em: EntityManager, orderId: string, lock = false): Promise<PaymentRow | null> {
  return em.findOne(Payment, { orderId }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {});
}

export interface ChargeInput {
  orderId: string;
  customerId: string;
  amountMinor: number;
  currency: string;
  /** Undefined when the order carried no usable token: the payment fails without asking the provider. */
  token: string | undefined;
}

/**
 * Charges an order at the provider (idempotency key `charge:<order_id>`) and records the
 * answer as a COMPLETED or FAILED payment. Transient provider failures (UNAVAILABLE,
 * DEADLINE_EXCEEDED, circuit open) are thrown and nothing is recorded. Call with `lockOrder`
 * held and after checking that the order has no payment yet.
 */
export async function charge(em: EntityManager, provider: PaymentProvider, input: ChargeInput): Promise<PaymentRow> {
  const base = {
    id: uuidv7(),
    orderId: input.orderId,
    customerId: input.customerId,
    amountMinor: input.amountMinor,
    currency: input.currency,
    tokenFingerprint: input.token ? tokenFingerprint(input.token) : null,
    refundedMinor: 0,
  };
  if (!input.token) {
    return insertPayment(em, { ...base, status: "FAILED", failureReason: FailureReason.MISSING_PAYMENT_METHOD });
  }
  const result = await provider.charge({
    idempotencyKey: chargeKey(input.orderId),
    amount: { currencyCode: input.currency, amountMinor: input.amountMinor },
    token: input.token,
  });
  if (result.status === "succeeded") {
    return insertPayment(em, { ...base, status: "COMPLETED", cardLast4: result.last4 || null, providerReference: result.reference });
  }
  return insertPayment(em, { ...base, status: "FAILED", cardLast4: result.last4 || null, failureReason: result.reason });
}

/** Records a FAILED payment without a provider answer (the provider stayed unreachable). */
export function recordFailure(em: EntityManager, input: ChargeInput, failureReason: string): Promise<PaymentRow> {
  return insertPayment(em, {
    id: uuidv7(),
    orderId: input.orderId,
    customerId: input.customerId,
    amountMinor: input.amountMinor,
    currency: input.currency,
    tokenFingerprint: input.token ? tokenFingerprint(input.token) : null,
    refundedMinor: 0,
    status: "FAILED",
    failureReason,
  });
}

type NewPayment = Pick<PaymentRow, "id" | "orderId" | "customerId" | "amountMinor" | "currency" | "refundedMinor"> & {
  status: PaymentStatus;
  tokenFingerprint: string | null;
  cardLast4?: string | null;
  providerReference?: string;
  failureReason?: string;
};

async function insertPayment(em: EntityManager, fields: NewPayment): Promise<PaymentRow> {
  const payment = em.create(Payment, {
    cardLast4: null,
    providerReference: null,
    failureReason: null,
    ...fields,
  });
  await em.flush();
  return payment;
}

// --- refunds ---------------------------------------------------------------------------------

export type RefundOutcome = { kind: "refunded"; payment: PaymentRow; refund: RefundRow } | { kind: "rejected"; reason: string };

/**
 * Refunds `requestedMinor` of a payment (undefined: everything still refundable) at the
 * provider and records it. `payment` must be locked (findPaymentOfOrder with lock, under
 * lockOrder). The provider key `refund:<order_id>:<seq>` is deterministic, so a retry after a
 * crash between the provider's answer and the commit gets the same refund, not a second one.
 */
export async function refund(
  em: EntityManager,
  provider: PaymentProvider,
  payment: PaymentRow,
  requestedMinor: number | undefined,
  reason: string,
): Promise<RefundOutcome> {
  const plan = planRefund(
    { status: payment.status, amountMinor: payment.amountMinor, refundedMinor: payment.refundedMinor ?? 0 },
    requestedMinor,
  );
  if (!plan.ok) return { kind: "rejected", reason: plan.reason };
  if (!canTransition(payment.status, plan.status)) return { kind: "rejected", reason: `payment is ${payment.status}` };
  const seq = (await em.count(Refund, { paymentId: payment.id })) + 1;
  // The row goes in before money moves: whatever the database refuses (a constraint, a value it
  // cannot store) fails the refund before the provider is asked. Only the provider's reference
  // is filled in after its answer, in the same transaction.
  const row = em.create(Refund, {
    id: uuidv7(),
    paymentId: payment.id,
    seq,
    amountMinor: plan.amountMinor,
    reason,
    providerReference: "",
  });
  await em.flush();
  const answer = await provider.refund({
    idempotencyKey: refundKey(payment.orderId, seq),
    chargeReference: payment.providerReference!,
    amountMinor: plan.amountMinor,
  });
  row.providerReference = answer.reference;
  payment.refundedMinor = plan.refundedMinor;
  payment.status = plan.status;
  await em.flush();
  return { kind: "refunded", payment, refund: row };
}

/** Refunds of the given payments, oldest first, grouped by payment id. */
export async function refundsOf(em: EntityManager, paymentIds: string[]): Promise<Map<string, RefundRow[]>> {
  const byPayment = new Map<string, RefundRow[]>(paymentIds.map((id) => [id, []]));
  if (paymentIds.length === 0) return byPayment;
  const rows = await em.find(Refund, { paymentId: { $in: paymentIds } }, { orderBy: { seq: "asc" } });
  for (const row of rows) byPayment.get(row.paymentId)?.push(row);
  return byPayment;
}
