import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { int, readConfig } from "../../lib/config.js";
import { readRuntimeConfig, type RunningService, type RuntimeConfig, type StartOptions, serve, startService } from "../../lib/runtime/index.js";
import { inventoryConsumers } from "./consumers.js";
import { entities } from "./entities.js";
import { CatalogAndStock } from "./migrations/0001-catalog-and-stock.js";
import { ReservationTraceParent } from "./migrations/0002-trace-parent.js";
import { startReservationSweeper } from "./reservation-sweeper.js";
import { inventoryRpc } from "./rpc.js";

export interface InventoryConfig extends RuntimeConfig {
  /** How long a reservation waits for payment (RESERVATION_TTL_MS, default 15 min). */
  reservationTtlMs: number;
  /** How often expired reservations are released (RESERVATION_SWEEP_MS, default 5 s). */
  sweepIntervalMs: number;
}

export function readInventoryConfig(env: NodeJS.ProcessEnv = process.env): InventoryConfig {
  return {
    ...readRuntimeConfig("inventory", env),
    ...readConfig(
      {
        reservationTtlMs: int("RESERVATION_TTL_MS", 15 * 60_000, { min: 1 }),
        sweepIntervalMs: int("RESERVATION_SWEEP_MS", 5_000, { min: 10 }),
      },
      env,
    ),
  };
}

export const migrations = [
  { name: "inventory-0001-catalog-and-stock", class: CatalogAndStock },
  { name: "inventory-0002-trace-parent", class: ReservationTraceParent },
];

/** Starts the inventory service: catalog and stock RPCs, the reservation saga steps, the expiry sweeper. */
export function start(config: InventoryConfig, options?: StartOptions): Promise<RunningService> {
  return startService(
    {
      name: "inventory",
      entities,
      migrations,
      rpc: ({ orm }) => [serve(InventoryService, inventoryRpc({ orm, reservationTtlMs: config.reservationTtlMs }))],
      consumers: () => inventoryConsumers({ reservationTtlMs: config.reservationTtlMs }),
      workers: (deps) => [startReservationSweeper(deps, { intervalMs: config.sweepIntervalMs })],
    },
    config,
    options,
  );
}
