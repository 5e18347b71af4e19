import { fromJsonString } from "@bufbuild/protobuf";
import { type KV, Kvm, type KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import { ConsumerPauseSchema, Provider, type ProviderFault, ProviderFaultSchema } from "../../gen/shop/admin/v1/fault_pb.js";
import type { PauseSwitch } from "../events/pause.js";
import type { Logger } from "../log.js";

/** Simulated-provider settings a fault flag imposes. */
export interface ProviderOverride {
  failureRate: number;
  latencyMs: number;
}

export type ProviderName = "payment" | "email" | "sms";

const PROVIDER_NAMES: Record<ProviderName, Provider> = { payment: Provider.PAYMENT, email: Provider.EMAIL, sms: Provider.SMS };

/** KV bucket of a namespace's fault flags (one per EVENTS_PREFIX, like the streams). */
export function faultBucket(eventsPrefix?: string): string {
  return `${eventsPrefix ?? ""}fault_flags`;
}

/** Keys: `provider.<payment|email|sms>` (a ProviderFault) and `consumer.<name>` (a ConsumerPause), values proto JSON. */
export const faultKeys = {
  provider: (provider: Provider): string => `provider.${Provider[provider].toLowerCase()}`,
  consumer: (consumer: string): string => `consumer.${consumer}`,
};

/** Opens (creating if needed) the fault-flag bucket. */
export function openFaultBucket(nc: NatsConnection, eventsPrefix: string | undefined, replicas = 1): Promise<KV> {
  return new Kvm(nc).create(faultBucket(eventsPrefix), { history: 1, replicas });
}

/**
 * The fault flags as this process sees them: a watch on the namespace's KV bucket keeps them
 * current, so a flag set through the gateway reaches every replica of every service within
 * moments and survives restarts. Reads are synchronous and cheap (providers and consumer loops
 * ask on every call). Until `watch()` has been called, or while NATS is away, the last known
 * flags hold (none at first).
 */
export class FaultFlags {
  readonly #providers = new Map<Provider, ProviderFault>();
  readonly #paused = new Set<string>();
  readonly #pauseListeners = new Map<string, Set<() => void>>();
  #watcher?: QueuedIterator<KvWatchEntry>;
  #done?: Promise<void>;

  /** The override for a simulated provider, if a flag is set. */
  provider(name: ProviderName): ProviderOverride | undefined {
    const fault = this.#providers.get(PROVIDER_NAMES[name]);
    return fault ? { failureRate: fault.failureRate, latencyMs: fault.latencyMs } : undefined;
  }

  /** True while durable consumer `consumer` is paused. */
  isPaused(consumer: string): boolean {
    return this.#paused.has(consumer);
  }

  /** The pause switch of durable consumer `consumer`, for lib/events' consumer loop. */
  consumerPause(consumer: string): PauseSwitch {
    return {
      paused: () => this.#paused.has(consumer),
      onPause: (listener) => {
        const listeners = this.#pauseListeners.get(consumer) ?? new Set();
        this.#pauseListeners.set(consumer, listeners);
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
  }

  /** Starts following the bucket; resolves once the flags set so far are loaded. */
  async watch(nc: NatsConnection, options: { eventsPrefix?: string; replicas?: number; logger: Logger }): Promise<void> {
    const kv = await openFaultBucket(nc, options.eventsPrefix, options.replicas);
    const status = await kv.status();
    let pending = status.values;
    let loaded!: () => void;
    const initial = new Promise<void>((resolve) => (loaded = resolve));
    if (pending === 0) loaded();
    const watcher = await kv.watch({ key: ">" });
    this.#watcher = watcher;
    this.#done = (async () => {
      for await (const entry of watcher) {
        this.#apply(entry, options.logger);
        if (pending > 0 && --pending === 0) loaded();
        if (entry.delta === 0) loaded();
      }
    })().catch((error: unknown) => options.logger.warn({ err: error }, "fault flag watch ended"));
    // A bucket with deleted keys may count fewer entries than the watch replays: do not wait forever.
    await Promise.race([initial, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  }

  async stop(): Promise<void> {
    this.#watcher?.stop();
    await this.#done;
  }

  #apply(entry: KvWatchEntry, logger: Logger): void {
    const removed = entry.operation !== "PUT";
    try {
      if (entry.key.startsWith("provider.")) {
        const provider = Provider[entry.key.slice("provider.".length).toUpperCase() as keyof typeof Provider];
        if (provider === undefined) return;
        if (removed) this.#providers.delete(provider);
        else this.#providers.set(provider, fromJsonString(ProviderFaultSchema, entry.string()));
        logger.warn({ flag: entry.key, value: removed ? null : entry.string() }, removed ? "fault flag cleared" : "fault flag set");
      } else if (entry.key.startsWith("consumer.")) {
        const consumer = entry.key.slice("consumer.".length);
        const wasPaused = this.#paused.has(consumer);
        if (removed) this.#paused.delete(consumer);
        else this.#paused.add(fromJsonString(ConsumerPauseSchema, entry.string()).consumer || consumer);
        if (!wasPaused && this.#paused.has(consumer)) for (const listener of this.#pauseListeners.get(consumer) ?? []) listener();
        logger.warn({ consumer }, removed ? "consumer resumed by a fault flag" : "consumer paused by a fault flag");
      }
    } catch (error) {
      logger.warn({ err: error, flag: entry.key }, "ignoring an unreadable fault flag");
    }
  }
}
