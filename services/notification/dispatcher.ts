import type { EntityManager } from "@mikro-orm/postgresql";
import { SpanKind } from "@opentelemetry/api";
import { Code, ServiceError } from "../../lib/errors.js";
import { type Breaker, type BreakerOptions, createBreaker } from "../../lib/grpc/index.js";
import type { ServiceDeps, Worker } from "../../lib/runtime/index.js";
import { inLinkedTrace, inOrderTrace } from "../../lib/telemetry/index.js";
import { CHANNELS, type ChannelName } from "./domain/recipients.js";
import { afterFailure } from "./domain/retry.js";
import { afterCommit, runTransaction } from "../../lib/db/index.js";
import { GroupWriter } from "../../lib/group-writer.js";
import { storableText } from "../../lib/text.js";
import { enqueueRecords, type OutboxRecord, Sleeper } from "../../lib/events/index.js";
import { failedEvent, sentEvent } from "./events.js";
import * as store from "./notification-store.js";
import { failureText, isPermanentFailure, type MessageProvider } from "./providers/provider.js";

export interface DispatcherOptions {
  providers: Record<ChannelName, MessageProvider>;
  /** Attempts per notification before it is FAILED (NOTIFY_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Wait after the first failed attempt; doubles after each further one (NOTIFY_RETRY_BASE_MS). */
  retryBaseMs: number;
  /** How often due notifications are looked for when nobody wakes the dispatcher (NOTIFY_POLL_MS). */
  pollMs: number;
  /** Longest a provider call may take; longer counts as a transient failure (NOTIFY_SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
  /** Notifications claimed and sent at once (default 64). */
  batchSize?: number;
  /** Tuning of the per-provider circuit breakers. */
  breaker?: BreakerOptions;
}

export type AttemptOutcome = "sent" | "retry" | "failed" | "released" | "lost";

/** An attempt made, waiting for its outcome to be written; `event` is what it publishes if written. */
interface Attempted {
  claimed: store.ClaimedNotification;
  result:
    | { kind: "sent"; providerMessageId: string }
    | { kind: "refused"; reason: string }
    | { kind: "retry"; error: string; delayMs: number }
    | { kind: "failed"; error: string };
  event?: OutboxRecord;
}

/** Sends queued notifications (see `startDispatcher`). */
export interface Dispatcher {
  /** How long a claim holds a row before another sender may take it over. */
  readonly leaseMs: number;
  /** The circuit breaker of each provider. */
  readonly breakers: Readonly<Record<ChannelName, Breaker>>;
  /** Makes the claimed attempt and records its outcome (and event). Provider failures are outcomes, not errors. */
  deliver(claimed: store.ClaimedNotification): Promise<AttemptOutcome>;
  /** Marks `em`'s transaction as one that queued notifications: its commit wakes the dispatcher. */
  queuedIn(em: EntityManager): void;
  /** Looks for due notifications now instead of at the next poll. */
  wake(): void;
  /** Starts the background loop; stopping the worker also shuts the breakers down. */
  start(): Worker;
}

/**
 * The notification dispatcher. The saga's consumers only queue notifications (PENDING rows in
 * their own transaction); this sends them, so a slow provider never holds up an event. Its loop
 * claims due rows (FOR UPDATE SKIP LOCKED, in one short statement that also takes a lease, see
 * notification-store), calls the provider through that provider's circuit breaker with a
 * timeout, and records the outcome in a second short transaction: SENT with
 * shop.notification.sent; or a retry after retryBaseMs x 2^(attempt-1); or, after maxAttempts
 * or a permanent refusal, FAILED with shop.notification.failed. An attempt the breaker refused
 * (circuit open) does not count; rows of a channel whose circuit is open are not claimed.
 *
 * A send is at-least-once: if the process dies between the provider's acceptance and the
 * commit, the lease runs out and the message is sent again, with the same idempotency key
 * (the notification id) for the provider to recognise it.
 */
