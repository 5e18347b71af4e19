import { Counter, Gauge, Histogram } from "prom-client";
import { platformRegistry } from "./registry.js";

const labelNames = ["consumer"] as const;

const handled = new Counter({
  name: "ordermesh_consumer_events_handled_total",
  help: "Events a consumer handled and acknowledged (duplicates included), by durable consumer",
  labelNames,
  registers: [platformRegistry],
});
const failed = new Counter({
  name: "ordermesh_consumer_events_failed_total",
  help: "Handler attempts that failed, by durable consumer",
  labelNames,
  registers: [platformRegistry],
});
const retried = new Counter({
  name: "ordermesh_consumer_events_retried_total",
  help: "Failed attempts left for JetStream to redeliver after the backoff, by durable consumer",
  labelNames,
  registers: [platformRegistry],
});
const deadLettered = new Counter({
  name: "ordermesh_consumer_events_dead_lettered_total",
  help: "Events copied to the dead-letter stream and terminated, by durable consumer",
  labelNames,
  registers: [platformRegistry],
});
const duration = new Histogram({
  name: "ordermesh_consumer_handler_duration_seconds",
  help: "Time from receiving an event to its ack or failure (decode, transaction, handler), by durable consumer and outcome",
  labelNames: ["consumer", "outcome"],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [platformRegistry],
});
const pending = new Gauge({
  name: "ordermesh_consumer_pending_messages",
  help: "Messages of a durable consumer not yet acknowledged: JetStream num_pending + num_ack_pending, sampled",
  labelNames,
  registers: [platformRegistry],
});

/** The counters of one durable consumer, bound once so an event costs an increment and an observe. */
export interface ConsumerMetrics {
  handled(seconds: number): void;
  failed(seconds: number): void;
  retried(): void;
  deadLettered(): void;
}

/** The metrics of durable consumer `consumer`. */
export function consumerMetrics(consumer: string): ConsumerMetrics {
  const labels = { consumer };
  // Series start at 0, so a rate() sees the first failure and dashboards list every consumer.
  for (const counter of [handled, failed, retried, deadLettered]) counter.inc(labels, 0);
  const handledCounter = handled.labels(labels);
  const failedCounter = failed.labels(labels);
  const retriedCounter = retried.labels(labels);
  const deadLetteredCounter = deadLettered.labels(labels);
  const ok = duration.labels({ consumer, outcome: "ok" });
  const error = duration.labels({ consumer, outcome: "error" });
  return {
    handled(seconds) {
      handledCounter.inc();
      ok.observe(seconds);
    },
    failed(seconds) {
      failedCounter.inc();
      error.observe(seconds);
    },
    retried: () => retriedCounter.inc(),
    deadLettered: () => deadLetteredCounter.inc(),
  };
}

/** Records a sample of a consumer's pending count; `undefined` removes the series (consumer stopped). */
export function setConsumerPending(consumer: string, count: number | undefined): void {
  if (count === undefined) pending.remove({ consumer });
  else pending.set({ consumer }, count);
}

const outboxDepth = new Gauge({
  name: "ordermesh_outbox_depth",
  help: "Outbox rows not yet published to JetStream, sampled",
  labelNames: ["service"],
  registers: [platformRegistry],
});
const outboxAge = new Gauge({
  name: "ordermesh_outbox_oldest_age_seconds",
  help: "Age of the oldest unpublished outbox row (0 when the outbox is drained), sampled",
  labelNames: ["service"],
  registers: [platformRegistry],
});
const dlqSize = new Gauge({
  name: "ordermesh_dlq_messages",
  help: "Messages in the dead-letter stream, sampled",
  labelNames: ["stream"],
  registers: [platformRegistry],
});

/** Records a sample of a service's outbox; `undefined` removes the series (service stopped). */
export function setOutbox(service: string, sample: { depth: number; oldestAgeSeconds: number } | undefined): void {
  if (!sample) {
    outboxDepth.remove({ service });
    outboxAge.remove({ service });
    return;
  }
  outboxDepth.set({ service }, sample.depth);
  outboxAge.set({ service }, sample.oldestAgeSeconds);
}

/** Records a sample of the dead-letter stream's size. */
export function setDeadLetters(stream: string, messages: number): void {
  dlqSize.set({ stream }, messages);
}
