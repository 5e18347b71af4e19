import { Migration } from "@mikro-orm/migrations";

/**
 * The traceparent of the order's saga at the delivery's creation: a status update that comes
 * later (an admin, a carrier) continues the order's trace with it instead of starting its own.
 */
export class DeliveryTraceParent extends Migration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE deliveries ADD COLUMN trace_parent text");
  }
}
