import { type DescMessage, fromBinary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  JetStreamApiError,
  type JsMsg,
} from "@nats-io/jetstream";
import { errors, nanos } from "@nats-io/transport-node";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Database, EntityManager } from "../db/index.js";
import { isUuid } from "../ids.js";
import type { Logger } from "../log.js";
import { CORRELATION_HEADER, extractHeaders } from "../telemetry/index.js";
import { copyToDeadLetters } from "./dead-letters.js";
import { errorMessage, isPermanent, PermanentError } from "./errors.js";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, headerRecord, MSG_ID_HEADER } from "./headers.js";
import type { EventBusNames } from "./names.js";
import { enqueue, type EnqueueOptions } from "./outbox.js";
import { type PauseSwitch, whilePaused } from "./pause.js";
import { kickRelays } from "./relay.js";
import { Sleeper } from "./sleeper.js";
import { transactionOf } from "./sql.js";
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

export interface ConsumerOptions<Desc extends DescMessage> {
  orm: Database;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: EventBusNames;
  /** Durable consumer name, `<service>-<purpose>` (e.g. `inventory-reserve-stock`). */
  consumer: string;
  /** The one event type this consumer handles (nats-server 2.9 allows one filter subject). */
  event: Desc;
  handler: EventHandler<Desc>;
  logger: Logger;
  /** Handler attempts before the event goes to the DLQ (default 4). */
  maxDeliver?: number;
  /** Wait before attempt n+1 after attempt n failed (default 1 s, 2 s, 4 s; the last repeats). */
  backoffMs?: number[];
  /** Events handled at once (default 1, which keeps the stream's order). */
  concurrency?: number;
  /** While on, pull nothing (fault flags; see pause.ts). */
  pause?: PauseSwitch;
}

/** A running consumer. */
export interface EventConsumer {
  /** Stops pulling, lets in-flight handlers finish and acknowledge, then returns. */
  stop(): Promise<void>;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Starts an idempotent, retrying consumer of one event type on a durable pull consumer (created
 * or updated here; resolves once it exists). For every message it:
 * - decodes the payload; an undecodable or mistyped message goes to the DLQ at once;
 * - runs the handler in a CONSUMER span whose parent is the publisher's trace context, with the
 *   publisher's correlation id active;
 * - in ONE transaction inserts (consumer, event id) into processed_events — a conflict means the
 *   event was already applied: commit nothing, ack, skip — and runs the handler;
 * - acknowledges only after the commit.
 * A failed attempt is redelivered after backoffMs[attempt-1]; after maxDeliver attempts, or at
 * once for a PermanentError, the message is copied to the DLQ and terminated.
 *
 * Redelivery timing uses JetStream's own consumer `backoff` (the ack wait of delivery n is
 * backoffMs[n-1]) instead of a delayed nak: measured on nats-server 2.9.10, nak(delay) on a
 * consumer with backoff waits delay + backoff[n-1] - backoff[0], and without consumer backoff
 * a crashed worker's messages would wait a long fixed ack wait. So while a handler runs the
 * consumer reports progress (`working()`) to keep the message; on failure it reports once more
 * and lets the backoff redeliver it. A worker that dies mid-handler therefore has its message
 * redelivered on the same schedule. The server's max_deliver is maxDeliver + 1: the extra
 * delivery only happens when the worker handling the last attempt died, and moves the message
 * to the DLQ instead of leaving it unacknowledged forever.
 */
