import { create, toJsonString } from "@bufbuild/protobuf";
import { ConsumerPauseSchema } from "../../gen/shop/admin/v1/fault_pb.js";
import type { EventBus } from "../../lib/events/index.js";
import { faultKeys, openFaultBucket } from "../../lib/runtime/fault-flags.js";
import type { ServiceDeps } from "../../lib/runtime/index.js";
import { waitFor } from "./index.js";

/**
 * Runs `publish` while durable consumer `consumer` of `service` pulls nothing, then lets it go:
 * what was published reaches it together, in one pull. Resolves with what `publish` returned
 * once the consumer has settled everything, so a test can look at the outcome straight away.
 * One pull is usually one batch, but on a loaded machine its messages can arrive in two reads
 * and make two batches: assert fewer transactions than events, not exactly one.
 *
 * The pause alone is not enough: it ends the service's waiting pull, but until the server has
 * that unsubscribe it may still hand the pull the first event published. So this waits for
 * the server, and fails loudly if anything published was delivered during the hold.
 */
export async function asOneDelivery<T>(
  runtime: { bus: EventBus; eventsPrefix: string },
  service: Pick<ServiceDeps, "bus" | "faults">,
  consumer: string,
  publish: () => Promise<T>,
): Promise<T> {
  const { bus } = runtime;
  const info = () => bus.jsm.consumers.info(bus.names.stream, consumer);
  const kv = await openFaultBucket(bus.nc, runtime.eventsPrefix);
  await kv.put(faultKeys.consumer(consumer), toJsonString(ConsumerPauseSchema, create(ConsumerPauseSchema, { consumer })));
  let published: T;
  try {
    await waitFor(() => service.faults.isPaused(consumer), { message: `${consumer} paused` });
    await service.bus.nc.flush();
    const delivered = (await info()).delivered.stream_seq;
    published = await publish();
    const after = (await info()).delivered.stream_seq;
    if (after !== delivered) throw new Error(`${consumer} was delivered stream sequence ${after} while paused (at ${delivered} before)`);
  } finally {
    await kv.delete(faultKeys.consumer(consumer));
  }
  await waitFor(() => !service.faults.isPaused(consumer), { message: `${consumer} resumed` });
  await waitFor(
    async () => {
      const { num_pending, num_ack_pending } = await info();
      return num_pending === 0 && num_ack_pending === 0;
    },
    // A failed batch is applied again one event at a time: seconds on a loaded machine.
    { message: `${consumer} to settle`, timeoutMs: 20_000 },
  );
  return published;
}
