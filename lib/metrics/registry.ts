import { Registry } from "prom-client";

/**
 * The one registry of the platform metrics defined in lib/metrics (RPC, consumers, outbox,
 * DLQ, breakers, business counters). Module-level because the code that moves them (grpc
 * interceptors, the consumer loop) runs without a handle on the process; every process's
 * /metrics serves it next to its own registry.
 */
export const platformRegistry = new Registry();

/** Labels every series of the platform registry (the process's service name); the first call wins. */
export function labelProcess(service: string): void {
  if (!labelled) platformRegistry.setDefaultLabels({ service });
  labelled = true;
}
let labelled = false;
