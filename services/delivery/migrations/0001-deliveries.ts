import { Migration } from "@mikro-orm/migrations";

/** Deliveries (one per order) and their status history. */
export class Deliveries extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE deliveries (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL UNIQUE,
        customer_id text NOT NULL DEFAULT '',
        address jsonb NOT NULL DEFAULT '{}'::jsonb,
        status text NOT NULL CHECK (status IN ('PENDING', 'IN_TRANSIT', 'DELIVERED', 'FAILED', 'CANCELLED')),
        carrier text NOT NULL DEFAULT '',
        tracking_number text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql("CREATE INDEX deliveries_customer ON deliveries (customer_id, id)");
    this.addSql("CREATE INDEX deliveries_status ON deliveries (status, id)");
    this.addSql(`
      CREATE TABLE delivery_logs (
        id uuid PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('PENDING', 'IN_TRANSIT', 'DELIVERED', 'FAILED', 'CANCELLED')),
        notes text NOT NULL DEFAULT '',
        at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql("CREATE INDEX delivery_logs_delivery ON delivery_logs (delivery_id, id)");
  }
}
