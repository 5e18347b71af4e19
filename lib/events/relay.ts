import type { Knex } from "@mikro-orm/postgresql";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { afterCommit, type Database, outermostTransaction, type EntityManager, knexSql, runTransaction, sql } from "../db/index.js";
import { lazyChild, type Logger } from "../log.js";
import { CORRELATION_HEADER, extractHeaders, injectHeaders, ORDER_ID_ATTRIBUTE, recordFailure } from "../telemetry/index.js";
import { errorMessage } from "./errors.js";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, headerValue } from "./headers.js";
import type { EventBusNames } from "./names.js";
import { Sleeper } from "./sleeper.js";
import { tracer } from "./tracing.js";

/** One outbox row on its way to the bus. */
export interface OutboxEvent {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly eventType: string;
  /** Full subject, namespace included. */
  readonly subject: string;
  readonly payload: Uint8Array;
  /** traceparent / tracestate / x-correlation-id captured by `enqueue`. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface RelayOptions {
  orm: Database;
  js: JetStreamClient;
  names: EventBusNames;
  logger: Logger;
  /** Rows per transaction (default 100). */
  batchSize?: number;
  /**
   * Poll interval while the outbox is empty (default 1 s). Every commit in this process that
   * enqueued kicks the relay at once; the poll only picks up rows left by another process.
   */
  idleMs?: number;
  /** How long to wait for a PubAck (default 5 s). */
  publishTimeoutMs?: number;
  /** Longest back-off after failures (default 5 s). */
  maxBackoffMs?: number;
  /**
   * Test hook, called after an event's PubAck and before its row is marked published. A throw
   * simulates a crash at the worst moment: the batch's transaction rolls back and the event is
   * published again later, where the stream's Nats-Msg-Id de-duplication drops the copy.
   */
  afterPublish?: (event: OutboxEvent) => void | Promise<void>;
}

/** A running outbox relay. */
export interface Relay {
  /** Publish now instead of at the next poll (call after committing a transaction that enqueued). */
  kick(): void;
  /** Finishes the batch in flight, then stops. */
  stop(): Promise<void>;
}

/*
 * Concurrency design. Several replicas of a service run a relay on the same outbox; each event
 * must be published once (give or take a de-duplicated retry) and the events of one aggregate
 * in order. Each batch runs in one short transaction that:
 *   1. takes a transaction-scoped advisory lock, pg_try_advisory_xact_lock(space, hashtext(aggregate_id)),
 *      on the aggregates owning the oldest unpublished rows, skipping aggregates another relay holds
 *      (the advisory-lock form of FOR UPDATE SKIP LOCKED, but per aggregate instead of per row:
 *      row-level skipping would let a second relay publish event n+1 of an aggregate while the
 *      first is still publishing event n);
 *   2. reads, in a new statement (so its snapshot includes everything committed by the relay that
 *      held a lock before us), the unpublished rows of the locked aggregates in seq order;
 *   3. publishes them, each aggregate's events one after the other (each waits for the previous
 *      PubAck) and different aggregates side by side, and marks the acknowledged ones published.
 * The locks are released at commit or rollback, also when the process dies, so there is no
 * leader to elect or fail over. A crash between publish and commit republishes rows with the
 * same Nats-Msg-Id, which the stream drops within its duplicate window.
 */
const LOCK_SPACE = 0x6f6d7278; // "omrx": keeps these advisory locks apart from any other user's.

// Candidates are the aggregates owning the oldest unpublished rows (a window of SCAN_FACTOR
// batches, so one aggregate's long backlog cannot hide the others), oldest first. The CTE is
// MATERIALIZED because otherwise the planner pushes the lock call down into the aggregation
// (as a HAVING filter) and locks every candidate; on the CTE scan the limit stops the lock
// calls once a batch's worth of aggregates is locked, leaving the rest to other replicas.
// (Locking more than needed would only cost parallelism, never correctness.)
const LOCK_AGGREGATES = `
  with candidates as materialized (
    select aggregate_id, min(seq) as first_seq
    from (select aggregate_id, seq from outbox where published_at is null order by seq limit ?) oldest
    group by aggregate_id
    order by first_seq
  )
  select aggregate_id from candidates
  where pg_try_advisory_xact_lock(?, hashtext(aggregate_id))
  limit ?`;
