import { type Breaker, throughBreaker } from "../../../lib/grpc/index.js";
import { storableCharge, storableRefund } from "./answers.js";
import { type ChargeRequest, type ChargeResult, type PaymentProvider, ProviderTimeoutError, type RefundRequest, type RefundResult } from "./provider.js";

export interface GuardOptions {
  /** Deadline of every provider call; a slower call fails with DEADLINE_EXCEEDED. */
  timeoutMs: number;
  /** The breaker of the provider (`createBreaker("payment-provider")`): counts UNAVAILABLE and DEADLINE_EXCEEDED. */
  breaker: Breaker;
}

/**
 * The provider as the service calls it: every call has a deadline and goes through the
 * circuit breaker. While the circuit is open calls fail fast with UNAVAILABLE instead of
 * piling up on a provider that is down. Its answers come back storable (see `storableCharge`):
 * this is where the provider's text enters the service.
 */
export class GuardedProvider implements PaymentProvider {
  constructor(
    private readonly inner: PaymentProvider,
    private readonly options: GuardOptions,
  ) {}

  charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.#call((signal) => this.inner.charge(request, { signal })).then(storableCharge);
  }

  refund(request: RefundRequest): Promise<RefundResult> {
    return this.#call((signal) => this.inner.refund(request, { signal })).then(storableRefund);
  }

  #call<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return throughBreaker(this.options.breaker, () => withDeadline(this.options.timeoutMs, work));
  }
}

/**
 * Runs `work` with an abort signal that fires after `timeoutMs`, and fails with
 * DEADLINE_EXCEEDED at that moment even if `work` ignores the signal.
 */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ProviderTimeoutError(`payment provider did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
