import { Migration } from "@mikro-orm/migrations";

/**
 * The traceparent of the saga step that made a reservation, so that its expiry (sweeper work
 * with a trace of its own) links to the order's trace.
 */
export class ReservationTraceParent extends Migration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE reservations ADD COLUMN trace_parent text");
  }
}
