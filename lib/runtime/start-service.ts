import type { DescMessage, DescService } from "@bufbuild/protobuf";
import type { MigrationObject } from "@mikro-orm/core";
import type { EntitySchema } from "@mikro-orm/core";
import { type Database, databaseProbe, openDatabase } from "../db/index.js";
import {
  busNames,
  connectBus,
  type ConsumerOptions,
  DEFAULT_BUS_NAMES,
  type EventBus,
  type EventConsumer,
  type EventHandler,
  type BatchHandler,
  startBatchConsumer,
  eventsMigration,
  type Relay,
  startConsumer,
  startRelay,
} from "../events/index.js";
import { type GrpcServer, type ServiceImplementation, type ServiceRegistration, startGrpcServer } from "../grpc/index.js";
import { createLogger, type Logger } from "../log.js";
import { setupTelemetry } from "../telemetry/index.js";
import { startMetricsSampler } from "./metrics-sampler.js";
import { watchDependencies } from "./dependency-watch.js";
import { FaultFlags } from "./fault-flags.js";
import { type MetricsServer, startMetricsServer } from "./metrics-server.js";
import type { RuntimeConfig } from "./service-config.js";
import { type Closer, Shutdown } from "./shutdown.js";

/** What a running service hands to its RPC handlers, consumers and workers. */
export interface ServiceDeps {
  orm: Database;
  bus: EventBus;
  logger: Logger;
  /** Runtime fault flags of the namespace (simulated provider faults, paused consumers). */
  faults: FaultFlags;
}

/** A durable consumer of one event type, started once the database and bus are up. */
export interface ConsumerSpec {
  readonly consumer: string;
  start(deps: ServiceDeps): Promise<EventConsumer>;
}

type ConsumerTuning = Pick<ConsumerOptions<DescMessage>, "maxDeliver" | "backoffMs" | "concurrency" | "lingerMs" | "startSequence">;
type EventConsumerTuning<Desc extends DescMessage> = ConsumerTuning & Pick<ConsumerOptions<Desc>, "beforeBatch">;

/** Declares that durable consumer `consumer` handles `event` with `handler`. */
export function consume<Desc extends DescMessage>(
  event: Desc,
  consumer: string,
  handler: EventHandler<Desc>,
  tuning: EventConsumerTuning<Desc> = {},
): ConsumerSpec {
  return {
    consumer,
    start: ({ orm, bus, logger, faults }) =>
      startConsumer({ orm, js: bus.js, jsm: bus.jsm, names: bus.names, consumer, event, handler, logger, pause: faults.consumerPause(consumer), ...tuning }),
  };
}

/** Declares that durable consumer `consumer` applies batches of the `events` types with `handler`, set based. */
export function consumeBatches(events: readonly DescMessage[], consumer: string, handler: BatchHandler, tuning: ConsumerTuning = {}): ConsumerSpec {
  return {
    consumer,
    start: ({ orm, bus, logger, faults }) =>
      startBatchConsumer({
        orm,
        js: bus.js,
        jsm: bus.jsm,
        names: bus.names,
        consumer,
        events,
        handler,
        logger,
        pause: faults.consumerPause(consumer),
        ...tuning,
      }),
  };
}

/** Pairs a generated service with its handlers, type-checked, for `ServiceParts.rpc`. */
export function serve<S extends DescService>(service: S, implementation: ServiceImplementation<S>): ServiceRegistration<DescService> {
  return { service, implementation } as unknown as ServiceRegistration<DescService>;
}

/** Something that runs in the background (a sweeper) and stops on shutdown. */
export interface Worker {
  stop(): Promise<void>;
}

/** The parts that make up one service; `startService` wires them the same way for all six. */
export interface ServiceParts {
  name: string;
  entities: EntitySchema<any, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any -- schemas of unrelated entities
  migrations: MigrationObject[];
  rpc(deps: ServiceDeps): ServiceRegistration<DescService>[];
  consumers?(deps: ServiceDeps): ConsumerSpec[];
  workers?(deps: ServiceDeps): Worker[];
  /**
   * Closed first on shutdown, before the gRPC drain: what holds RPC streams open (order's
   * WatchOrder listener), so that open streams end at once instead of holding up the drain for
   * its whole grace period.
   */
  closeBeforeDrain?: readonly Closer[];
  /**
   * What the service built around startService (upstream clients, object stores, circuit
   * breakers): closed after everything else stopped, the last listed first, each once and also
   * when the start fails. Closing it any earlier would fail the RPCs and events still draining.
   */
  closeAfterStop?: readonly Closer[];
}

export interface RunningService extends ServiceDeps {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly grpc: GrpcServer;
  /**
   * Ends streams (`closeBeforeDrain`), drains RPCs, stops consumers and workers, flushes the
   * outbox relay, closes connections, then closes `closeAfterStop`. Idempotent.
   */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Keep spans in memory instead of exporting them (tests). */
  inMemoryTelemetry?: boolean;
  /** Grace period for in-flight RPCs on stop (default 10 s). */
  drainMs?: number;
  /** The fault flags to follow (created here if absent); pass one to hand it to providers built before the start. */
  faultFlags?: FaultFlags;
}