export async function startConsumer<Desc extends DescMessage>(options: ConsumerOptions<Desc>): Promise<EventConsumer> {
  const { orm, js, jsm, names, consumer, event: schema, handler } = options;
  const maxDeliver = options.maxDeliver ?? 4;
  const backoffMs = options.backoffMs ?? [1_000, 2_000, 4_000];
  const concurrency = options.concurrency ?? 1;
  const paused = () => options.pause?.paused() ?? false;
  if (!NAME.test(consumer)) throw new Error(`consumer name "${consumer}" must match ${NAME}`);
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1) throw new Error("maxDeliver must be an integer >= 1");
  if (backoffMs.length === 0 || backoffMs.some((ms) => !(ms > 0))) throw new Error("backoffMs needs at least one delay > 0");
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error("concurrency must be an integer >= 1");

  const subject = eventSubject(names, schema);
  const logger = options.logger.child({ consumer, event_type: schema.typeName });
  // The server requires fewer backoff entries than max_deliver; later deliveries reuse the last.
  const schedule = backoffMs.slice(0, maxDeliver);
  // Progress reports must reach the server well within the shortest ack wait.
  const heartbeatMs = Math.max(10, Math.floor(Math.min(...schedule) / 3));

  await ensureConsumer(jsm, names.stream, {
    durable_name: consumer,
    description: `${consumer}: ${schema.typeName}`,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subject,
    max_deliver: maxDeliver + 1,
    backoff: schedule.map((ms) => nanos(ms)),
  });
  const pull = await js.consumers.get(names.stream, consumer);

  /** Runs the handler in one transaction with the dedup row; `applied` is false for a duplicate. */
  async function apply(msg: JsMsg, headers: Record<string, string>, log: Logger): Promise<{ applied: boolean; published: boolean }> {
    const deliveryCount = msg.info.deliveryCount;
    if (deliveryCount > maxDeliver) {
      throw new PermanentError(`no outcome after ${maxDeliver} deliveries: the worker handling the last one stopped or timed out`);
    }
    const eventId = validEventId(headers);
    const eventType = headers[EVENT_TYPE_HEADER] ?? "";
    const event = decode(schema, msg.data, eventType);
    let published = false;
    const applied = await orm.em.fork().transactional(async (em) => {
      const inserted = await transactionOf(em, "consumer").raw<{ rowCount: number }>(
        "insert into processed_events (consumer, event_id) values (?, ?) on conflict do nothing",
        [consumer, eventId],
      );
      if (inserted.rowCount === 0) return false;
      await handler(event, {
        em,
        eventId,
        eventType,
        subject: msg.subject,
        deliveryCount,
        headers,
        logger: log,
        publish: (eventSchema, message, publishOptions) => {
          published = true;
          return enqueue(em, eventSchema, message, publishOptions);
        },
      });
      return true;
    });
    return { applied, published };
  }

  /** Schedules a retry, or copies the message to the DLQ and terminates it. */
  async function settleFailure(msg: JsMsg, error: unknown, eventId: string | undefined, log: Logger): Promise<void> {
    const deliveryCount = msg.info.deliveryCount;
    if (!isPermanent(error) && deliveryCount < maxDeliver) {
      // Restart the ack wait now; the consumer's backoff redelivers it after backoffMs[n-1].
      reply(msg, "working", log);
      const retryInMs = schedule[Math.min(deliveryCount, schedule.length) - 1];
      log.warn({ err: error, retry_in_ms: retryInMs }, "event handler failed; will retry");
      return;
    }
    const attempts = Math.min(deliveryCount, maxDeliver);
    try {
      await copyToDeadLetters(js, names, msg, { consumer, error, deliveryCount: attempts, eventId });
    } catch (dlqError) {
      // Not terminated: it stays pending and is redelivered, and copied again, on the backoff schedule.
      reply(msg, "working", log);
      log.error({ err: dlqError, cause: errorMessage(error) }, "could not copy the event to the dead-letter stream; will retry");
      return;
    }
    reply(msg, "term", log);
    log.error({ err: error, attempts, dlq_stream: names.dlqStream }, "event moved to the dead-letter stream");
  }

  /** Handles one message to a final ack, term or scheduled redelivery; never throws. */
  async function handle(msg: JsMsg): Promise<void> {
    const headers = headerRecord(msg.headers);
    const eventId = headers[EVENT_ID_HEADER] || headers[MSG_ID_HEADER];
    const deliveryCount = msg.info.deliveryCount;
    const log = logger.child({ event_id: eventId, order_id: headers[CORRELATION_HEADER], delivery_count: deliveryCount });
    const parent = extractHeaders((key) => headers[key], ROOT_CONTEXT);
    const attributes = {
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.destination.name": msg.subject,
      "messaging.consumer.group.name": consumer,
      "messaging.message.id": eventId ?? "",
      "messaging.message.delivery_count": deliveryCount,
    };
    const heartbeat = setInterval(() => reply(msg, "working"), heartbeatMs);
    try {
      await context.with(parent, () =>
        tracer.startActiveSpan(`process ${msg.subject}`, { kind: SpanKind.CONSUMER, attributes }, async (span) => {
          try {
            const { applied, published } = await apply(msg, headers, log);
            // Only now, after the commit. A lost ack means a redelivery, which processed_events absorbs.
            reply(msg, "ack", log);
            if (published) kickRelays(orm);
            span.setAttribute("ordermesh.event.duplicate", !applied);
            log.debug(applied ? "event handled" : "event already processed; skipped");
          } catch (error) {
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
            await settleFailure(msg, error, eventId, log);
          } finally {
            span.end();
          }
        }),
      );
    } catch (error) {
      // Only reachable through a bug above; the message is redelivered after its ack wait.
      log.error({ err: error }, "unexpected failure handling an event");
    } finally {
      clearInterval(heartbeat);
    }
  }

  const sleeper = new Sleeper();
  const open = new Set<ConsumerMessages>();
  let stopping = false;

  // Each worker pulls one message at a time (max_messages 1): the library then asks for the
  // next one only after the loop body finished, so no message waits in a local buffer, unseen
  // by the progress reports, while its short ack wait runs out.
  async function work(): Promise<void> {
    let failures = 0;
    while (!stopping) {
      if (options.pause && paused()) await whilePaused(options.pause, () => stopping);
      let messages: ConsumerMessages | undefined;
      try {
        messages = await pull.consume({ max_messages: 1 });
        open.add(messages);
        if (stopping) await messages.close();
        for await (const msg of messages) {
          failures = 0;
          await handle(msg);
          if (paused()) break;
        }
        if (stopping) break;
        if (paused()) continue;
        logger.warn("the consumer's message iterator ended; restarting it");
      } catch (error) {
        if (stopping) break;
        if (error instanceof errors.ClosedConnectionError) {
          // Connections from connectBus reconnect forever, so closed means closed on purpose.
          logger.warn("the NATS connection was closed; this consumer stops");
          break;
        }
        logger.error({ err: error }, "consuming failed; restarting the subscription");
      } finally {
        if (messages) open.delete(messages);
      }
      failures++;
      await sleeper.sleep(Math.min(5_000, 250 * 2 ** (failures - 1)), { wakeable: false });
    }
  }

  // Pausing ends the pulls already waiting, as stop() does, so no further message is taken.
  const unsubscribe = options.pause?.onPause(() => [...open].forEach((messages) => void messages.close()));
  const workers = Array.from({ length: concurrency }, () => work());
  logger.info({ subject, stream: names.stream, max_deliver: maxDeliver, backoff_ms: schedule, concurrency }, "consumer started");

  return {
    async stop() {
      if (stopping) return Promise.all(workers).then(() => undefined);
      stopping = true;
      unsubscribe?.();
      sleeper.cancel();
      // close() unsubscribes at once (the server drops the outstanding pull request for lack of
      // interest) and ends each iterator after the message being handled.
      await Promise.all([...open].map((messages) => messages.close()));
      await Promise.all(workers);
      logger.info("consumer stopped");
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

/** Creates the durable consumer, or updates the settings that may change between deploys. */
async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
  try {
    await jsm.consumers.add(stream, config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    const { description, max_deliver, backoff } = config;
    await jsm.consumers.update(stream, config.durable_name, { description, max_deliver, backoff });
  }
}
