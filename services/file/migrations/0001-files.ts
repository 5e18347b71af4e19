import { Migration } from "@mikro-orm/migrations";

/** File metadata (uploads and invoices, one invoice per order) and the order snapshots invoices are rendered from. */
export class Files extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE file_metadata (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('UPLOAD', 'INVOICE')),
        file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
        content_type text NOT NULL,
        size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
        sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        order_id uuid,
        customer_id text,
        storage_key text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (kind <> 'INVOICE' OR order_id IS NOT NULL)
      )`);
    // One invoice per order, whatever the redeliveries: the last line of defence of idempotency.
    this.addSql("CREATE UNIQUE INDEX file_metadata_one_invoice_per_order ON file_metadata (order_id) WHERE kind = 'INVOICE'");
    // ListFiles by order, newest first (keyset on id).
    this.addSql("CREATE INDEX file_metadata_order ON file_metadata (order_id, id) WHERE order_id IS NOT NULL");
    this.addSql(`
      CREATE TABLE order_snapshots (
        order_id uuid PRIMARY KEY,
        customer_id text NOT NULL DEFAULT '',
        customer_name text NOT NULL DEFAULT '',
        customer_email text NOT NULL DEFAULT '',
        currency_code char(3) NOT NULL,
        total_minor bigint NOT NULL CHECK (total_minor >= 0),
        lines jsonb NOT NULL,
        shipping_address jsonb,
        ordered_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }
}
