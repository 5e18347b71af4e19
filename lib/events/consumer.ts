import { type DescMessage, fromBinary, type Message, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  AckPolicy,
  type ConsumerConfig,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type JsMsg,
} from "@nats-io/jetstream";
import { performance } from "node:perf_hooks";
import { errors, nanos } from "@nats-io/transport-node";
import { context, ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { type Database, type EntityManager, isDatabaseUnavailable, runTransaction, sql } from "../db/index.js";
import { isUuid } from "../ids.js";
import { lazyChild, type Logger } from "../log.js";
import { consumerMetrics } from "../metrics/index.js";
import { CORRELATION_HEADER, extractHeaders, ORDER_ID_ATTRIBUTE, recordFailure } from "../telemetry/index.js";
import { makeStorable } from "../text.js";
import { copyToDeadLetters } from "./dead-letters.js";
import { errorMessage, isPermanent, PermanentError } from "./errors.js";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, headerRecord, MSG_ID_HEADER } from "./headers.js";
import type { EventBusNames } from "./names.js";
import { enqueue, type EnqueueOptions, withDeferredOutbox } from "./outbox.js";
import { type PauseSwitch, whilePaused } from "./pause.js";
import { Signal } from "./signal.js";
import { Sleeper } from "./sleeper.js";
import { eventSubject } from "./subjects.js";
import { tracer } from "./tracing.js";

/** What a handler gets besides the decoded event. */
export interface EventContext {
  /** The EntityManager of the handler's transaction: its changes commit together with the dedup row. */
  readonly em: EntityManager;
  readonly eventId: string;
  readonly eventType: string;
  readonly subject: string;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  /** First value of every NATS header. */
  readonly headers: Readonly<Record<string, string>>;
  /** Child logger carrying consumer, event_id, event_type and order_id. */
  readonly logger: Logger;
  /** Writes an event to the outbox in the handler's transaction (see `enqueue`); returns its id. */
  publish<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>, options: EnqueueOptions): Promise<string>;
}

/**
 * Handles one event inside the consumer's transaction. Throw to roll back and retry later;
 * throw `PermanentError` when a retry cannot help (the event goes to the DLQ at once).
 */
export type EventHandler<Desc extends DescMessage> = (event: MessageShape<Desc>, ctx: EventContext) => Promise<void>;

/**
 * The first stream sequence a durable consumer being created is to deliver, or undefined for
 * the whole stream. Gets the manager and stream the consumer is created on.
 */
export type StartSequence = (on: { jsm: JetStreamManager; stream: string }) => Promise<number | undefined>;

/** What every consumer needs, whatever it consumes. */
export interface BaseConsumerOptions {
  orm: Database;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: EventBusNames;
  /** Durable consumer name, `<service>-<purpose>` (e.g. `inventory-reserve-stock`). */
  consumer: string;
  logger: Logger;
  /** Handler attempts before the event goes to the DLQ (default 4). */
  maxDeliver?: number;
  /** Wait before attempt n+1 after attempt n failed (default 1 s, 2 s, 4 s; the last repeats). */
  backoffMs?: number[];
  /** Batches handled at once (default 1, which keeps the stream's order). */
  concurrency?: number;
  /** Most events applied in one transaction (default 64; 1 applies every event on its own). */
  batchSize?: number;
  /**
   * How long a batch that is not full waits for more events after its first one arrived (default
   * 0: apply what has arrived at once). Below saturation events come one at a time, and each
   * would cost its own transaction, commit and round of statements; waiting a little lets them
   * share one. For consumers off the saga's critical path, where a few hundred milliseconds
   * matter to nobody (analytics, e-mail).
   */
  lingerMs?: number;
  /** While on, pull nothing (fault flags; see pause.ts); events being handled still finish. */
  pause?: PauseSwitch;
  /**
   * Where the durable consumer starts when it does not exist yet (default: the whole stream).
   * Called only then, just before it is created: a consumer that exists keeps its position
   * whatever this would say, so a restart can never move it. A failure fails the start.
   */
  startSequence?: StartSequence;
}

