import { Migration } from "@mikro-orm/migrations";

/** Products with stock counters, reservations with an expiry, and the stock movement audit log. */
export class CatalogAndStock extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE products (
        id uuid PRIMARY KEY,
        sku text NOT NULL UNIQUE,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        price_minor bigint NOT NULL CHECK (price_minor >= 0),
        currency_code char(3) NOT NULL,
        status text NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE', 'DISCONTINUED')),
        available integer NOT NULL CHECK (available >= 0),
        reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        sold integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
        low_stock_threshold integer NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql(`
      CREATE TABLE reservations (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL UNIQUE,
        customer_id text NOT NULL DEFAULT '',
        status text NOT NULL CHECK (status IN ('ACTIVE', 'COMMITTED', 'RELEASED', 'EXPIRED')),
        expires_at timestamptz NOT NULL,
        release_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql("CREATE INDEX reservations_active_expiry ON reservations (expires_at) WHERE status = 'ACTIVE'");
    this.addSql(`
      CREATE TABLE reservation_lines (
        reservation_id uuid NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
        product_id uuid NOT NULL REFERENCES products (id),
        quantity integer NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (reservation_id, product_id)
      )`);
    this.addSql(`
      CREATE TABLE stock_movements (
        id uuid PRIMARY KEY,
        product_id uuid NOT NULL REFERENCES products (id),
        order_id uuid,
        type text NOT NULL CHECK (type IN ('RESERVE', 'RELEASE', 'COMMIT', 'REPLENISH', 'ADJUST', 'EXPIRE')),
        quantity integer NOT NULL,
        reason text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql("CREATE INDEX stock_movements_product ON stock_movements (product_id, id)");
    this.addSql("CREATE INDEX stock_movements_order ON stock_movements (order_id) WHERE order_id IS NOT NULL");
  }
}
