import { Migration } from "@mikro-orm/migrations";

/**
 * Messages whose event arrived before the order's order.created (which brings the contact
 * details): kept here, one row per event, and queued when order.created is handled. Order
 * between events is never obtained by retrying.
 */
export class PendingNotifications extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE pending_notifications (
        event_id uuid PRIMARY KEY,
        order_id uuid NOT NULL,
        customer_id text NOT NULL DEFAULT '',
        template text NOT NULL,
        vars jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql("CREATE INDEX pending_notifications_order ON pending_notifications (order_id, created_at)");
  }
}
