import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DEFAULT_BUS_NAMES, type EventBusNames } from "./names.js";
import { ensureStreams, type StreamOptions } from "./streams.js";

/** A NATS connection with its JetStream clients and the names of the streams it uses. */
export interface EventBus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: EventBusNames;
  /** Drains the connection: pending publishes and acks are flushed, then it closes. */
  close(): Promise<void>;
}

export interface ConnectBusOptions {
  /** One URL or a comma-separated list (nats://host:4222). */
  natsUrl: string;
  /** Stream and subject names (default: production names). */
  names?: EventBusNames;
  /** Connection name shown by the server (e.g. the service name). */
  name: string;
  streams?: StreamOptions;
}

/**
 * Connects to NATS (reconnecting forever: a NATS restart must not stop a service) and makes
 * sure both streams exist with the expected configuration.
 */
export async function connectBus({ natsUrl, names = DEFAULT_BUS_NAMES, name, streams }: ConnectBusOptions): Promise<EventBus> {
  // Every server of the list is a seed: the client connects to one of them (in random order, so
  // replicas spread over the cluster), learns the others from the cluster's INFO, and fails
  // over to any of them when its server goes away.
  // noAsyncTraces: without it the client builds an Error (a stack capture) for every request,
  // each JetStream publish and pull included, in case it fails; profiles of the saga showed it.
  const nc = await connect({ servers: natsServers(natsUrl), name, maxReconnectAttempts: -1, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreamsPatiently(jsm, names, streams);
    return { nc, js: jetstream(nc), jsm, names, close: () => nc.drain() };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/**
 * In a cluster, creating a replicated stream means electing its raft group, and while nodes
 * start, restart or fail over that can outlast one JetStream API timeout, more so when every
 * replica of every service creates the streams at once. A timed-out request may still have
 * succeeded, and ensureStreams is idempotent: ask again, up to `patienceMs`.
 */
async function ensureStreamsPatiently(jsm: JetStreamManager, names: EventBusNames, streams: StreamOptions | undefined, patienceMs = 60_000): Promise<void> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      return await ensureStreams(jsm, names, streams);
    } catch (error) {
      const transient = error instanceof Error && (error.name === "TimeoutError" || /timeout|no responders|leader/i.test(error.message));
      if (!transient || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** The servers of a NATS_URL value: one URL or a comma-separated list (blanks ignored). */
export function natsServers(natsUrl: string): string[] {
  const servers = natsUrl
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  if (servers.length === 0) throw new Error("no NATS server URL given");
  return servers;
}
