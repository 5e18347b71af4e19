/** When a failed send is tried again, and when it is given up. */

/** Longest wait between two attempts, however many failed. */
export const MAX_RETRY_DELAY_MS = 10 * 60_000;

/** Wait after failed attempt number `attempt` (1-based): base, 2 x base, 4 x base, ... capped. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempt - 1));
}

export type FailureDecision = { kind: "retry"; delayMs: number } | { kind: "give_up"; why: string };

/**
 * What to do after attempt number `attempts` failed: a permanent failure (the provider refused
 * the recipient) is given up at once, a transient one is retried with exponential backoff until
 * `maxAttempts` attempts were made.
 */
export function afterFailure(failure: { attempts: number; maxAttempts: number; permanent: boolean; retryBaseMs: number }): FailureDecision {
  if (failure.permanent) return { kind: "give_up", why: "permanent failure" };
  if (failure.attempts >= failure.maxAttempts) return { kind: "give_up", why: `no success after ${failure.attempts} attempts` };
  return { kind: "retry", delayMs: retryDelayMs(failure.attempts, failure.retryBaseMs) };
}
