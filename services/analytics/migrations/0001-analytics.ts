import { Migration } from "@mikro-orm/migrations";

/**
 * The analytics store: every event once (the per-order timeline and the de-duplication by
 * event id), one row per order (its merged progress), per-minute counters, per-minute product
 * sales, and what is known about each product.
 */
export class Analytics extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE analytics_events (
        event_id uuid PRIMARY KEY,
        order_id uuid,
        customer_id text NOT NULL DEFAULT '',
        event_type text NOT NULL,
        name text NOT NULL,
        service text NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        summary text NOT NULL DEFAULT ''
      )`);
    this.addSql("CREATE INDEX analytics_events_order ON analytics_events (order_id, occurred_at, event_id) WHERE order_id IS NOT NULL");
    this.addSql("CREATE INDEX analytics_events_recorded ON analytics_events (recorded_at)");

    // Merged progress of an order. counted / counted_status say what the cohort counters
    // already hold for it; newly_counted / uncounted_status are written by every upsert so that
    // its RETURNING (which sees only the new row) can report what that very upsert changed.
    this.addSql(`
      CREATE TABLE analytics_orders (
        order_id uuid PRIMARY KEY,
        created_at timestamptz,
        confirmed_at timestamptz,
        status text NOT NULL DEFAULT '',
        status_rank int NOT NULL DEFAULT 0,
        status_at timestamptz NOT NULL DEFAULT '-infinity',
        stages int NOT NULL DEFAULT 0,
        counted int NOT NULL DEFAULT 0,
        counted_status text,
        newly_counted int NOT NULL DEFAULT 0,
        uncounted_status text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql("CREATE INDEX analytics_orders_updated ON analytics_orders (updated_at)");

    this.addSql(`
      CREATE TABLE analytics_counters (
        minute timestamptz NOT NULL,
        metric text NOT NULL,
        dim text NOT NULL DEFAULT '',
        value bigint NOT NULL,
        PRIMARY KEY (minute, metric, dim)
      )`);

    this.addSql(`
      CREATE TABLE analytics_product_sales (
        minute timestamptz NOT NULL,
        product_id uuid NOT NULL,
        currency text NOT NULL,
        units bigint NOT NULL,
        revenue_minor bigint NOT NULL,
        PRIMARY KEY (minute, product_id, currency)
      )`);

    this.addSql(`
      CREATE TABLE analytics_products (
        product_id uuid PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        name_at timestamptz NOT NULL DEFAULT '-infinity',
        low_available int,
        low_threshold int,
        low_at timestamptz NOT NULL DEFAULT '-infinity'
      )`);
  }
}
