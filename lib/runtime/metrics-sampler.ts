import type { Knex } from "@mikro-orm/postgresql";
import type { Database } from "../db/index.js";
import type { EventBus } from "../events/index.js";
import type { Logger } from "../log.js";
import { setConsumerPending, setDeadLetters, setOutbox } from "../metrics/index.js";
import { startPeriodic } from "./periodic.js";
import type { Worker } from "./start-service.js";

// The partial index on unpublished rows serves both parts; the oldest row is the lowest seq.
const OUTBOX_SAMPLE = `
  select count(*)::int as depth,
         coalesce(extract(epoch from now() - (select created_at from outbox where published_at is null order by seq limit 1)), 0)::float8 as age
  from outbox where published_at is null`;

export interface MetricsSamplerOptions {
  service: string;
  orm: Database;
  bus: EventBus;
  /** Durable consumers of this service, whose pending counts are sampled. */
  consumers: readonly string[];
  intervalMs: number;
  logger: Logger;
}

/**
 * Samples what costs a query to know (outbox depth and age, consumer pending counts, DLQ size)
 * every `intervalMs` into the gauges of lib/metrics, so that scrapes, however frequent, read
 * numbers and never reach the database or JetStream. One sample is one SQL statement plus one
 * JetStream API request per consumer and one for the DLQ.
 */
export function startMetricsSampler(options: MetricsSamplerOptions): Worker {
  const { service, orm, bus, consumers, logger } = options;
  // getKnex() reads no context, so the global EntityManager is fine here.
  const knex: Knex = orm.em.getKnex();
  async function sample(): Promise<void> {
    const outbox = knex.raw<{ rows: { depth: number; age: number }[] }>(OUTBOX_SAMPLE).then(({ rows: [row] }) => {
      setOutbox(service, { depth: row.depth, oldestAgeSeconds: row.age });
    });
    const pending = consumers.map((consumer) =>
      bus.jsm.consumers.info(bus.names.stream, consumer).then((info) => setConsumerPending(consumer, info.num_pending + info.num_ack_pending)),
    );
    const dlq = bus.jsm.streams.info(bus.names.dlqStream).then((info) => setDeadLetters(bus.names.dlqStream, info.state.messages));
    const results = await Promise.allSettled([outbox, dlq, ...pending]);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) throw failure.reason;
  }
  const worker = startPeriodic("metrics-sampler", options.intervalMs, sample, logger);
  // The first sample at once, so a fresh process does not report nothing for a whole interval.
  sample().catch((error: unknown) => logger.debug({ err: error }, "first metrics sample failed"));
  return {
    async stop() {
      await worker.stop();
      setOutbox(service, undefined);
      for (const consumer of consumers) setConsumerPending(consumer, undefined);
    },
  };
}
