import { create, fromJsonString, type MessageInitShape, toJsonString } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import {
  type ConsumerInfo,
  ConsumerInfoSchema,
  type ConsumerPause,
  ConsumerPauseSchema,
  type FaultService,
  type ListFaultsResponse,
  ListFaultsResponseSchema,
  Provider,
  type ProviderFault,
  ProviderFaultSchema,
} from "../gen/shop/admin/v1/fault_pb.js";
import { Code, notFound, ServiceError } from "../lib/errors.js";
import { busNames } from "../lib/events/names.js";
import type { Logger } from "../lib/log.js";
import { faultKeys, openFaultBucket } from "../lib/runtime/fault-flags.js";
import type { Call } from "./api/index.js";
import { GatewayError, invalid, permissionDenied } from "./errors.js";
import type { LazyNats } from "./nats-connection.js";
import { UPSTREAM_SERVICES } from "./upstreams.js";

const MAX_LATENCY_MS = 60_000;
const CONSUMER_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The admin side of the fault flags (lib/runtime/fault-flags.ts reads them in the services):
 * validates a change and writes it to the namespace's KV bucket, where every replica's watch
 * picks it up. Consumers are checked against the durable consumers of the event stream, so a
 * typo is NOT_FOUND rather than a flag nobody reads, and the list names those same consumers:
 * JetStream, where every service creates its own, is the one place that knows them all without
 * the gateway importing the services.
 */
export class FaultAdmin {
  #kv?: Promise<KV>;

  constructor(private readonly options: { nats?: LazyNats; eventsPrefix?: string; replicas?: number; logger: Logger }) {}

  async list(): Promise<ListFaultsResponse> {
    const [kv, consumers] = await Promise.all([this.#bucket(), this.#consumers()]);
    const response = create(ListFaultsResponseSchema, { consumers });
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    for (const key of keys.sort()) {
      const entry = await kv.get(key);
      if (!entry || entry.operation !== "PUT") continue;
      if (key.startsWith("provider.")) response.providers.push(fromJsonString(ProviderFaultSchema, entry.string()));
      else if (key.startsWith("consumer.")) response.pausedConsumers.push(fromJsonString(ConsumerPauseSchema, entry.string()));
    }
    return response;
  }

  async setProvider(request: { provider: Provider; failureRate: number; latencyMs: number }): Promise<ProviderFault> {
    const provider = providerOf(request.provider);
    if (!(request.failureRate >= 0 && request.failureRate <= 1)) invalidField("failure_rate", `must be from 0 to 1, got ${request.failureRate}`);
    if (!Number.isInteger(request.latencyMs) || request.latencyMs < 0 || request.latencyMs > MAX_LATENCY_MS) {
      invalidField("latency_ms", `must be an integer from 0 to ${MAX_LATENCY_MS}, got ${request.latencyMs}`);
    }
    const fault = create(ProviderFaultSchema, { provider, failureRate: request.failureRate, latencyMs: request.latencyMs, updatedAt: timestampNow() });
    await this.#put(faultKeys.provider(provider), toJsonString(ProviderFaultSchema, fault));
    this.options.logger.warn({ provider: Provider[provider], failure_rate: fault.failureRate, latency_ms: fault.latencyMs }, "fault flag set");
    return fault;
  }

  async clearProvider(provider: Provider): Promise<void> {
    await this.#delete(faultKeys.provider(providerOf(provider)));
  }

  async pause(consumer: string): Promise<ConsumerPause> {
    await this.#checkConsumer(consumer);
    const pause = create(ConsumerPauseSchema, { consumer, pausedAt: timestampNow() });
    await this.#put(faultKeys.consumer(consumer), toJsonString(ConsumerPauseSchema, pause));
    this.options.logger.warn({ consumer }, "consumer paused");
    return pause;
  }

  async resume(consumer: string): Promise<void> {
    await this.#checkConsumer(consumer);
    await this.#delete(faultKeys.consumer(consumer));
  }

  async reset(): Promise<void> {
    const kv = await this.#bucket();
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    await Promise.all(keys.map((key) => this.#delete(key)));
    this.options.logger.warn({ flags: keys.length }, "fault flags reset");
  }

  /** The durable consumers of the event stream, by name; none before any service created the stream. */
  async #consumers(): Promise<ConsumerInfo[]> {
    const nats = this.#nats();
    const consumers: ConsumerInfo[] = [];
    try {
      const jsm = await jetstreamManager(await nats.get());
      for await (const info of jsm.consumers.list(busNames(this.options.eventsPrefix).stream)) {
        const name = info.config.durable_name;
        // Ephemeral consumers (a test's, a CLI's) have no name to pause by.
        if (name) consumers.push(create(ConsumerInfoSchema, { name, service: serviceOf(name), description: info.config.description ?? "" }));
      }
    } catch (error) {
      if (/not found/i.test(String((error as Error)?.message))) return [];
      throw unavailable(error, this.options.logger);
    }
    return consumers.sort((a, b) => a.name.localeCompare(b.name));
  }

  async #checkConsumer(consumer: string): Promise<void> {
    if (!CONSUMER_NAME.test(consumer)) invalidField("consumer", "must be a durable consumer name ([A-Za-z0-9_-], at most 128 characters)");
    const nc = await this.#nats().get();
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.consumers.info(busNames(this.options.eventsPrefix).stream, consumer);
    } catch (error) {
      if (/not found/i.test(String((error as Error)?.message))) throw notFound("consumer", consumer);
      throw unavailable(error, this.options.logger);
    }
  }

  async #put(key: string, value: string): Promise<void> {
    const kv = await this.#bucket();
    await kv.put(key, value).catch((error: unknown) => {
      throw unavailable(error, this.options.logger);
    });
  }

