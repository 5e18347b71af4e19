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
