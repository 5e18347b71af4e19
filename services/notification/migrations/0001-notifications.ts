import { Migration } from "@mikro-orm/migrations";

/** Per-order contact details and the notification log, which doubles as the send queue. */
export class Notifications extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE notification_contacts (
        order_id uuid PRIMARY KEY,
        customer_id text NOT NULL DEFAULT '',
        name text NOT NULL DEFAULT '',
        email text NOT NULL DEFAULT '',
        phone text NOT NULL DEFAULT '',
        total_minor bigint,
        currency_code char(3),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    this.addSql(`
      CREATE TABLE notification_log (
        id uuid PRIMARY KEY,
        order_id uuid,
        customer_id text NOT NULL DEFAULT '',
        channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
        recipient text NOT NULL,
        template text,
        subject text NOT NULL DEFAULT '',
        body text NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error text,
        -- The event that caused it; one message per event and channel, however often it is delivered.
        event_id uuid,
        provider_message_id text,
        -- When the dispatcher may (re)try it; only PENDING rows have one.
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        UNIQUE (event_id, channel),
        CHECK ((status = 'PENDING') = (next_attempt_at IS NOT NULL)),
        CHECK ((status = 'SENT') = (sent_at IS NOT NULL))
      )`);
    this.addSql("CREATE INDEX notification_log_due ON notification_log (next_attempt_at) WHERE status = 'PENDING'");
    this.addSql("CREATE INDEX notification_log_order ON notification_log (order_id, id) WHERE order_id IS NOT NULL");
    this.addSql("CREATE INDEX notification_log_customer ON notification_log (customer_id, id)");
  }
}
