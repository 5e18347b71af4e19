import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { AckPolicy, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { testInfra, uniqueId } from "../../test/harness/index.js";
import { createLogger } from "../log.js";
import { busNames } from "./names.js";
import { retireConsumers } from "./retire-consumers.js";
import { ensureStreams } from "./streams.js";

let nc: NatsConnection;
let jsm: JetStreamManager;
const names = busNames(uniqueId("rc"));
const logger = createLogger("test", { level: "silent" });

beforeAll(async () => {
  nc = await connect({ servers: testInfra().natsUrl });
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, names);
});

afterAll(async () => {
  await Promise.allSettled([jsm.streams.delete(names.stream), jsm.streams.delete(names.dlqStream)]);
  await nc.drain();
});

async function consumerNames(): Promise<string[]> {
  const found: string[] = [];
  for await (const info of jsm.consumers.list(names.stream)) found.push(info.name);
  return found.sort();
}

it("deletes the named durable consumers, leaves the others, and is fine with ones already gone", async () => {
  for (const name of ["svc-old-a", "svc-old-b", "svc-current"]) {
    await jsm.consumers.add(names.stream, { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: `${names.subjectRoot}.>` });
  }
  const retired = ["svc-old-a", "svc-old-b", "svc-never-existed"];
  expect(await retireConsumers({ jsm, stream: names.stream, consumers: retired, logger })).toEqual(["svc-old-a", "svc-old-b"]);
  expect(await consumerNames()).toEqual(["svc-current"]);
  // Every later start calls it again: nothing left to delete, nothing fails.
  expect(await retireConsumers({ jsm, stream: names.stream, consumers: retired, logger })).toEqual([]);
  expect(await consumerNames()).toEqual(["svc-current"]);
});

it("reports a failure other than a missing consumer", async () => {
  await expect(retireConsumers({ jsm, stream: `${names.stream}_missing`, consumers: ["svc-old-a"], logger })).rejects.toThrow();
});
