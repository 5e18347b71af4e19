import { Migration } from "@mikro-orm/migrations";

/**
 * A customer's default shipping address (null until given) and when their record last
 * changed. Additive: existing rows keep working with no address.
 */
export class CustomerAddress extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      ALTER TABLE customers
        ADD COLUMN address jsonb CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`);
  }
}
