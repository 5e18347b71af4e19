export { runMain, type StoppableProcess } from "./main.js";
export { startPeriodic } from "./periodic.js";
export { startMetricsServer, type MetricsServer } from "./metrics-server.js";
export { readRuntimeConfig, SERVICE_PORTS, type RuntimeConfig, type ServiceName } from "./service-config.js";
export {
  consume,
  consumeBatches,
  serve,
  startService,
  type ConsumerSpec,
  type RunningService,
  type ServiceDeps,
  type ServiceParts,
  type StartOptions,
  type Worker,
} from "./start-service.js";
export { faultBucket, FaultFlags, faultKeys, openFaultBucket, type ProviderName, type ProviderOverride } from "./fault-flags.js";
export { listenHost } from "./service-config.js";
export { type Closer, Shutdown } from "./shutdown.js";