  async #delete(key: string): Promise<void> {
    const kv = await this.#bucket();
    await kv.delete(key).catch((error: unknown) => {
      throw unavailable(error, this.options.logger);
    });
  }

  #nats(): LazyNats {
    if (!this.options.nats) throw new GatewayError(Code.UNAVAILABLE, "fault flags need NATS (NATS_URL is not set)", { httpStatus: 503 });
    return this.options.nats;
  }

  #bucket(): Promise<KV> {
    this.#kv ??= (async () => openFaultBucket(await this.#nats().get(), this.options.eventsPrefix, this.options.replicas))();
    return this.#kv.catch((error: unknown) => {
      this.#kv = undefined;
      throw unavailable(error, this.options.logger);
    });
  }
}

function invalidField(field: string, problem: string): never {
  throw invalid(field, problem);
}

/** The service of a durable consumer named `<service>-<purpose>` (lib/events), or "" for another name. */
export function serviceOf(consumer: string): string {
  const prefix = consumer.split("-", 1)[0];
  return Object.hasOwn(UPSTREAM_SERVICES, prefix) ? prefix : "";
}

function providerOf(provider: Provider): Provider {
  if (provider === Provider.PAYMENT || provider === Provider.EMAIL || provider === Provider.SMS) return provider;
  throw invalid("provider", "must be PROVIDER_PAYMENT, PROVIDER_EMAIL or PROVIDER_SMS");
}

function unavailable(error: unknown, logger: Logger): ServiceError {
  if (error instanceof ServiceError) return error;
  logger.warn({ err: error }, "fault flag store failed");
  return new GatewayError(Code.UNAVAILABLE, "the fault flag store (NATS) is unavailable; retry later", { retryAfterSeconds: 1 });
}

/** FaultService for the Connect / gRPC / gRPC-Web side: the same operations, admins only. */
export function faultApi(admin: FaultAdmin) {
  const adminOnly = (call: Call, rpc: string) => {
    if (!call.principal.admin) throw permissionDenied(`shop.admin.v1.FaultService/${rpc} requires role admin`);
  };
  type In<M extends keyof typeof FaultService.method> = MessageInitShape<(typeof FaultService.method)[M]["input"]>;
  return {
    async listFaults(_input: In<"listFaults">, call: Call) {
      adminOnly(call, "ListFaults");
      return admin.list();
    },
    async setProviderFault(input: In<"setProviderFault">, call: Call) {
      adminOnly(call, "SetProviderFault");
      return {
        fault: await admin.setProvider({
          provider: input.provider ?? Provider.UNSPECIFIED,
          failureRate: input.failureRate ?? 0,
          latencyMs: input.latencyMs ?? 0,
        }),
      };
    },
    async clearProviderFault(input: In<"clearProviderFault">, call: Call) {
      adminOnly(call, "ClearProviderFault");
      await admin.clearProvider(input.provider ?? Provider.UNSPECIFIED);
      return {};
    },
    async pauseConsumer(input: In<"pauseConsumer">, call: Call) {
      adminOnly(call, "PauseConsumer");
      return { pause: await admin.pause(input.consumer ?? "") };
    },
    async resumeConsumer(input: In<"resumeConsumer">, call: Call) {
      adminOnly(call, "ResumeConsumer");
      await admin.resume(input.consumer ?? "");
      return {};
    },
    async resetFaults(_input: In<"resetFaults">, call: Call) {
      adminOnly(call, "ResetFaults");
      await admin.reset();
      return {};
    },
  };
}
