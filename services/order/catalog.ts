import { ProductStatus, type InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { causedBy, Code, isInfrastructureCode, ServiceError, unavailable } from "../../lib/errors.js";
import type { Client } from "../../lib/grpc/index.js";
import type { CatalogProduct, ProductAvailability } from "./domain/pricing.js";

/** Where CreateOrder gets products, prices and status: inventory, through the breaker client. */
export interface Catalog {
  /** The known products among `productIds` (unknown ids are simply absent). */
  products(productIds: string[], call?: { signal?: AbortSignal; deadline?: Date }): Promise<Map<string, CatalogProduct>>;
}

const AVAILABILITY: Record<ProductStatus, ProductAvailability> = {
  [ProductStatus.UNSPECIFIED]: "UNKNOWN",
  [ProductStatus.ACTIVE]: "ACTIVE",
  [ProductStatus.INACTIVE]: "INACTIVE",
  [ProductStatus.DISCONTINUED]: "DISCONTINUED",
};

/**
 * The catalog behind inventory's BatchGetProducts. Each call has the smaller of `deadlineMs`
 * and what is left of the caller's own deadline, and is cancelled with the caller. Failures to
 * reach inventory (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, an open circuit) become
 * UNAVAILABLE for the caller; other errors mean this service asked something wrong and stay
 * internal.
 */
export function inventoryCatalog(client: Pick<Client<typeof InventoryService>, "batchGetProducts">, deadlineMs: number): Catalog {
  return {
    async products(productIds, call = {}) {
      const left = call.deadline ? call.deadline.getTime() - Date.now() : Infinity;
      let response;
      try {
        response = await client.batchGetProducts({ productIds }, { deadlineMs: Math.max(1, Math.min(deadlineMs, left)), signal: call.signal });
      } catch (error) {
        if (error instanceof ServiceError && (isInfrastructureCode(error.code) || error.code === Code.RESOURCE_EXHAUSTED)) {
          // The cause marks the answer as inventory's outage, so callers' breakers do not count it against us.
          throw causedBy(unavailable(`inventory unavailable: ${error.message}`), error);
        }
        if (error instanceof ServiceError && error.code === Code.CANCELLED) throw error;
        throw new Error(`inventory BatchGetProducts failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      return new Map(
        response.products.map((product) => [
          product.id,
          {
            id: product.id,
            name: product.name,
            status: AVAILABILITY[product.status] ?? "UNKNOWN",
            currencyCode: product.price?.currencyCode ?? "",
            unitPriceMinor: product.price?.amountMinor ?? -1n,
            soldOut: product.available <= 0,
          },
        ]),
      );
    },
  };
}