export interface ConsumerOptions<Desc extends DescMessage> extends BaseConsumerOptions {
  /** The one event type this consumer handles (nats-server 2.9 allows one filter subject). */
  event: Desc;
  handler: EventHandler<Desc>;
  /**
   * Runs first in each batch's transaction with the batch's new events, before any handler.
   * Handlers that lock rows take their locks here, all at once and in one order: two batches
   * that each locked rows event by event can hold what the other waits for, and a deadlock
   * rolls both back.
   */
  beforeBatch?(events: MessageShape<Desc>[], em: EntityManager): Promise<void>;
}

/** One event of a batch handed to a `BatchHandler`. */
export interface BatchEvent {
  readonly schema: DescMessage;
  readonly message: Message;
  readonly eventId: string;
  readonly subject: string;
  /** Its sequence in the stream, which a redelivery keeps: the order in which events arrived. */
  readonly streamSequence: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Applies a batch of new events (never one applied before) in the consumer's transaction, set
 * based. Throw to roll back: the events are then retried one at a time.
 */
export type BatchHandler = (events: BatchEvent[], em: EntityManager) => Promise<void>;

export interface BatchConsumerOptions extends BaseConsumerOptions {
  /** The event types to apply; every other event on the stream is acknowledged and skipped. */
  events: readonly DescMessage[];
  handler: BatchHandler;
}

/** How a consumer reads its messages and applies the new ones. */
interface Mode<E> {
  subject: string;
  description: string;
  /** The decoded event, or undefined for an event this consumer does not take. */
  decode(data: Uint8Array, eventType: string): E | undefined;
  /** Makes the decoded event's text storable in place (see `makeStorable`); the fields repaired. */
  repair(event: E): string[] | undefined;
  apply(fresh: Delivery<E>[], em: EntityManager): Promise<void>;
}

/** A running consumer. */
export interface EventConsumer {
  /** Stops pulling, lets in-flight handlers finish and acknowledge, then returns. */
  stop(): Promise<void>;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/** One received message with what every step needs, decoded once. */
interface Delivery<E> {
  msg: JsMsg;
  headers: Record<string, string>;
  /** Set unless the message cannot be handled at all (then `invalid` says why). */
  eventId?: string;
  event?: E;
  invalid?: PermanentError;
  /** Not an event this consumer takes: acknowledged without a transaction. */
  skip?: boolean;
  log: Logger;
}

/**
 * Starts an idempotent, retrying consumer of one event type on a durable pull consumer (created
 * or updated here; resolves once it exists).
 *
 * Events are applied in batches: whatever has arrived (up to `batchSize`) is applied in ONE
 * transaction that inserts every event id into processed_events with one statement (ids that
 * conflict were applied before and are skipped), runs the handler for each new event in stream
 * order, and commits; only then are the messages acknowledged. Under load this turns a commit,
 * a dedup insert and a round of acks per event into one per batch; when idle a batch is one event,
 * so nothing waits for a batch to fill. If the batch fails, it is rolled back and its events are
 * applied one at a time, each in its own transaction, so a poisoned event fails (and goes to the
 * DLQ) alone while the others apply.
 *
 * Every event runs in a CONSUMER span whose parent is the publisher's trace context, with the
 * publisher's correlation id active. An undecodable or mistyped message goes to the DLQ at once.
 * A decoded event's text is made storable first (NUL and unpaired surrogates become U+FFFD, see
 * `makeStorable` in lib/text), so neither beforeBatch nor a handler ever sees what PostgreSQL
 * refuses: requests are checked at the RPC layer, events here.
 * A failed attempt is redelivered after backoffMs[attempt-1]; after maxDeliver attempts, or at
 * once for a PermanentError, the message is copied to the DLQ and terminated. A database that
 * cannot be reached is not the event's failure: the batch is held and applied again once the
 * database answers, spending no attempt.
 *
 * Redelivery timing uses JetStream's own consumer `backoff` (the ack wait of delivery n is
 * backoffMs[n-1]) instead of a delayed nak: measured on nats-server 2.9.10, nak(delay) on a
 * consumer with backoff waits delay + backoff[n-1] - backoff[0], and without consumer backoff
 * a crashed worker's messages would wait a long fixed ack wait. So while a message waits or its
 * handler runs the consumer reports progress (`working()`) to keep it; on failure it reports
 * once more and lets the backoff redeliver it. A worker that dies mid-batch therefore has its
 * messages redelivered on the same schedule. The server's max_deliver is maxDeliver + 1: the
 * extra delivery only happens when the worker handling the last attempt died, and moves the
 * message to the DLQ instead of leaving it unacknowledged forever.
 */
export function startConsumer<Desc extends DescMessage>(options: ConsumerOptions<Desc>): Promise<EventConsumer> {
  const { consumer, event: schema, handler } = options;

  /** Runs the handler for one event on `em`, in a CONSUMER span under the publisher's trace. */
  function runHandler(delivery: Delivery<MessageShape<Desc>>, em: EntityManager): Promise<void> {
    const { msg, headers, log } = delivery;
    const parent = extractHeaders((key) => headers[key], ROOT_CONTEXT);
    const attributes = {
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": msg.subject,
      "messaging.consumer.group.name": consumer,
      "messaging.message.id": delivery.eventId ?? "",
      "messaging.message.delivery_count": msg.info.deliveryCount,
    };
    return context.with(parent, () =>
      tracer.startActiveSpan(`process ${msg.subject}`, { kind: SpanKind.CONSUMER, attributes }, async (span) => {
        // The order's id, so that Jaeger finds the trace by tag.
        if (headers[CORRELATION_HEADER]) span.setAttribute(ORDER_ID_ATTRIBUTE, headers[CORRELATION_HEADER]);
        try {
          await handler(delivery.event!, {
            em,
            eventId: delivery.eventId!,
            eventType: headers[EVENT_TYPE_HEADER] ?? "",
            subject: msg.subject,
            deliveryCount: msg.info.deliveryCount,
            headers,
            logger: log,
            publish: (eventSchema, message, publishOptions) => enqueue(em, eventSchema, message, publishOptions),
          });
        } catch (error) {
          recordFailure(span, error);
          throw error;
        } finally {
          span.end();
        }
      }),
    );
  }

  return runConsumer<MessageShape<Desc>>(options, {
    subject: eventSubject(options.names, schema),
    description: `${consumer}: ${schema.typeName}`,
    decode: (data, eventType) => decode(schema, data, eventType),
    repair: (event) => makeStorable(schema, event),
    async apply(fresh, em) {
      if (options.beforeBatch)
        await options.beforeBatch(
          fresh.map((delivery) => delivery.event!),
          em,
        );
      for (const delivery of fresh) {
        await runHandler(delivery, em);
        delivery.log.debug("event handled");
      }
    },
  });
}

/**
 * Starts a consumer of several event types (every event on the stream, filtered here) whose
 * handler applies each batch at once, set based: one transaction, one dedup insert and one
 * handler call per batch, with the same retries, DLQ and fall-back to single events as
 * `startConsumer`. Each event gets a CONSUMER span in its publisher's trace, covering the batch.
 */
export function startBatchConsumer(options: BatchConsumerOptions): Promise<EventConsumer> {
  const { consumer, names, handler } = options;
  const byType = new Map(options.events.map((schema) => [schema.typeName, schema]));
  return runConsumer<{ schema: DescMessage; message: Message }>(options, {
    subject: `${names.subjectRoot}.>`,
    description: `${consumer}: ${options.events.length} event types`,
    decode(data, eventType) {
      if (!eventType) throw new PermanentError("the message has no event-type header");
      const schema = byType.get(eventType);
      return schema && { schema, message: decode(schema, data, eventType) };
    },
    repair: (event) => makeStorable(event.schema, event.message),
    async apply(fresh, em) {
      // One CONSUMER span per event, in the trace of the event's publisher, all covering the
      // batch's one handler call: every order's trace shows this service's part in it.
      const spans = fresh.map((d) => {
        const parent = extractHeaders((key) => d.headers[key], ROOT_CONTEXT);
        const span = tracer.startSpan(
          `process ${d.msg.subject}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              "messaging.system": "nats",
              "messaging.operation.type": "process",
              "messaging.operation.name": "process",
              "messaging.destination.name": d.msg.subject,
              "messaging.consumer.group.name": consumer,
              "messaging.message.id": d.eventId ?? "",
              "messaging.batch.message_count": fresh.length,
            },
          },
          parent,
        );
        if (d.headers[CORRELATION_HEADER]) span.setAttribute(ORDER_ID_ATTRIBUTE, d.headers[CORRELATION_HEADER]);
        return span;
      });
      try {
        await handler(
          fresh.map((d) => ({
            schema: d.event!.schema,
            message: d.event!.message,
            eventId: d.eventId!,
            subject: d.msg.subject,
            streamSequence: d.msg.info.streamSequence,
            headers: d.headers,
          })),
          em,
        );
      } catch (error) {
        for (const span of spans) recordFailure(span, error);
        throw error;
      } finally {
        for (const span of spans) span.end();
      }
    },
  });
}

async function runConsumer<E>(options: BaseConsumerOptions, mode: Mode<E>): Promise<EventConsumer> {
  const { js, jsm, names, consumer } = options;
  const settings = consumerSettings(options);
  const { maxDeliver, schedule } = settings;
  const logger = options.logger.child({ consumer });
  await ensureConsumer(
    jsm,
    names.stream,
    {
      durable_name: consumer,
      description: mode.description,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: mode.subject,
      max_deliver: maxDeliver + 1,
      backoff: schedule.map((ms) => nanos(ms)),
    },
    options.startSequence,
    logger,
  );
  const pull = await js.consumers.get(names.stream, consumer);
  const running = pullAndHandle(pull, options, settings, logger, batchHandler(options, mode, settings, logger));
  logger.info(
    {
      subject: mode.subject,
      stream: names.stream,
      max_deliver: maxDeliver,
      backoff_ms: schedule,
      concurrency: settings.concurrency,
      batch_size: settings.batchSize,
      linger_ms: settings.lingerMs,
    },
    "consumer started",
  );
  return running;
}

/** A consumer's validated tuning, with what follows from it. */
interface ConsumerSettings {
  maxDeliver: number;
  /** The wait before each redelivery: backoffMs cut to what the server accepts. */
  schedule: number[];
  concurrency: number;
  batchSize: number;
  lingerMs: number;
  /** How long a message may be held without a sign of life before it reports progress. */
  reportAfterMs: number;
}

/** Checks the tuning of `options` (the defaults filled in); throws naming the wrong setting. */
function consumerSettings(options: BaseConsumerOptions): ConsumerSettings {
  const maxDeliver = options.maxDeliver ?? 4;
  const backoffMs = options.backoffMs ?? [1_000, 2_000, 4_000];
  const concurrency = options.concurrency ?? 1;
  const batchSize = options.batchSize ?? 64;
  const lingerMs = options.lingerMs ?? 0;
  if (!NAME.test(options.consumer)) throw new Error(`consumer name "${options.consumer}" must match ${NAME}`);
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1) throw new Error("maxDeliver must be an integer >= 1");
  if (backoffMs.length === 0 || backoffMs.some((ms) => !(ms > 0))) throw new Error("backoffMs needs at least one delay > 0");
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error("concurrency must be an integer >= 1");
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error("batchSize must be an integer >= 1");
  if (!Number.isInteger(lingerMs) || lingerMs < 0 || lingerMs > 60_000) throw new Error("lingerMs must be an integer from 0 to 60000");
  // The server requires fewer backoff entries than max_deliver; later deliveries reuse the last.
  const schedule = backoffMs.slice(0, maxDeliver);
  // Checked every half of it, a held message reports at most 3/8 of the shortest ack wait after
  // its last sign of life, which leaves the event loop 5/8 of the wait (625 ms by default) to
  // fall behind before the server would redeliver it; one handled promptly never reports.
  const reportAfterMs = Math.max(10, Math.floor(Math.min(...schedule) / 4));
  return { maxDeliver, schedule, concurrency, batchSize, lingerMs, reportAfterMs };
}

/**
 * What the consumer does with each batch of pulled messages: decode them, apply the valid ones
 * in one transaction (one at a time if that fails), and settle every message with an ack, a
 * scheduled redelivery or the DLQ. The returned function never throws.
 */
/** Handles pulled messages (see `batchHandler`). */
interface BatchHandling {
  handle(messages: JsMsg[]): Promise<void>;
  /** Stops waiting out a database outage: the batch held for it fails and is settled. */
  stop(): void;
}

function batchHandler<E>(options: BaseConsumerOptions, mode: Mode<E>, settings: ConsumerSettings, logger: Logger): BatchHandling {
  const { orm, js, names, consumer } = options;
  const { maxDeliver, schedule } = settings;
  const metrics = consumerMetrics(consumer);

  function receive(msg: JsMsg): Delivery<E> {
    const headers = headerRecord(msg.headers);
    const rawId = headers[EVENT_ID_HEADER] || headers[MSG_ID_HEADER];
    const logFor = (orderId: unknown) =>
      lazyChild(logger, {
        event_id: rawId,
        event_type: headers[EVENT_TYPE_HEADER],
        order_id: headers[CORRELATION_HEADER] || orderId,
        delivery_count: msg.info.deliveryCount,
      });
    try {
      if (msg.info.deliveryCount > maxDeliver) {
        throw new PermanentError(`no outcome after ${maxDeliver} deliveries: the worker handling the last one stopped or timed out`);
      }
      const eventId = validEventId(headers);
      const event = mode.decode(msg.data, headers[EVENT_TYPE_HEADER] ?? "");
      if (event === undefined) return { msg, headers, log: logFor(undefined), eventId, skip: true };
      // Before any handler sees it, so none has to remember: a NUL in one event's text would
      // make PostgreSQL refuse its whole batch, and then the event itself on every retry.
      const repaired = mode.repair(event);
      // Every shop event starts with order_id: logs carry it even when a publisher set no correlation id.
      const message = (event as { message?: unknown }).message ?? event;
      const log = logFor((message as { orderId?: unknown }).orderId);
      if (repaired) log.warn({ fields: repaired }, "event text PostgreSQL cannot store (NUL, unpaired surrogate) replaced with U+FFFD");
      return { msg, headers, log, eventId, event };
    } catch (error) {
      return { msg, headers, log: logFor(undefined), eventId: rawId, invalid: error as PermanentError };
    }
  }

  /**
   * Applies `batch` in one transaction with its dedup rows and acknowledges it after the commit.
   * Throws (having rolled back and acknowledged nothing) if any handler or the commit fails.
   */
  async function applyBatch(batch: Delivery<E>[]): Promise<void> {
    const started = performance.now();
    await runTransaction(orm, async (em) => {
      const ids = batch.map((d) => d.eventId!);
      const inserted = await sql<{ event_id: string }>(
        em,
        "insert into processed_events (consumer, event_id) select ?, unnest(?::uuid[]) on conflict do nothing returning event_id",
        [consumer, ids],
      );
      // A conflict means the event was applied before; a repeat inside the batch is applied once.
      const inserts = new Set(inserted.map((row) => row.event_id));
      const fresh = batch.filter((delivery) => {
        if (inserts.delete(delivery.eventId!.toLowerCase())) return true;
        delivery.log.debug("event already processed; skipped");
        return false;
      });
      // The batch's events go to the outbox in one statement, after every handler ran.
      if (fresh.length > 0) await withDeferredOutbox(em, () => mode.apply(fresh, em));
    });
    // Only now, after the commit. A lost ack means a redelivery, which processed_events absorbs.
    for (const { msg, log } of batch) reply(msg, "ack", log);
    // Each event is charged its share of the batch's time.
    const seconds = (performance.now() - started) / 1000 / batch.length;
    for (let i = 0; i < batch.length; i++) metrics.handled(seconds);
  }

  // Outage waits in progress, cut short by stop().
  const outageWaits = new Set<Sleeper>();
  let stopping = false;

  /**
   * Applies `batch` like applyBatch, but waits out a database that cannot be reached: the
   * messages stay in hand (kept alive by progress reports) and are applied again with backoff
   * once it answers. An outage is no fault of the events, so it must not spend their delivery
   * attempts: a crash recovery longer than the backoff schedule would otherwise dead-letter
   * every event that arrived meanwhile and leave their sagas stuck. Throws any other error, and
   * the outage's own when the consumer stops.
   */
  async function applyThroughOutages(batch: Delivery<E>[]): Promise<void> {
    for (let waits = 0; ; waits++) {
      try {
        return await applyBatch(batch);
      } catch (error) {
        if (stopping || !isDatabaseUnavailable(error)) throw error;
        if (waits === 0) logger.warn({ err: error, events: batch.length }, "database unreachable: holding the events until it answers");
        const wait = new Sleeper();
        outageWaits.add(wait);
        await wait.sleep(Math.min(5_000, 250 * 2 ** waits), { wakeable: false });
        outageWaits.delete(wait);
      }
    }
  }

  /** Schedules a retry, or copies the message to the DLQ and terminates it. */
  async function settleFailure(delivery: Delivery<E>, error: unknown): Promise<void> {
    const { msg, log } = delivery;
    metrics.failed(0);
    const deliveryCount = msg.info.deliveryCount;
    if (!isPermanent(error) && deliveryCount < maxDeliver) {
      // Restart the ack wait now; the consumer's backoff redelivers it after backoffMs[n-1].
      reply(msg, "working", log);
      const retryInMs = schedule[Math.min(deliveryCount, schedule.length) - 1];
      metrics.retried();
      log.warn({ err: error, retry_in_ms: retryInMs }, "event handler failed; will retry");
      return;
    }
    const attempts = Math.min(deliveryCount, maxDeliver);
    try {
      await copyToDeadLetters(js, names, msg, { consumer, error, deliveryCount: attempts, eventId: delivery.eventId });
    } catch (dlqError) {
      // Not terminated: it stays pending and is redelivered, and copied again, on the backoff schedule.
      reply(msg, "working", log);
      log.error({ err: dlqError, cause: errorMessage(error) }, "could not copy the event to the dead-letter stream; will retry");
      return;
    }
    reply(msg, "term", log);
    metrics.deadLettered();
    log.error({ err: error, attempts, dlq_stream: names.dlqStream }, "event moved to the dead-letter stream");
  }

  /** Handles a batch to a final ack, term or scheduled redelivery of each message; never throws. */
  async function handle(messages: JsMsg[]): Promise<void> {
    const deliveries = messages.map(receive);
    const valid: Delivery<E>[] = [];
    for (const delivery of deliveries) {
      if (delivery.invalid) await settleFailure(delivery, delivery.invalid);
      else if (delivery.skip) reply(delivery.msg, "ack", delivery.log);
      else valid.push(delivery);
    }
    if (valid.length === 0) return;
    try {
      await applyThroughOutages(valid);
      return;
    } catch (error) {
      if (valid.length === 1) return settleFailure(valid[0], error).catch((e: unknown) => logger.error({ err: e }, "unexpected failure settling an event"));
      logger.debug({ err: error, batch: valid.length }, "batch failed; applying its events one at a time");
    }
    for (const delivery of valid) {
      try {
        await applyThroughOutages([delivery]);
      } catch (error) {
        await settleFailure(delivery, error).catch((e: unknown) => delivery.log.error({ err: e }, "unexpected failure settling an event"));
      }
    }
  }

  return {
    handle,
    stop() {
      stopping = true;
      for (const wait of outageWaits) wait.cancel();
    },
  };
}

/**
 * Pulls messages and hands them to `concurrency` workers running `handle`, keeping what waits
 * or is in hand alive with progress reports; stops pulling while paused. Stopping lets what
 * already arrived be handled and acknowledged.
 */
function pullAndHandle(pull: Consumer, options: BaseConsumerOptions, settings: ConsumerSettings, logger: Logger, handler: BatchHandling): EventConsumer {
  const { batchSize, concurrency, lingerMs, reportAfterMs } = settings;
  // Received messages wait here until a worker takes them.
  const waiting: JsMsg[] = [];
  // When each waiting message arrived, while a batch may linger for more (lingerMs > 0).
  const arrivedAt = new Map<JsMsg, number>();
  // Every message received and not yet settled (waiting or in hand), with its last sign of life
  // (arrival or progress report). Those held long report progress, so a long batch or a long
  // wait for a worker never lets their ack wait run out; the many handled within
  // `reportAfterMs` never send a report, which would cost NATS and the server as much as an ack.
  const held = new Map<JsMsg, number>();
  let heartbeat: NodeJS.Timeout | undefined;
  function keepAlive(): void {
    if (held.size === 0) {
      clearInterval(heartbeat);
      heartbeat = undefined;
      return;
    }
    const now = Date.now();
    for (const [msg, since] of held) {
      if (now - since < reportAfterMs) continue;
      reply(msg, "working");
      held.set(msg, now);
    }
  }
  const arrived = new Signal();
  const drained = new Signal();
  const backoff = new Sleeper();
  let stopping = false;
  let fetching: ConsumerMessages | undefined;

  // One pull request at a time, for as many messages as there is room for: the server never
  // hands this process more than it holds under progress reports.
  async function pump(): Promise<void> {
    let failures = 0;
    while (!stopping) {
      if (options.pause?.paused()) {
        await whilePaused(options.pause, () => stopping);
        continue;
      }
      const room = batchSize * concurrency * 2 - held.size;
      if (room <= 0) {
        await drained.wait(1_000);
        continue;
      }
      try {
        fetching = await pull.fetch({ max_messages: room, expires: 30_000 });
        // Never awaited here: close() resolves once this loop has read the iterator to its end,
        // so awaiting it before or inside the loop waits forever (and so would stop()). A pause
        // that came while the pull was being set up found nothing to close: close it now, or
        // the pull would take what is published during the pause.
        if (stopping || options.pause?.paused()) void fetching.close();
        for await (const msg of fetching) {
          failures = 0;
          const now = Date.now();
          waiting.push(msg);
          held.set(msg, now);
          if (lingerMs > 0) arrivedAt.set(msg, now);
          heartbeat ??= setInterval(keepAlive, reportAfterMs / 2);
          arrived.notify();
          if (options.pause?.paused()) void fetching.close();
        }
      } catch (error) {
        if (stopping) break;
        if (error instanceof errors.ClosedConnectionError) {
          // Connections from connectBus reconnect forever, so closed means closed on purpose.
          logger.warn("the NATS connection was closed; this consumer stops");
          break;
        }
        failures++;
        logger.error({ err: error }, "fetching events failed; trying again");
        await backoff.sleep(Math.min(5_000, 250 * 2 ** (failures - 1)), { wakeable: false });
      } finally {
        fetching = undefined;
      }
    }
    pumping = false;
    arrived.notify();
  }

  /** Waits until a full batch is waiting, or `lingerMs` after the oldest waiting one arrived. */
  async function linger(): Promise<void> {
    for (;;) {
      const oldest = waiting[0];
      if (oldest === undefined || waiting.length >= batchSize || !pumping || stopping) return;
      const left = (arrivedAt.get(oldest) ?? 0) + lingerMs - Date.now();
      if (left <= 0) return;
      await arrived.wait(left);
    }
  }

  async function work(): Promise<void> {
    for (;;) {
      if (waiting.length === 0) {
        if (!pumping) return;
        await arrived.wait(60_000);
        // One turn of the event loop lets the pump move in everything already received, so a
        // burst becomes one batch instead of a batch of one and a batch of the rest.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (lingerMs > 0) await linger();
      const batch = waiting.splice(0, batchSize);
      for (const msg of batch) arrivedAt.delete(msg);
      drained.notify();
      try {
        await handler.handle(batch);
      } catch (error) {
        // Only reachable through a bug in handle(); the messages are redelivered after their ack wait.
        logger.error({ err: error }, "unexpected failure handling events");
      } finally {
        for (const msg of batch) held.delete(msg);
      }
      // Let other workers sleeping on `arrived` see what is left.
      if (waiting.length > 0) arrived.notify();
    }
  }

  // Pausing ends the pull already waiting, as stop() does, so no further message is taken.
  const unsubscribe = options.pause?.onPause(() => void fetching?.close());
  let pumping = true;
  const pumped = pump();
  const workers = Array.from({ length: concurrency }, () => work());

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        unsubscribe?.();
        backoff.cancel();
        handler.stop();
        drained.close();
        // close() unsubscribes at once (the server drops the outstanding pull request for lack
        // of interest); what already arrived is still handled and acknowledged below.
        await fetching?.close();
        await pumped;
        await Promise.all(workers);
        clearInterval(heartbeat);
        logger.info("consumer stopped");
      })();
      return stopped;
    },
  };
}

/**
 * Sends ack / term / progress. These are fire-and-forget publishes that throw only when the
 * connection is closed; then the server redelivers the message, which is harmless.
 */
function reply(msg: JsMsg, kind: "ack" | "term" | "working", log?: Logger): void {
  try {
    if (kind === "ack") msg.ack();
    else if (kind === "term") msg.term();
    else msg.working();
  } catch (error) {
    log?.warn({ err: error }, `could not send ${kind}; the event will be redelivered`);
  }
}

/** The event id: the `event-id` header, else Nats-Msg-Id (publishers outside the outbox). */
function validEventId(headers: Record<string, string>): string {
  const eventId = headers[EVENT_ID_HEADER] || headers[MSG_ID_HEADER];
  if (eventId === undefined || !isUuid(eventId)) throw new PermanentError(`missing or invalid event id "${eventId ?? ""}"`);
  return eventId;
}

function decode<Desc extends DescMessage>(schema: Desc, data: Uint8Array, eventType: string): MessageShape<Desc> {
  if (eventType && eventType !== schema.typeName) {
    throw new PermanentError(`event-type "${eventType}" does not match the consumer's ${schema.typeName}`);
  }
  try {
    return fromBinary(schema, data);
  } catch (error) {
    throw new PermanentError(`cannot decode ${schema.typeName}: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * Creates the durable consumer, or updates the settings that may change between deploys. Its
 * position is only ever chosen here, at creation (`startSequence`): the server refuses to change
 * the deliver policy of one that exists, so an add that finds one (created meanwhile by another
 * replica, say) falls back to the update and leaves the position alone.
 */
async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  startSequence: StartSequence | undefined,
  logger: Logger,
): Promise<void> {
  if (startSequence && !(await consumerExists(jsm, stream, config.durable_name))) {
    const seq = await startSequence({ jsm, stream });
    if (seq !== undefined) {
      if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`start sequence ${seq} of consumer ${config.durable_name} must be an integer >= 1`);
      config = { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
      logger.info({ stream, start_seq: seq }, "creating the durable consumer at a start sequence");
    }
  }
  try {
    await jsm.consumers.add(stream, config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    const { description, max_deliver, backoff } = config;
    await jsm.consumers.update(stream, config.durable_name, { description, max_deliver, backoff });
  }
}

async function consumerExists(jsm: JetStreamManager, stream: string, consumer: string): Promise<boolean> {
  try {
    await jsm.consumers.info(stream, consumer);
    return true;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return false;
    throw error;
  }
}
