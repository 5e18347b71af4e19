import { Migration } from "@mikro-orm/migrations";

/**
 * Invoices are made from order.confirmed alone, which carries everything they print, so the
 * order snapshots kept from order.created are no longer read.
 */
export class InvoicesFromConfirmation extends Migration {
  override async up(): Promise<void> {
    this.addSql("DROP TABLE IF EXISTS order_snapshots");
  }
}
