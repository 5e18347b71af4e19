import { Migration } from "@mikro-orm/migrations";

const STATUSES = "'PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED', 'SHIPPED', 'DELIVERED', 'DELIVERY_FAILED'";

/**
 * Customers, orders with their items and status history, and the idempotency keys of
 * CreateOrder. Payment tokens are not stored here: only the order.created outbox event
 * carries one, for the payment service.
 */
export class Orders extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE customers (
        id uuid PRIMARY KEY,
        email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        phone text NOT NULL DEFAULT '' CHECK (phone = '' OR phone ~ '^[+]{0,1}[0-9]{6,15}$'),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Emails are unique regardless of case.
    this.addSql("CREATE UNIQUE INDEX customers_email_key ON customers (lower(email))");

    this.addSql(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        customer_id uuid NOT NULL REFERENCES customers (id),
        status text NOT NULL CHECK (status IN (${STATUSES})),
        currency_code char(3) NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
        total_minor bigint NOT NULL CHECK (total_minor >= 0),
        shipping_address jsonb NOT NULL CHECK (jsonb_typeof(shipping_address) = 'object'),
        card_last4 text NOT NULL DEFAULT '' CHECK (card_last4 = '' OR card_last4 ~ '^[0-9]{4}$'),
        payment_id text NOT NULL DEFAULT '',
        refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
        failure_reason text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1
      )`);
    // ListOrders: newest first (UUIDv7 ids sort by creation), by customer and/or status.
    this.addSql("CREATE INDEX orders_customer_idx ON orders (customer_id, id DESC)");
    this.addSql("CREATE INDEX orders_status_idx ON orders (status, id DESC)");

    this.addSql(`
      CREATE TABLE order_items (
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        product_id uuid NOT NULL,
        position smallint NOT NULL CHECK (position >= 0),
        product_name text NOT NULL,
        quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
        unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
        line_total_minor bigint NOT NULL,
        PRIMARY KEY (order_id, product_id),
        UNIQUE (order_id, position),
        CHECK (line_total_minor = unit_price_minor * quantity)
      )`);

    // A bigint identity rather than a UUIDv7: WatchOrder reads "changes after the last one
    // seen", and the ids of one order's changes must grow in commit order whichever replica
    // wrote them (transitions of one order are serialized by its row lock).
    this.addSql(`
      CREATE TABLE order_status_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        from_status text CHECK (from_status IN (${STATUSES})),
        to_status text NOT NULL CHECK (to_status IN (${STATUSES})),
        reason text NOT NULL DEFAULT '',
        event_id uuid,
        changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK (from_status IS DISTINCT FROM to_status)
      )`);
    this.addSql("CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id)");

    // The key row is written first in CreateOrder's transaction, so a concurrent request with
    // the same key waits on it; the order it points to is inserted later in that transaction.
    this.addSql(`
      CREATE TABLE idempotency_keys (
        customer_id uuid NOT NULL REFERENCES customers (id),
        key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
        request_hash char(64) NOT NULL,
        order_id uuid NOT NULL REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (customer_id, key)
      )`);
  }
}
