import { Client as Channel, credentials, type ServiceError as CallError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { UPSTREAM_NAMES, type UpstreamName } from "./config.js";
import { circuitState, type Upstreams } from "./upstreams.js";

export type ServingStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "UNREACHABLE";

export interface UpstreamHealth {
  status: ServingStatus;
  /** The gateway's circuit breaker for this upstream. */
  circuit: "closed" | "open" | "half_open";
}

export interface HealthReport {
  status: "SERVING" | "NOT_SERVING";
  upstreams: Record<UpstreamName, UpstreamHealth>;
}

const check = healthService.Check;

/**
 * GET /health: asks every upstream's grpc.health.v1 Check (for the whole server) with a short
 * deadline, in parallel, and adds the state of the gateway's breaker for it. Results are
 * reused for `cacheMs`, so load balancers probing often do not multiply upstream traffic.
 */
export class HealthChecker {
  readonly #channels: Record<UpstreamName, Channel>;
  #cached?: { at: number; report: Promise<HealthReport> };

  constructor(
    addresses: Record<UpstreamName, string>,
    private readonly upstreams: Upstreams,
    private readonly options: { timeoutMs?: number; cacheMs?: number } = {},
  ) {
    this.#channels = Object.fromEntries(UPSTREAM_NAMES.map((name) => [name, new Channel(addresses[name], credentials.createInsecure())])) as Record<
      UpstreamName,
      Channel
    >;
  }

  report(): Promise<HealthReport> {
    const now = Date.now();
    if (this.#cached && now - this.#cached.at < (this.options.cacheMs ?? 1_000)) return this.#cached.report;
    const report = this.#collect();
    this.#cached = { at: now, report };
    return report;
  }

  close(): void {
    for (const channel of Object.values(this.#channels)) channel.close();
  }

  async #collect(): Promise<HealthReport> {
    const entries = await Promise.all(
      UPSTREAM_NAMES.map(async (name) => {
        const status = await this.#check(this.#channels[name]);
        return [name, { status, circuit: circuitState(this.upstreams[name]) }] as const;
      }),
    );
    const upstreams = Object.fromEntries(entries) as Record<UpstreamName, UpstreamHealth>;
    const serving = entries.every(([, health]) => health.status === "SERVING");
    return { status: serving ? "SERVING" : "NOT_SERVING", upstreams };
  }

  #check(channel: Channel): Promise<ServingStatus> {
    return new Promise((resolve) => {
      channel.makeUnaryRequest(
        check.path,
        (value: { service: string }) => check.requestSerialize(value),
        (bytes: Buffer) => check.responseDeserialize(bytes) as { status: string | number },
        { service: "" },
        { deadline: Date.now() + (this.options.timeoutMs ?? 1_000) },
        (error: CallError | null, response?: { status: string | number }) => {
          if (error) return resolve("UNREACHABLE");
          const status = response?.status;
          if (status === "SERVING" || status === 1) resolve("SERVING");
          else if (status === "NOT_SERVING" || status === 2) resolve("NOT_SERVING");
          else resolve("UNKNOWN");
        },
      );
    });
  }
}