const SCAN_FACTOR = 10;

const SELECT_ROWS = `
  select id, aggregate_type, aggregate_id, event_type, subject, payload, headers
  from outbox
  where published_at is null and aggregate_id = any(?::text[])
  order by seq
  limit ?`;

interface OutboxRow {
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  subject: string;
  payload: Buffer;
  headers: Record<string, string>;
}

// Relays by the database connection they publish from: every EntityManager forked from one
// Database shares its connection, so a transaction can find the relays of its own database.
const running = new WeakMap<object, Set<Relay>>();
const watched = new WeakSet<object>();

function kick(connection: object): void {
  for (const relay of running.get(connection) ?? []) relay.kick();
}

/** Wakes every relay this process runs on `orm`'s database. */
export function kickRelays(orm: Database): void {
  kick(orm.em.getConnection());
}

/**
 * Wakes the relays of `em`'s database as soon as the transaction `trx` belongs to commits (its
 * outermost transaction, not a savepoint), so an enqueued event is published at once wherever it
 * was written: an RPC, a consumer or a sweeper. Nothing happens on rollback.
 */
export function kickAfterCommit(em: EntityManager, trx: Knex.Transaction): void {
  const top = outermostTransaction(trx);
  if (watched.has(top)) return;
  watched.add(top);
  const connection = em.getConnection();
  afterCommit(em, () => kick(connection));
}

/**
 * Starts publishing the outbox of `orm`'s database to JetStream: rows in order with
 * `Nats-Msg-Id` = event id, waiting for each PubAck before marking the row published. Safe to
 * run in every replica (see the design note above). Publish errors are logged and retried
 * with back-off; a row is never dropped.
 */
