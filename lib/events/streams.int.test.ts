import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { jetstreamManager, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { testInfra, uniqueId } from "../../test/harness/index.js";
import { busNames } from "./names.js";
import { ensureStreams } from "./streams.js";

let nc: NatsConnection;
let jsm: JetStreamManager;
const names = busNames(uniqueId("st"));

beforeAll(async () => {
  nc = await connect({ servers: testInfra().natsUrl });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await Promise.allSettled([jsm.streams.delete(names.stream), jsm.streams.delete(names.dlqStream)]);
  await nc.drain();
});

it("creates both streams, and updates them when called again with other settings", async () => {
  await ensureStreams(jsm, names);
  const events = await jsm.streams.info(names.stream);
  expect(events.config).toMatchObject({
    subjects: [`${names.subjectRoot}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: 120_000_000_000,
    num_replicas: 1,
  });
  const dlq = await jsm.streams.info(names.dlqStream);
  expect(dlq.config).toMatchObject({ subjects: [`${names.dlqSubjectRoot}.>`], storage: StorageType.File });

  await ensureStreams(jsm, names, { duplicateWindowMs: 60_000 });
  expect((await jsm.streams.info(names.stream)).config.duplicate_window).toBe(60_000_000_000);
  // Idempotent: the same call again changes nothing and does not fail.
  await ensureStreams(jsm, names, { duplicateWindowMs: 60_000 });
  expect((await jsm.streams.info(names.dlqStream)).config.duplicate_window).toBe(60_000_000_000);
});
