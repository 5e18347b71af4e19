import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { AckPolicy, DeliverPolicy, jetstream, type JetStreamClient, jetstreamManager, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { testInfra, uniqueId } from "../../test/harness/index.js";
import { createLogger } from "../log.js";
import { busNames } from "./names.js";
import { afterRetiredConsumers, retireConsumers } from "./retire-consumers.js";
import { ensureStreams } from "./streams.js";

let nc: NatsConnection;
let jsm: JetStreamManager;
let js: JetStreamClient;
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

describe("afterRetiredConsumers", () => {
  const ns = busNames(uniqueId("rf"));
  const start = (consumers: string[]) => afterRetiredConsumers(consumers)({ jsm, stream: ns.stream });
  const subject = (name: string) => `${ns.subjectRoot}.test.${name}`;

  beforeAll(async () => {
    js = jetstream(nc);
    await ensureStreams(jsm, ns);
  });

  afterAll(async () => {
    await Promise.allSettled([jsm.streams.delete(ns.stream), jsm.streams.delete(ns.dlqStream)]);
  });

  /** Pulls `count` messages of durable `consumer` and settles each as `settle` says. */
  async function take(consumer: string, count: number, settle: (msg: JsMsg) => void): Promise<number[]> {
    const pull = await js.consumers.get(ns.stream, consumer);
    const taken: JsMsg[] = [];
    for await (const msg of await pull.fetch({ max_messages: count, expires: 5_000 })) {
      taken.push(msg);
      if (taken.length === count) break;
    }
    // Settled once all are in hand: an ack the server handles while the rest are still being
    // delivered could leave a lower ack floor. Flushed so that the floors read next include them.
    taken.forEach(settle);
    await nc.flush();
    return taken.map((msg) => msg.seq);
  }

  it("is undefined when none of the retired consumers exists (a fresh install: the whole stream)", async () => {
    await js.publish(subject("a"));
    expect(await start(["old-none-1", "old-none-2"])).toBeUndefined();
  });

  it("is right after the lowest point every retired consumer has settled, whatever their subjects", async () => {
    const first = (await jsm.streams.info(ns.stream)).state.last_seq + 1;
    for (const name of ["a", "b", "c"]) {
      await jsm.consumers.add(ns.stream, {
        durable_name: `old-${name}`,
        ack_policy: AckPolicy.Explicit,
        filter_subject: subject(name),
        opt_start_seq: first,
        deliver_policy: DeliverPolicy.StartSequence,
      });
    }
    for (const name of ["a", "b", "b", "a", "a"]) await js.publish(subject(name));
    // old-a dead-letters its first message (term) and acks the others: it has settled everything.
    expect(await take("old-a", 3, (msg) => (msg.seq === first ? msg.term() : msg.ack()))).toEqual([first, first + 3, first + 4]);
    // old-b acks its first and still holds the second: that one must be delivered again.
    expect(await take("old-b", 2, (msg) => msg.seq === first + 1 && msg.ack())).toEqual([first + 1, first + 2]);
    // old-c never had a message (ack floor 0): it holds nothing back.
    expect(await start(["old-a", "old-b", "old-c", "old-gone"])).toBe(first + 2);
    // Without old-b, nothing is left to deliver again.
    expect(await start(["old-a", "old-c"])).toBe(first + 5);
  });
});
