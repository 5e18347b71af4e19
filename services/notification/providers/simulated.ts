import { setTimeout as sleep } from "node:timers/promises";
import { uuidv7 } from "../../../lib/ids.js";
import type { Logger } from "../../../lib/log.js";
import { type ChannelName, maskRecipient } from "../domain/recipients.js";
import { type MessageProvider, type OutgoingMessage, permanentFailure, transientFailure } from "./provider.js";

/**
 * Simulated e-mail and SMS providers: they "send" by writing a log line (recipient masked, no
 * body), after `latencyMs`, and fail at random with probability `failureRate` (a transient
 * failure). Some recipients behave the same way every time, so tests and demos can inject faults:
 *
 * | outcome | EMAIL recipient | SMS number ends in |
 * |---|---|---|
 * | transient failure, every attempt | `*@fail.example` | `99990` |
 * | permanent failure (refused) | `*@bounce.example` | `99991` |
 * | transient failure on the first `flakyFailures` (2) attempts of a message, then accepted | `*@flaky.example` | `99992` |
 *
 * (`.example` is reserved for documentation, so no real address can hit these by accident.)
 */

export type SimulatedBehaviour = "accept" | "transient" | "permanent" | "flaky";

/** How the simulator treats `recipient` on `channel` (before random failures). */
export function simulatedBehaviour(channel: ChannelName, recipient: string): SimulatedBehaviour {
  if (channel === "EMAIL") {
    const domain = recipient.slice(recipient.lastIndexOf("@") + 1).toLowerCase();
    if (domain === "fail.example") return "transient";
    if (domain === "bounce.example") return "permanent";
    if (domain === "flaky.example") return "flaky";
    return "accept";
  }
  if (recipient.endsWith("99990")) return "transient";
  if (recipient.endsWith("99991")) return "permanent";
  if (recipient.endsWith("99992")) return "flaky";
  return "accept";
}

export interface SimulatedProviderOptions {
  channel: ChannelName;
  logger: Logger;
  /** Time one send takes (default 0). */
  latencyMs?: number;
  /** Probability in [0, 1] that a send fails transiently (default 0). */
  failureRate?: number;
  /** Random source in [0, 1) for failureRate (default Math.random); inject for determinism. */
  random?: () => number;
  /** Attempts a flaky recipient fails before one is accepted (default 2). */
  flakyFailures?: number;
  /** Runtime fault flags: when this returns a value, its failure rate and latency replace the configured ones. */
  faults?: () => { failureRate: number; latencyMs: number } | undefined;
}

/** Messages remembered for flaky recipients; the oldest are forgotten past this. */
const MAX_TRACKED = 10_000;

export function createSimulatedProvider(options: SimulatedProviderOptions): MessageProvider {
  const { channel, random = Math.random, flakyFailures = 2, faults = () => undefined } = options;
  const configured = { latencyMs: options.latencyMs ?? 0, failureRate: options.failureRate ?? 0 };
  if (!(configured.failureRate >= 0 && configured.failureRate <= 1)) throw new Error(`failureRate must be between 0 and 1, got ${configured.failureRate}`);
  const logger = options.logger.child({ component: `${channel.toLowerCase()}-provider`, simulated: true });
  const name = channel === "EMAIL" ? "e-mail provider" : "SMS gateway";
  // Failed attempts per idempotency key, for flaky recipients.
  const failures = new Map<string, number>();

  return {
    channel,
    async send(message: OutgoingMessage) {
      const { latencyMs, failureRate } = faults() ?? configured;
      if (latencyMs > 0) await sleep(latencyMs);
      const recipient = maskRecipient(message.recipient);
      const behaviour = simulatedBehaviour(channel, message.recipient);
      if (behaviour === "permanent") {
        throw permanentFailure(channel === "EMAIL" ? `${name}: mailbox ${recipient} does not exist` : `${name}: number ${recipient} is not in service`);
      }
      if (behaviour === "transient") throw transientFailure(`${name}: temporarily unavailable`);
      if (behaviour === "flaky") {
        const failed = failures.get(message.idempotencyKey) ?? 0;
        if (failed < flakyFailures) {
          failures.delete(message.idempotencyKey);
          failures.set(message.idempotencyKey, failed + 1);
          if (failures.size > MAX_TRACKED) failures.delete(failures.keys().next().value!);
          throw transientFailure(`${name}: temporarily unavailable (attempt ${failed + 1} of a flaky recipient)`);
        }
        failures.delete(message.idempotencyKey);
      }
      if (failureRate > 0 && random() < failureRate) throw transientFailure(`${name}: simulated outage`);
      const providerMessageId = `sim-${channel.toLowerCase()}-${uuidv7()}`;
      logger.info(
        {
          channel,
          recipient,
          ...(channel === "EMAIL" ? { subject: message.subject } : {}),
          body_chars: message.body.length,
          provider_message_id: providerMessageId,
          idempotency_key: message.idempotencyKey,
        },
        `simulated ${channel} sent`,
      );
      return { providerMessageId };
    },
  };
}