/**
 * Starts a service: telemetry, database with migrations (the shared outbox/processed_events
 * migration first), NATS streams, outbox relay, gRPC server (NOT_SERVING), consumers, workers,
 * metrics endpoint, and only then reports SERVING. If any step fails, what already started is
 * stopped again (and `closeAfterStop` closed) and the error is thrown.
 */
export async function startService(parts: ServiceParts, config: RuntimeConfig, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger(parts.name);
  // Filled as parts start; closed in the order of these phases whatever the start order was:
  // end streams and stop taking RPCs and events first, let background work finish, close
  // connections, and only then what the service built around startService.
  const shutdown = new Shutdown(["streams", "grpc", "consumers", "workers", "watch", "metrics", "relay", "bus", "orm", "resources"] as const, logger);
  for (const closer of parts.closeBeforeDrain ?? []) shutdown.add("streams", closer);
  for (const closer of parts.closeAfterStop ?? []) shutdown.add("resources", closer);

  try {
    setupTelemetry({ serviceName: parts.name, otlpEndpoint: config.otlpEndpoint, inMemory: options.inMemoryTelemetry });
    const orm = await openDatabase({ url: config.databaseUrl, entities: parts.entities, migrations: [eventsMigration, ...parts.migrations], logger });
    shutdown.add("orm", { name: "database", close: () => orm.close(true) });
    const names = config.eventsPrefix ? busNames(config.eventsPrefix) : DEFAULT_BUS_NAMES;
    const bus = await connectBus({ natsUrl: config.natsUrl, names, name: parts.name, streams: { replicas: config.streamReplicas ?? 1 } });
    shutdown.add("bus", { name: "NATS connection", close: () => bus.close() });
    const relay: Relay = startRelay({ orm, js: bus.js, names, logger });
    shutdown.add("relay", { name: "outbox relay", close: () => relay.stop() });
    const faults = options.faultFlags ?? new FaultFlags();
    await faults.watch(bus.nc, { eventsPrefix: config.eventsPrefix, replicas: config.streamReplicas, logger });
    shutdown.add("relay", { name: "fault flags", close: () => faults.stop() });
    const deps: ServiceDeps = { orm, bus, logger, faults };

    const grpc = await startGrpcServer({ host: config.grpcHost, port: config.grpcPort, services: parts.rpc(deps), logger });
    // SERVING only once everything started, and then only while the database and NATS answer.
    let started = false;
    let draining = false;
    shutdown.add("grpc", {
      name: "gRPC server",
      close: async () => {
        draining = true;
        grpc.health.setNotServing();
        await grpc.shutdown(options.drainMs ?? 10_000);
      },
    });
    const consumers = parts.consumers?.(deps) ?? [];
    for (const spec of consumers) {
      const consumer = await spec.start(deps);
      shutdown.add("consumers", { name: `consumer ${spec.consumer}`, close: () => consumer.stop() });
    }
    const sampler = startMetricsSampler({
      service: parts.name,
      orm,
      bus,
      consumers: consumers.map((spec) => spec.consumer),
      intervalMs: config.metricsSampleMs ?? 5_000,
      logger,
    });
    shutdown.add("workers", { name: "metrics sampler", close: () => sampler.stop() });
    for (const worker of parts.workers?.(deps) ?? []) shutdown.add("workers", { name: "worker", close: () => worker.stop() });
    const probe = databaseProbe(config.databaseUrl);
    const watch = watchDependencies(
      [
        { name: "database", check: () => probe.check() },
        { name: "nats", check: () => (bus.nc.isClosed() ? Promise.reject(new Error("connection closed")) : bus.nc.flush()) },
      ],
      {
        intervalMs: config.healthCheckIntervalMs ?? 2_000,
        logger,
        onChange: (failing) => {
          if (!started || draining) return;
          if (failing.length === 0) grpc.health.setServing();
          else grpc.health.setNotServing();
        },
      },
    );
    shutdown.add("watch", { name: "database probe", close: () => probe.close() });
    shutdown.add("watch", { name: "dependency watch", close: () => watch.stop() });
    const metrics: MetricsServer = await startMetricsServer({
      host: config.metricsHost,
      port: config.metricsPort,
      service: parts.name,
      ready: () => grpc.health.serving,
      details: () => (watch.failing.length > 0 ? { unreachable: [...watch.failing] } : {}),
    });
    shutdown.add("metrics", { name: "metrics server", close: () => metrics.close() });

    started = true;
    if (watch.failing.length === 0) grpc.health.setServing();
    logger.info({ grpc_port: grpc.port, metrics_port: metrics.port }, "service ready");
    let stopping: Promise<void> | undefined;
    return {
      ...deps,
      grpc,
      grpcPort: grpc.port,
      metricsPort: metrics.port,
      stop() {
        stopping ??= shutdown.close().then(() => logger.info("service stopped"));
        return stopping;
      },
    };
  } catch (error) {
    await shutdown.close();
    throw error;
  }
}
