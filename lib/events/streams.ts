import {
  DiscardPolicy,
  type JetStreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { EventBusNames } from "./names.js";

export interface StreamOptions {
  /** Stream replicas: 1 locally, 3 in Kubernetes. */
  replicas?: number;
  /** Window in which a repeated Nats-Msg-Id is dropped; must outlast a relay restart. */
  duplicateWindowMs?: number;
}

/**
 * Creates or updates the event stream and the dead-letter stream (idempotent; every process
 * calls it at start). Both use file storage and limits retention: events stay available to
 * every durable consumer, whenever it is created, and dead letters stay until an operator
 * replays or discards them. Their subjects never overlap: `<root>.>` and `<dlqRoot>.>`.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: EventBusNames,
  { replicas = 1, duplicateWindowMs = 120_000 }: StreamOptions = {},
): Promise<void> {
  const common = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    duplicate_window: nanos(duplicateWindowMs),
  };
  await upsertStream(jsm, {
    ...common,
    name: names.stream,
    subjects: [`${names.subjectRoot}.>`],
    description: "ordermesh domain events (protobuf, shop.events.v1)",
  });
  await upsertStream(jsm, {
    ...common,
    name: names.dlqStream,
    subjects: [`${names.dlqSubjectRoot}.>`],
    description: "ordermesh dead letters: events a consumer could not handle",
  });
}

async function upsertStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    // Two processes may race here; adding an identical config twice is accepted by the server.
    await jsm.streams.add(config);
    return;
  }
  const { name, storage: _storage, retention: _retention, ...updatable } = config;
  await jsm.streams.update(name, updatable);
}
