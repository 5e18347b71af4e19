/**
 * Shared setup of the lib/events integration tests (not a test itself): a private database
 * with the events tables and an `effects` table handlers write to, and a private bus
 * namespace on the harness's nats-server. Everything started through the testbed is stopped
 * by `close()`.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import type { StoredMsg } from "@nats-io/jetstream";
import { createTestDatabase, testInfra, uniqueId } from "../../test/harness/index.js";
import { type Database, openDatabase } from "../db/index.js";
import { createLogger, type Logger } from "../log.js";
import { connectBus, type EventBus } from "./bus.js";
import { type ConsumerOptions, type EventConsumer, type EventContext, startConsumer } from "./consumer.js";
import { eventsMigration } from "./migration.js";
import { busNames, type EventBusNames } from "./names.js";
import { type Relay, type RelayOptions, startRelay } from "./relay.js";
import { transactionOf } from "./sql.js";

export interface Testbed {
  orm: Database;
  bus: EventBus;
  names: EventBusNames;
  logger: Logger;
  /** A relay on the testbed's database and bus, stopped by `close()` unless stopped before. */
  relay(options?: Partial<RelayOptions>): Relay;
  consumer<Desc extends DescMessage>(
    options: Pick<ConsumerOptions<Desc>, "consumer" | "event" | "handler"> & Partial<ConsumerOptions<Desc>>,
  ): Promise<EventConsumer>;
  /** Another connection to the same database (a second replica's pool). */
  openReplica(): Promise<Database>;
  /** Rows of the `effects` table written by `consumer` (handlers insert one row per applied event). */
  effects(consumer: string): Promise<{ event_id: string; note: string | null }[]>;
  close(): Promise<void>;
}

export async function createTestbed(): Promise<Testbed> {
  const db = await createTestDatabase("ev");
  const orm = await openDatabase({ url: db.url, entities: [], migrations: [eventsMigration], poolMax: 6 });
  await orm.em.getKnex().raw("create table effects (id bigserial primary key, consumer text not null, event_id uuid not null, note text)");
  const names = busNames(uniqueId("ev"));
  const bus = await connectBus({ natsUrl: testInfra().natsUrl, names, name: "lib-events-test" });
  const logger = createLogger("events-test", { level: process.env.LOG_LEVEL ?? "silent" });
  const stoppables: { stop(): Promise<void> }[] = [];
  const replicas: Database[] = [];
  return {
    orm,
    bus,
    names,
    logger,
    relay(options = {}) {
      const relay = startRelay({ orm, js: bus.js, names, logger, idleMs: 20, ...options });
      stoppables.push(relay);
      return relay;
    },
    async consumer(options) {
      const consumer = await startConsumer({ orm, js: bus.js, jsm: bus.jsm, names, logger, ...options });
      stoppables.push(consumer);
      return consumer;
    },
    async openReplica() {
      const replica = await openDatabase({ url: db.url, entities: [], migrations: [eventsMigration], poolMax: 4 });
      replicas.push(replica);
      return replica;
    },
    async effects(consumer) {
      const { rows } = await orm.em
        .getKnex()
        .raw<{ rows: { event_id: string; note: string | null }[] }>("select event_id, note from effects where consumer = ? order by id", [consumer]);
      return rows;
    },
    async close() {
      // Stopping twice is harmless; stop everything even if one fails.
      await Promise.allSettled(stoppables.map((s) => s.stop()));
      await Promise.allSettled([bus.jsm.streams.delete(names.stream), bus.jsm.streams.delete(names.dlqStream)]);
      await bus.close();
      await Promise.allSettled([orm.close(true), ...replicas.map((r) => r.close(true))]);
      await db.drop();
    },
  };
}

/** Every message of `stream` in order (the tests' streams hold a few hundred at most). */
export async function readStream(bus: EventBus, stream: string, subjects: string): Promise<StoredMsg[]> {
  const messages: StoredMsg[] = [];
  let seq = 1;
  for (;;) {
    const query = { seq, next_by_subj: subjects } as unknown as { seq: number };
    const message = await bus.jsm.streams.getMessage(stream, query);
    if (!message) return messages;
    messages.push(message);
    seq = message.seq + 1;
  }
}

/** Inserts one `effects` row in the handler's transaction (rolled back with it). */
export async function recordEffect(ctx: EventContext, consumer: string, note?: string): Promise<void> {
  await transactionOf(ctx.em, "recordEffect").raw("insert into effects (consumer, event_id, note) values (?, ?, ?)", [consumer, ctx.eventId, note ?? null]);
}

/** Resolves once `consumer` has acknowledged (or terminated) everything it was delivered. */
export async function consumerSettled(bus: EventBus, consumer: string, streamMessages: number): Promise<boolean> {
  const info = await bus.jsm.consumers.info(bus.names.stream, consumer);
  return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= streamMessages;
}
