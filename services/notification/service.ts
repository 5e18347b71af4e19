import { NotificationService } from "../../gen/shop/notification/v1/notification_pb.js";
import { decimal, int, readConfig } from "../../lib/config.js";
import type { BreakerOptions } from "../../lib/grpc/index.js";
import {
  readRuntimeConfig,
  type RunningService,
  type RuntimeConfig,
  type ServiceDeps,
  type StartOptions,
  serve,
  startService,
} from "../../lib/runtime/index.js";
import { notificationConsumers } from "./consumers.js";
import { createDispatcher, type Dispatcher } from "./dispatcher.js";
import type { ChannelName } from "./domain/recipients.js";
import { entities } from "./entities.js";
import { Notifications } from "./migrations/0001-notifications.js";
import { PendingNotifications } from "./migrations/0002-pending-notifications.js";
import { NotificationTraceParent } from "./migrations/0003-trace-parent.js";
import { PendingStreamSequence } from "./migrations/0004-pending-stream-seq.js";
import type { MessageProvider } from "./providers/provider.js";
import { createSimulatedProvider } from "./providers/simulated.js";
import { notificationRpc } from "./rpc.js";

export interface NotificationConfig extends RuntimeConfig {
  /** Simulated provider latency per message (NOTIFY_LATENCY_MS, default 20). */
  latencyMs: number;
  /** Probability of a simulated transient provider failure, 0..1 (NOTIFY_FAILURE_RATE, default 0). */
  failureRate: number;
  /** Attempts per notification before it is FAILED (NOTIFY_MAX_ATTEMPTS, default 4). */
  maxAttempts: number;
  /** Wait after the first failed attempt, doubling after each further one (NOTIFY_RETRY_BASE_MS, default 1000). */
  retryBaseMs: number;
  /**
   * How often the dispatcher looks for due notifications when not woken (NOTIFY_POLL_MS, default
   * 1 s). A commit that queues a message wakes it at once; the poll only finds retries that fell
   * due and rows another replica queued, so it runs seldom to keep the idle mesh idle.
   */
  pollMs: number;
  /** Longest a provider call may take (NOTIFY_SEND_TIMEOUT_MS, default 10 s). */
  sendTimeoutMs: number;
  /** Circuit breaker tuning of each provider (code only; the lib/grpc defaults otherwise). */
  breaker?: BreakerOptions;
}

export function readNotificationConfig(env: NodeJS.ProcessEnv = process.env): NotificationConfig {
  return {
    ...readRuntimeConfig("notification", env),
    ...readConfig(
      {
        latencyMs: int("NOTIFY_LATENCY_MS", 20, { min: 0, max: 60_000 }),
        failureRate: decimal("NOTIFY_FAILURE_RATE", 0, { min: 0, max: 1 }),
        maxAttempts: int("NOTIFY_MAX_ATTEMPTS", 4, { min: 1, max: 100 }),
        retryBaseMs: int("NOTIFY_RETRY_BASE_MS", 1_000, { min: 1 }),
        pollMs: int("NOTIFY_POLL_MS", 1_000, { min: 10 }),
        sendTimeoutMs: int("NOTIFY_SEND_TIMEOUT_MS", 10_000, { min: 10 }),
      },
      env,
    ),
  };
}

export interface NotificationStartOptions extends StartOptions {
  /** Replaces the simulated providers (tests, or real gateways). */
  providers?: Partial<Record<ChannelName, MessageProvider>>;
  /** Random source of the simulated providers' failureRate. */
  random?: () => number;
}

export const migrations = [
  { name: "notification-0001-notifications", class: Notifications },
  { name: "notification-0002-pending-notifications", class: PendingNotifications },
  { name: "notification-0003-trace-parent", class: NotificationTraceParent },
  { name: "notification-0004-pending-stream-seq", class: PendingStreamSequence },
];

/** Starts the notification service: messages for the saga's customer-visible transitions, the dispatcher, the RPCs. */
export function start(config: NotificationConfig, options: NotificationStartOptions = {}): Promise<RunningService> {
  let dispatcher: Dispatcher | undefined;
  // One dispatcher per service, shared by SendNotification and the background worker.
  const dispatcherOf = (deps: ServiceDeps): Dispatcher => {
    if (dispatcher) return dispatcher;
    const simulated = (channel: ChannelName) =>
      createSimulatedProvider({
        channel,
        logger: deps.logger,
        latencyMs: config.latencyMs,
        failureRate: config.failureRate,
        random: options.random,
        faults: () => deps.faults.provider(channel === "EMAIL" ? "email" : "sms"),
      });
    dispatcher = createDispatcher(deps, {
      providers: { EMAIL: options.providers?.EMAIL ?? simulated("EMAIL"), SMS: options.providers?.SMS ?? simulated("SMS") },
      maxAttempts: config.maxAttempts,
      retryBaseMs: config.retryBaseMs,
      pollMs: config.pollMs,
      sendTimeoutMs: config.sendTimeoutMs,
      breaker: config.breaker,
    });
    return dispatcher;
  };
  return startService(
    {
      name: "notification",
      entities,
      migrations,
      rpc: (deps) => [serve(NotificationService, notificationRpc({ orm: deps.orm, dispatcher: dispatcherOf(deps) }))],
      consumers: (deps) => notificationConsumers({ logger: deps.logger, onQueued: (em) => dispatcherOf(deps).queuedIn(em) }),
      workers: (deps) => [dispatcherOf(deps).start()],
    },
    config,
    options,
  );
}
