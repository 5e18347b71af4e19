import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "../log.js";

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