export function startRelay(options: RelayOptions): Relay {
  const { orm, js, names, afterPublish } = options;
  const batchSize = options.batchSize ?? 100;
  const idleMs = options.idleMs ?? 1_000;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const logger = options.logger.child({ component: "outbox-relay" });
  // getKnex() reads no context, so the global EntityManager is fine here even with allowGlobalContext off.
  const knex: Knex = orm.em.getKnex();
  const sleeper = new Sleeper();
  let stopped = false;

  const eventLog = (event: OutboxEvent) => lazyChild(logger, { event_id: event.id, event_type: event.eventType, order_id: event.headers[CORRELATION_HEADER] });

  async function publish(event: OutboxEvent): Promise<PubAck> {
    const parent = extractHeaders((key) => event.headers[key], ROOT_CONTEXT);
    const attributes = {
      "messaging.system": "nats",
      "messaging.operation.type": "send",
      "messaging.operation.name": "send", // observability (issue 10)
      "messaging.destination.name": event.subject,
      "messaging.message.id": event.id,
    };
    return tracer.startActiveSpan(`send ${event.subject}`, { kind: SpanKind.PRODUCER, attributes }, parent, async (span) => {
      // observability (issue 10): the order's id, so the trace is found by tag.
      if (event.headers[CORRELATION_HEADER]) span.setAttribute(ORDER_ID_ATTRIBUTE, event.headers[CORRELATION_HEADER]);
      try {
        const h = natsHeaders();
        // The row's own context first (all there is without a tracer), then this send span's.
        for (const [key, value] of Object.entries({ ...event.headers, ...injectHeaders() })) h.set(key, value);
        h.set(EVENT_ID_HEADER, event.id);
        h.set(EVENT_TYPE_HEADER, event.eventType);
        const ack = await js.publish(event.subject, event.payload, {
          msgID: event.id,
          headers: h,
          timeout: publishTimeoutMs,
          // Fails loudly if the subject is captured by any other stream than ours.
          expect: { streamName: names.stream },
        });
        span.setAttribute("messaging.nats.stream_sequence", ack.seq);
        return ack;
      } catch (error) {
        recordFailure(span, error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  /** One batch in one transaction; returns how many rows it published and the first publish error. */
  async function relayBatch(): Promise<{ published: number; error?: unknown }> {
    return runTransaction(orm, async (em) => {
      const locked = await sql<{ aggregate_id: string }>(em, LOCK_AGGREGATES, [batchSize * SCAN_FACTOR, LOCK_SPACE, batchSize]);
      if (locked.length === 0) return { published: 0 };
      const aggregates = locked.map((row) => row.aggregate_id);
      const rows = await sql<OutboxRow>(em, SELECT_ROWS, [aggregates, batchSize]);
      // Aggregates are independent: their chains publish side by side, many acks in flight. Within
      // one aggregate each event waits for the previous one's ack, and after a failure the rest of
      // that aggregate waits for the next batch: publishing them would reorder it.
      const chains = new Map<string, OutboxRow[]>();
      for (const row of rows) {
        const chain = chains.get(row.aggregate_id);
        if (chain) chain.push(row);
        else chains.set(row.aggregate_id, [row]);
      }
      const acked: OutboxEvent[] = [];
      const failed: { event: OutboxEvent; error: unknown }[] = [];
      await Promise.all(
        [...chains.values()].map(async (chain) => {
          for (const row of chain) {
            const event = toEvent(row, names);
            try {
              const ack = await publish(event);
              if (ack.duplicate) eventLog(event).info({ stream_seq: ack.seq }, "event was already on the stream (republished after a crash); de-duplicated");
              else if (logger.isLevelEnabled("debug")) eventLog(event).debug({ stream_seq: ack.seq, subject: event.subject }, "event published");
              acked.push(event);
            } catch (error) {
              failed.push({ event, error });
              return;
            }
          }
        }),
      );
      for (const { event, error } of failed) {
        eventLog(event).error({ err: error }, "publishing outbox event failed; will retry");
        await sql(em, "update outbox set attempts = attempts + 1, last_error = ? where id = ?", [headerValue(errorMessage(error), 2_000), event.id]);
      }
      for (const event of acked) await afterPublish?.(event);
      const published = acked.map((event) => event.id);
      const firstError = failed[0]?.error;
      if (published.length > 0) {
        await sql(em, "update outbox set published_at = now(), attempts = attempts + 1 where id = any(?::uuid[])", [published]);
      }
      return { published: published.length, error: firstError };
    });
  }

  /** Whether any row waits: one light autocommit statement, for polls that nothing prompted. */
  async function anyUnpublished(): Promise<boolean> {
    const [row] = await knexSql<{ waiting: boolean }>(knex, "select exists (select 1 from outbox where published_at is null) as waiting");
    return row?.waiting === true;
  }

  // Set by kick(): a commit of this process enqueued, so the next batch need not check first.
  let kicked = true;
  const loop = (async () => {
    let failures = 0;
    // An idle poll (nothing kicked it) first checks that anything waits, in one statement
    // instead of a transaction of three: every replica polls every idleMs, mostly for nothing.
    let check = false;
    while (!stopped) {
      let published = 0;
      try {
        if (!check || (await anyUnpublished())) {
          kicked = false;
          const result = await relayBatch();
          published = result.published;
          // Only a batch that achieved nothing backs off; a single bad row must not slow the rest.
          failures = result.error !== undefined && published === 0 ? failures + 1 : 0;
        }
      } catch (error) {
        failures++;
        logger.error({ err: error }, "outbox relay batch failed; will retry");
      }
      check = false;
      if (failures > 0) await sleeper.sleep(Math.min(maxBackoffMs, 100 * 2 ** (failures - 1)), { wakeable: false });
      else if (published < batchSize) {
        await sleeper.sleep(idleMs);
        check = !kicked;
      }
    }
  })();

  const relay: Relay = {
    kick() {
      kicked = true;
      sleeper.wake();
    },
    async stop() {
      stopped = true;
      sleeper.cancel();
      await loop;
      running.get(orm.em.getConnection())?.delete(relay);
    },
  };
  const connection = orm.em.getConnection();
  if (!running.has(connection)) running.set(connection, new Set());
  running.get(connection)?.add(relay);
  logger.info({ stream: names.stream, batch_size: batchSize, idle_ms: idleMs }, "outbox relay started");
  return relay;
}

function toEvent(row: OutboxRow, names: EventBusNames): OutboxEvent {
  return {
    id: row.id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    eventType: row.event_type,
    subject: `${names.subjectRoot}.${row.subject}`,
    payload: row.payload,
    headers: row.headers ?? {},
  };
}
