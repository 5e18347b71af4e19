import type { DescService } from "@bufbuild/protobuf";
import { Server, ServerCredentials, type ServerOptions } from "@grpc/grpc-js";
import type { Logger } from "../log.js";
import { Health, type ServerHealth } from "./health.js";
import { createReflection } from "./reflection.js";
import { createHandlers } from "./server-handlers.js";
import { toServiceDefinition } from "./service-definition.js";
import { MAX_MESSAGE_BYTES } from "./limits.js";
import type { ServiceImplementation } from "./types.js";

/** A generated service and its handlers. */
export interface ServiceRegistration<S extends DescService = DescService> {
  service: S;
  implementation: ServiceImplementation<S>;
}

export interface GrpcServerOptions<T extends readonly DescService[]> {
  /** Interface to listen on (an IPv4 or IPv6 address or a host name); default loopback only. */
  host?: string;
  /** Port to listen on; 0 picks a free one (see `GrpcServer.port`). */
  port: number;
  /** Each entry is type-checked against its own service. */
  services: { [K in keyof T]: ServiceRegistration<T[K]> };
  logger: Logger;
  /** Serve grpc.reflection (default true). */
  reflection?: boolean;
  /** grpc-js server options, merged over the defaults below. */
  serverOptions?: ServerOptions;
}

export interface GrpcServer {
  /** The port actually bound. */
  readonly port: number;
  /** grpc.health.v1 status; NOT_SERVING until the service calls `health.setServing()`. */
  readonly health: ServerHealth;
  /**
   * Reports NOT_SERVING, stops accepting connections, lets running calls finish for up to
   * `graceMs`, then cancels what is left (long server streams). Safe to call more than once.
   * To let load balancers notice before connections close, call `health.setNotServing()`
   * and wait a few seconds before calling this.
   */
  shutdown(graceMs?: number): Promise<void>;
}

const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  // Ping connections that stay open without traffic, so the server drops peers that vanished
  // (a killed pod, a dropped NAT entry) instead of holding their streams forever.
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
};

const DEFAULT_GRACE_MS = 10_000;

/**
 * Starts a grpc-js server with the given services, grpc.health.v1 (all NOT_SERVING at first)
 * and server reflection. Every handler runs in a SERVER span continued from the caller's trace,
 * with the caller's correlation id, and errors other than ServiceError reach the caller only as
 * INTERNAL "internal error". Requests that do not decode, or carry a string PostgreSQL cannot
 * store (NUL, unpaired surrogate), are INVALID_ARGUMENT before any handler runs.
 */
export async function startGrpcServer<const T extends readonly DescService[]>(options: GrpcServerOptions<T>): Promise<GrpcServer> {
  const { logger } = options;
  const registrations = options.services as readonly ServiceRegistration[];
  const server = new Server({ ...DEFAULT_SERVER_OPTIONS, ...options.serverOptions });

  const services = registrations.map((registration) => registration.service);
  for (const { service, implementation } of registrations) {
    server.addService(toServiceDefinition(service), createHandlers(service, implementation, logger));
  }
  const health = new Health(services.map((service) => service.typeName));
  health.addToServer(server);
  if (options.reflection !== false) createReflection(services).addToServer(server);

  const address = hostPort(options.host ?? "127.0.0.1", options.port);
  let port: number;
  try {
    port = await bind(server, address);
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  logger.info({ address, port, services: services.map((service) => service.typeName) }, "grpc server listening");

  let closing: Promise<void> | undefined;
  return {
    port,
    health,
    shutdown(graceMs = DEFAULT_GRACE_MS) {
      closing ??= drain(server, health, graceMs, logger);
      return closing;
    },
  };
}

/** `host:port`, with an IPv6 literal in brackets (`[::]:50051`). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

async function drain(server: Server, health: Health, graceMs: number, logger: Logger): Promise<void> {
  // First, so Watch streams (load balancers, probes) hear it before their connection goes.
  health.setNotServing();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      logger.warn({ graceMs }, "grpc calls still running after the grace period; cancelling them");
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  logger.info("grpc server stopped");
}
