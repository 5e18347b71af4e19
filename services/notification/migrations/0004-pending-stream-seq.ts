import { Migration } from "@mikro-orm/migrations";

/**
 * The stream sequence of the event each pending message came from, so that messages are released
 * in the order their events arrived: the ones one batch saved share created_at (its
 * transaction's now()) and came out ordered by event id. Rows saved before have none and are
 * released first, by created_at as before.
 */
export class PendingStreamSequence extends Migration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE pending_notifications ADD COLUMN stream_seq bigint");
  }
}
