import { Migration } from "@mikro-orm/migrations";

/**
 * The traceparent of whoever queued a notification, so that the dispatcher's first attempt
 * continues the order's trace and a retry's own trace links to it.
 */
export class NotificationTraceParent extends Migration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE notification_log ADD COLUMN trace_parent text");
  }
}
