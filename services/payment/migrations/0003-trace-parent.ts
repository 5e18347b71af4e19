import { Migration } from "@mikro-orm/migrations";

/**
 * The traceparent of the saga step that recorded a payment intent, so that the token sweeper's
 * work on it (a trace of its own) links to the order's trace.
 */
export class IntentTraceParent extends Migration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE payment_intents ADD COLUMN trace_parent text");
  }
}
