import { type ConsumerInfo, JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "../log.js";
import type { StartSequence } from "./consumer.js";

export interface RetireConsumersOptions {
  jsm: JetStreamManager;
  /** The stream the consumers were created on. */
  stream: string;
  /** Durable names the service no longer uses. */
  consumers: readonly string[];
  logger: Logger;
}

/**
 * Deletes durable consumers a service no longer uses. A durable consumer outlives the code that
 * created it: after a deploy that renamed or merged consumers, the old ones would keep
 * collecting every new message unacknowledged (and keep the stream's interest in them). Safe to
 * call at every start: one that is already gone is fine. Returns the names actually deleted.
 * Throws on any other failure (the caller decides whether that stops it).
 */
export async function retireConsumers({ jsm, stream, consumers, logger }: RetireConsumersOptions): Promise<string[]> {
  const deleted: string[] = [];
  for (const consumer of consumers) {
    try {
      await jsm.consumers.delete(stream, consumer);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) continue;
      throw error;
    }
    deleted.push(consumer);
    logger.info({ consumer, stream }, "retired durable consumer deleted");
  }
  return deleted;
}

/**
 * The `startSequence` of a consumer that replaces `consumers` (create it with this, then retire
 * them): right after the lowest stream sequence up to which every one of them has settled what
 * it takes, so that the replacement neither replays what they applied or dead-lettered nor skips
 * what they left. Undefined when none of them exists (a fresh install: the whole stream).
 *
 * The old consumers filtered different subjects, so the replacement is also delivered events
 * past that point that one of them had already applied: it must be idempotent for them beyond its
 * own processed_events (which the old ones did not share).
 */
export function afterRetiredConsumers(consumers: readonly string[]): StartSequence {
  return async ({ jsm, stream }) => {
    // Read before the consumers: one that is idle afterwards has settled everything up to here.
    const { last_seq: lastSeq } = (await jsm.streams.info(stream)).state;
    let floor: number | undefined;
    for (const consumer of consumers) {
      const info = await consumerInfo(jsm, stream, consumer);
      if (info) floor = Math.min(floor ?? Infinity, settledThrough(info, lastSeq));
    }
    return floor === undefined ? undefined : floor + 1;
  };
}

/**
 * The stream sequence up to which `info`'s consumer has acknowledged or given up on every message
 * it takes. Its ack floor, unless it is idle: the floor only moves when a message is acked, so a
 * consumer whose subject has had no message for a while (or ever: then it is 0) would otherwise
 * hold the replacement back to the start of the stream.
 */
function settledThrough(info: ConsumerInfo, lastSeq: number): number {
  const idle = info.num_pending === 0 && info.num_ack_pending === 0;
  return idle ? Math.max(info.ack_floor.stream_seq, lastSeq) : info.ack_floor.stream_seq;
}

async function consumerInfo(jsm: JetStreamManager, stream: string, consumer: string): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, consumer);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
    throw error;
  }
}
