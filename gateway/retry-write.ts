/** How `writeWithRetries` retries. */
export interface RetryWriteOptions {
  /** No attempt starts after this instant (on `now`'s clock). */
  deadline: number;
  now: () => number;
  /** Errors no retry can fix (the write lost a race): the write is given up at once. */
  isFinal: (error: unknown) => boolean;
  /** Called once if the write is given up, with its last error. */
  onGiveUp: (error: unknown) => void;
  /** Waits between attempts; default a timer that does not keep the process alive. */
  sleep?: (ms: number) => Promise<void>;
}

/** The first attempt's outcome, and the promise of the last one. */
export interface RetriedWrite {
  written: boolean;
  /** Resolves true once some attempt wrote, false when the write was given up. */
  settled: Promise<boolean>;
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

/**
 * Runs `write` once and, if it failed with an error a retry can fix (its store unreachable),
 * keeps retrying it in the background with backoff until it succeeds or `deadline` passes.
 * Resolves after the first attempt, so a caller never waits out an outage.
 */
export async function writeWithRetries(write: () => Promise<unknown>, options: RetryWriteOptions): Promise<RetriedWrite> {
  const sleep = options.sleep ?? unrefSleep;
  const attempt = async (): Promise<unknown> => {
    try {
      await write();
      return undefined;
    } catch (error) {
      return error ?? new Error("write failed");
    }
  };
  const firstError = await attempt();
  if (firstError === undefined) return { written: true, settled: Promise.resolve(true) };
  const retries = async (): Promise<boolean> => {
    let error: unknown = firstError;
    for (let delay = FIRST_DELAY_MS; !options.isFinal(error) && options.now() + delay < options.deadline; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
      await sleep(delay);
      error = await attempt();
      if (error === undefined) return true;
    }
    options.onGiveUp(error);
    return false;
  };
  return { written: false, settled: retries() };
}

function unrefSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
