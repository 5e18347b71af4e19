import type { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import type { Upstreams } from "../upstreams.js";
import { requireAdmin } from "./access.js";
import { type Api, upstreamOptions } from "./types.js";

/** Catalog and stock: everyone signed in may read; changes and stock operations need admin. */
export function inventoryApi(upstreams: Upstreams): Api<typeof InventoryService> {
  const inventory = upstreams.inventory;
  return {
    getProduct: (request, call) => inventory.getProduct(request, upstreamOptions(call)),
    batchGetProducts: (request, call) => inventory.batchGetProducts(request, upstreamOptions(call)),
    listProducts: (request, call) => inventory.listProducts(request, upstreamOptions(call)),
    getStockStatus: (request, call) => inventory.getStockStatus(request, upstreamOptions(call)),
    checkAvailability: (request, call) => inventory.checkAvailability(request, upstreamOptions(call)),
    async createProduct(request, call) {
      requireAdmin(call.principal, "CreateProduct");
      return inventory.createProduct(request, upstreamOptions(call));
    },
    async updateProduct(request, call) {
      requireAdmin(call.principal, "UpdateProduct");
      return inventory.updateProduct(request, upstreamOptions(call));
    },
    async replenish(request, call) {
      requireAdmin(call.principal, "Replenish");
      return inventory.replenish(request, upstreamOptions(call));
    },
    async adjustStock(request, call) {
      requireAdmin(call.principal, "AdjustStock");
      return inventory.adjustStock(request, upstreamOptions(call));
    },
    async reserve(request, call) {
      requireAdmin(call.principal, "Reserve");
      return inventory.reserve(request, upstreamOptions(call));
    },
    async release(request, call) {
      requireAdmin(call.principal, "Release");
      return inventory.release(request, upstreamOptions(call));
    },
    async listStockMovements(request, call) {
      requireAdmin(call.principal, "ListStockMovements");
      return inventory.listStockMovements(request, upstreamOptions(call));
    },
  };
}
