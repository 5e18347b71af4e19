import { AnalyticsService } from "../../gen/shop/analytics/v1/analytics_pb.js";
import { int, readConfig } from "../../lib/config.js";
import { readRuntimeConfig, type RunningService, type RuntimeConfig, type StartOptions, serve, startService } from "../../lib/runtime/index.js";
import { analyticsConsumers } from "./consumers.js";
import { Analytics } from "./migrations/0001-analytics.js";
import { startRetention } from "./retention.js";
import { analyticsRpc } from "./rpc.js";

export interface AnalyticsConfig extends RuntimeConfig {
  /** Days of per-minute figures and timelines kept (ANALYTICS_RETENTION_DAYS, default 90; 0 keeps everything). */
  retentionDays: number;
  /** How often old rows are deleted (ANALYTICS_RETENTION_SWEEP_MS, default 1 h). */
  retentionSweepMs: number;
}

export function readAnalyticsConfig(env: NodeJS.ProcessEnv = process.env): AnalyticsConfig {
  return {
    ...readRuntimeConfig("analytics", env),
    ...readConfig(
      {
        retentionDays: int("ANALYTICS_RETENTION_DAYS", 90, { min: 0, max: 36_500 }),
        retentionSweepMs: int("ANALYTICS_RETENTION_SWEEP_MS", 60 * 60_000, { min: 1_000 }),
      },
      env,
    ),
  };
}

export const migrations = [{ name: "analytics-0001-analytics", class: Analytics }];

/**
 * Starts the analytics service: every domain event into per-minute aggregates and order
 * timelines, GetDashboard and GetOrderTimeline, and the retention sweeper. It has no MikroORM
 * entities: it reads and writes only with set-based SQL (see analytics-store).
 */
export function start(config: AnalyticsConfig, options?: StartOptions): Promise<RunningService> {
  return startService(
    {
      name: "analytics",
      entities: [],
      migrations,
      rpc: ({ orm }) => [serve(AnalyticsService, analyticsRpc({ orm }))],
      consumers: () => analyticsConsumers(),
      workers: (deps) => (config.retentionDays > 0 ? [startRetention(deps, { retentionDays: config.retentionDays, intervalMs: config.retentionSweepMs })] : []),
    },
    config,
    options,
  );
}