export function createDispatcher({ orm, logger: parent }: ServiceDeps, options: DispatcherOptions): Dispatcher {
  const logger = parent.child({ component: "notification-dispatcher" });
  const batchSize = options.batchSize ?? 64;
  const leaseMs = options.sendTimeoutMs * 2 + 5_000;
  const breakers = {
    EMAIL: createBreaker("email", options.breaker, logger),
    SMS: createBreaker("sms", options.breaker, logger),
  } satisfies Record<ChannelName, Breaker>;
  const sleeper = new Sleeper();

  function withTimeout<T>(promise: Promise<T>, channel: ChannelName): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ServiceError(Code.DEADLINE_EXCEEDED, `${channel} provider did not answer within ${options.sendTimeoutMs} ms`)),
        options.sendTimeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  async function attempt(claimed: store.ClaimedNotification) {
    const provider = options.providers[claimed.channel];
    const message = { channel: claimed.channel, recipient: claimed.recipient, subject: claimed.subject, body: claimed.body, idempotencyKey: claimed.id };
    try {
      const result = (await breakers[claimed.channel].fire(() => withTimeout(provider.send(message), claimed.channel))) as { providerMessageId: string };
      // The provider's id, kept in notification_log: as storable as its failures (see failureText).
      return { kind: "sent" as const, providerMessageId: storableText(result.providerMessageId) };
    } catch (error) {
      const code = (error as { code?: unknown } | undefined)?.code;
      if (code === "EOPENBREAKER" || code === "ESHUTDOWN")
        return { kind: "refused" as const, reason: `${claimed.channel} provider unavailable (circuit open)` };
      return { kind: "error" as const, error: failureText(error), permanent: isPermanentFailure(error) };
    }
  }

  /**
   * One attempt in its own span: the first continues the trace of whoever queued the message
   * (the order's saga), a retry is timer work with a trace of its own linked to that one.
   * Recipient and body stay out of the span.
   */
  function deliver(claimed: store.ClaimedNotification): Promise<AttemptOutcome> {
    const work = {
      name: `notify ${claimed.channel.toLowerCase()}`,
      kind: SpanKind.CLIENT,
      orderId: claimed.orderId,
      traceParent: claimed.traceParent,
      attributes: {
        "peer.service": claimed.channel.toLowerCase(),
        "shop.notification.id": claimed.id,
        "shop.notification.channel": claimed.channel,
        "shop.notification.attempt": claimed.attempts,
      },
    };
    const run = async (span: { setAttribute(key: string, value: string): unknown }) => {
      const outcome = await attemptAndRecord(claimed);
      span.setAttribute("shop.notification.outcome", outcome);
      return outcome;
    };
    return claimed.attempts > 1 ? inLinkedTrace(work, run) : inOrderTrace(work, run);
  }

  async function attemptAndRecord(claimed: store.ClaimedNotification): Promise<AttemptOutcome> {
    const log = logger.child({ notification_id: claimed.id, order_id: claimed.orderId ?? undefined, channel: claimed.channel, attempt: claimed.attempts });
    const result = await attempt(claimed);
    let attempted: Attempted;
    if (result.kind === "error") {
      const decision = afterFailure({
        attempts: claimed.attempts,
        maxAttempts: options.maxAttempts,
        permanent: result.permanent,
        retryBaseMs: options.retryBaseMs,
      });
      attempted =
        decision.kind === "retry"
          ? { claimed, result: { kind: "retry", error: result.error, delayMs: decision.delayMs } }
          : { claimed, result: { kind: "failed", error: result.error }, event: failedEvent(claimed, result.error) };
    } else {
      // Built here, inside the attempt's span, so the event carries the order's trace.
      attempted = { claimed, result, event: result.kind === "sent" ? sentEvent(claimed) : undefined };
    }
    const outcome = await recorder.add(attempted);
    switch (outcome) {
      case "sent":
        log.info("notification sent");
        break;
      case "retry":
        log.warn({ error: result.kind === "error" ? result.error : undefined }, "sending failed; will retry");
        break;
      case "failed":
        log.warn(
          { error: result.kind === "error" ? result.error : undefined, permanent: result.kind === "error" && result.permanent },
          "notification failed; giving up",
        );
        break;
      case "released":
        log.info("provider circuit open; notification postponed");
        break;
      case "lost":
        log.warn({ outcome: result.kind }, "another sender took the notification over (lease expired); outcome dropped");
        break;
    }
    return outcome;
  }

  /** Writes the outcomes of attempts, and the events of those written, in one transaction of two statements. */
  function recordOutcomes(batch: readonly Attempted[]): Promise<AttemptOutcome[]> {
    return runTransaction(orm, async (em) => {
      const written = await store.recordOutcomes(
        em,
        batch.map(({ claimed, result }) => ({
          claimed,
          outcome: result.kind === "refused" ? { kind: "released" as const, reason: result.reason, delayMs: options.retryBaseMs } : result,
        })),
      );
      await enqueueRecords(
        em,
        batch.flatMap(({ claimed, event }) => (event && written.has(claimed.id) ? [event] : [])),
      );
      return batch.map(({ claimed, result }) => (!written.has(claimed.id) ? "lost" : result.kind === "refused" ? "released" : result.kind));
    });
  }

  // Attempts that finish while a write is under way are written together by the next one.
  const recorder = new GroupWriter<Attempted, AttemptOutcome>(recordOutcomes);

  /** One batch: claim due rows of the channels whose circuit is not open, and send them. */
  async function dispatchBatch(): Promise<number> {
    const channels = CHANNELS.filter((channel) => !breakers[channel].opened);
    const claimed = await store.claimDue(orm.em.fork(), channels, batchSize, leaseMs);
    await Promise.all(
      claimed.map((c) =>
        deliver(c).catch((error: unknown) => {
          // The outcome could not be recorded; the lease runs out and the row is tried again.
          logger.error({ err: error, notification_id: c.id }, "recording a send outcome failed");
        }),
      ),
    );
    return claimed.length;
  }

  return {
    leaseMs,
    breakers,
    deliver,
    queuedIn(em) {
      afterCommit(em, () => sleeper.wake());
    },
    wake: () => sleeper.wake(),
    start() {
      let stopped = false;
      const loop = (async () => {
        let failures = 0;
        while (!stopped) {
          let claimed = 0;
          try {
            claimed = await dispatchBatch();
            failures = 0;
          } catch (error) {
            failures++;
            logger.error({ err: error }, "dispatching notifications failed; will retry");
          }
          if (stopped) break;
          if (failures > 0) await sleeper.sleep(Math.min(5_000, 100 * 2 ** (failures - 1)), { wakeable: false });
          else if (claimed < batchSize) await sleeper.sleep(options.pollMs);
        }
      })();
      logger.info({ poll_ms: options.pollMs, max_attempts: options.maxAttempts, retry_base_ms: options.retryBaseMs }, "notification dispatcher started");
      return {
        async stop() {
          stopped = true;
          sleeper.cancel();
          await loop;
          for (const breaker of Object.values(breakers)) breaker.shutdown();
        },
      };
    },
  };
}
