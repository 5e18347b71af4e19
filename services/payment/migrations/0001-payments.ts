import { Migration } from "@mikro-orm/migrations";

/** Payment intents (the saga's per-order memory), payments (one per order) and refunds. */
export class Payments extends Migration {
  override async up(): Promise<void> {
    // One row per order, from order.created (or a CANCELLED tombstone when the order ended
    // first). The token is held only while the intent is PENDING: the CHECK enforces the wipe.
    this.addSql(`
      CREATE TABLE payment_intents (
        order_id uuid PRIMARY KEY,
        customer_id text NOT NULL DEFAULT '',
        amount_minor bigint CHECK (amount_minor > 0),
        currency char(3),
        token text,
        token_fingerprint text,
        status text NOT NULL CHECK (status IN ('PENDING', 'CHARGED', 'FAILED', 'CANCELLED')),
        payment_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT payment_intents_token_only_while_pending CHECK (status = 'PENDING' OR token IS NULL),
        CONSTRAINT payment_intents_amount_known CHECK (status = 'CANCELLED' OR (amount_minor IS NOT NULL AND currency IS NOT NULL))
      )`);
    this.addSql("CREATE INDEX payment_intents_holding_token ON payment_intents (created_at) WHERE token IS NOT NULL");
    // UNIQUE order_id: exactly one charge per order, whatever races or redeliveries happen.
    this.addSql(`
      CREATE TABLE payments (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL UNIQUE,
        customer_id text NOT NULL DEFAULT '',
        amount_minor bigint NOT NULL CHECK (amount_minor > 0),
        currency char(3) NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED', 'REFUNDED', 'PARTIALLY_REFUNDED')),
        card_last4 text CHECK (card_last4 ~ '^[0-9]{4}$'),
        token_fingerprint text,
        provider_reference text,
        failure_reason text,
        refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT payments_refund_within_amount CHECK (refunded_minor <= amount_minor),
        CONSTRAINT payments_completed_has_reference CHECK (status NOT IN ('COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED') OR provider_reference IS NOT NULL)
      )`);
    this.addSql("CREATE INDEX payments_customer ON payments (customer_id, id)");
    // seq numbers the refunds of a payment; it makes the provider idempotency key deterministic.
    this.addSql(`
      CREATE TABLE refunds (
        id uuid PRIMARY KEY,
        payment_id uuid NOT NULL REFERENCES payments (id),
        seq integer NOT NULL CHECK (seq > 0),
        amount_minor bigint NOT NULL CHECK (amount_minor > 0),
        reason text NOT NULL DEFAULT '',
        provider_reference text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (payment_id, seq)
      )`);
  }
}
