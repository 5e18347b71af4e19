/**
 * Pausing a consumer at runtime (fault flags: "pause payment-charge and watch orders pile up
 * RESERVED"). While `paused()` says yes the consumer loop pulls nothing, so events wait in the
 * stream; `onPause` lets it end a pull that is already waiting, and a message being handled
 * still finishes and is acknowledged. Where the switch is flipped (NATS KV flags) is not this
 * module's business.
 */
export interface PauseSwitch {
  /** True while the consumer should not pull. Cheap: asked for every message. */
  paused(): boolean;
  /** Calls `listener` whenever the switch turns to paused; returns the unsubscribe function. */
  onPause(listener: () => void): () => void;
}

/** How often a paused loop looks again; resuming takes effect within this. */
export const PAUSE_POLL_MS = 200;

/** Resolves once the switch is off or `stopping()` is true. */
export async function whilePaused(pause: PauseSwitch, stopping: () => boolean): Promise<void> {
  while (pause.paused() && !stopping()) await new Promise((resolve) => setTimeout(resolve, PAUSE_POLL_MS));
}
