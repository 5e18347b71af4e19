import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";

/**
 * The tables every service needs for the event bus: `outbox` (events written in the same
 * transaction as the state change that caused them, published later by the relay) and
 * `processed_events` (event ids each consumer has already applied, for idempotency).
 */
export class EventsMigration extends Migration {
  override up(): void {
    this.addSql(`
      create table outbox (
        id uuid primary key,
        -- Publish order. Assigned by the database at insert, so it does not depend on the
        -- clocks of the replicas that generate the UUIDv7 ids.
        seq bigint generated always as identity,
        aggregate_type text not null,
        aggregate_id text not null,
        event_type text not null,
        -- Subject below the bus root (order.created); the relay adds the namespace root.
        subject text not null,
        payload bytea not null,
        -- traceparent / tracestate / x-correlation-id of the transaction that wrote the event.
        headers jsonb not null default '{}'::jsonb,
        created_at timestamptz not null default now(),
        published_at timestamptz,
        attempts integer not null default 0,
        last_error text
      )`);
    // The relay only ever reads unpublished rows in seq order; published rows stay out of the index.
    this.addSql("create index outbox_unpublished_idx on outbox (seq) where published_at is null");
    this.addSql(`
      create table processed_events (
        consumer text not null,
        event_id uuid not null,
        processed_at timestamptz not null default now(),
        primary key (consumer, event_id)
      )`);
  }

  override down(): void {
    this.addSql("drop table if exists processed_events");
    this.addSql("drop table if exists outbox");
  }
}

/** Append to a service's static `migrationsList` (after or before its own, it has no dependencies). */
export const eventsMigration: MigrationObject = { name: "events-0001-outbox-processed-events", class: EventsMigration };
