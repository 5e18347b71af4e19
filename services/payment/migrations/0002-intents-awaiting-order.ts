import { Migration } from "@mikro-orm/migrations";

/**
 * An intent may be AWAITING_ORDER: inventory.reserved arrived before order.created, so there is
 * no token or total yet; order.created fills them in and charges at once.
 */
export class IntentsAwaitingOrder extends Migration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE payment_intents DROP CONSTRAINT payment_intents_status_check");
    this.addSql(
      "ALTER TABLE payment_intents ADD CONSTRAINT payment_intents_status_check CHECK (status IN ('PENDING', 'AWAITING_ORDER', 'CHARGED', 'FAILED', 'CANCELLED'))",
    );
    this.addSql("ALTER TABLE payment_intents DROP CONSTRAINT payment_intents_amount_known");
    this.addSql(
      `ALTER TABLE payment_intents ADD CONSTRAINT payment_intents_amount_known
       CHECK (status IN ('CANCELLED', 'AWAITING_ORDER') OR (amount_minor IS NOT NULL AND currency IS NOT NULL))`,
    );
  }
}
