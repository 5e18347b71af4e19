import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LockMode, UniqueConstraintViolationException } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { ProductSchema } from "../../gen/shop/inventory/v1/inventory_pb.js";
import {
  AvailabilityProblem,
  type InventoryService,
  MovementType,
  ProductStatus,
  ReservationStatus,
  StockStatus,
} from "../../gen/shop/inventory/v1/inventory_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "../../lib/errors.js";
import type { ServiceImplementation } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { decodePageToken, nextPage, pageSize } from "../../lib/paging.js";
import { money, requireMoney } from "../../lib/money.js";
import { requireId, requireQuantity, requireText } from "../../lib/validate.js";
import { describeShortages, findShortages, type Shortage, type StockLevel, stockStatus } from "./domain/stock.js";
import { Product, type ProductRow, StockMovement } from "./entities.js";
import { publishLowStock, publishProductChanged, publishReleased } from "./events.js";
import { readProducts } from "./product-read.js";
import * as store from "./stock-store.js";
import { requireLines } from "./validate.js";

type ProductEntity = ProductRow;

export interface InventoryRpcOptions {
  orm: MikroORM;
  reservationTtlMs: number;
}

const PRODUCT_STATUS = { ACTIVE: ProductStatus.ACTIVE, INACTIVE: ProductStatus.INACTIVE, DISCONTINUED: ProductStatus.DISCONTINUED } as const;
const STOCK_STATUS = { IN_STOCK: StockStatus.IN_STOCK, LOW_STOCK: StockStatus.LOW_STOCK, OUT_OF_STOCK: StockStatus.OUT_OF_STOCK } as const;
const RESERVATION_STATUS = {
  ACTIVE: ReservationStatus.ACTIVE,
  COMMITTED: ReservationStatus.COMMITTED,
  RELEASED: ReservationStatus.RELEASED,
  EXPIRED: ReservationStatus.EXPIRED,
} as const;

function productStatusName(value: ProductStatus, field: string): ProductEntity["status"] {
  const name = ProductStatus[value] as string | undefined;
  if (value === ProductStatus.UNSPECIFIED || !name) throw invalidArgument(field, "must be ACTIVE, INACTIVE or DISCONTINUED");
  return name as ProductEntity["status"];
}

/** Proto view of a product row. */
export function toProductMessage(product: ProductEntity): MessageInitShape<typeof ProductSchema> {
  return {
    id: product.id,
    sku: product.sku,
    name: product.name,
    description: product.description,
    price: money(product.currencyCode, product.priceMinor),
    status: PRODUCT_STATUS[product.status],
    available: product.available,
    reserved: product.reserved,
    sold: product.sold,
    lowStockThreshold: product.lowStockThreshold,
    stockStatus: STOCK_STATUS[stockStatus(product.available, product.lowStockThreshold)],
    createdAt: timestampFromDate(product.createdAt),
    updatedAt: timestampFromDate(product.updatedAt),
  };
}

const AVAILABILITY_PROBLEM: Record<Shortage["reason"], AvailabilityProblem> = {
  insufficient: AvailabilityProblem.INSUFFICIENT_STOCK,
  inactive: AvailabilityProblem.INACTIVE,
  discontinued: AvailabilityProblem.DISCONTINUED,
  unknown: AvailabilityProblem.UNKNOWN_PRODUCT,
};

function toReservationMessage(reservation: store.ReservationRow) {
  return {
    id: reservation.id,
    orderId: reservation.orderId,
    lines: reservation.lines,
    status: RESERVATION_STATUS[reservation.status],
    expiresAt: timestampFromDate(reservation.expiresAt),
    createdAt: timestampFromDate(reservation.createdAt),
    updatedAt: timestampFromDate(reservation.updatedAt),
  };
}

/** gRPC handlers of InventoryService: validation and mapping around stock-store. */
export function inventoryRpc({ orm, reservationTtlMs }: InventoryRpcOptions): ServiceImplementation<typeof InventoryService> {
  async function findProduct(productId: string): Promise<ProductEntity> {
    const product = await orm.em.fork().findOne(Product, { id: productId });
    if (!product) throw notFound("product", productId);
    return product;
  }

  async function inTransaction<T>(work: Parameters<typeof orm.em.transactional<T>>[0]): Promise<T> {
    return orm.em.fork().transactional(work);
  }

  return {
    async getProduct(request) {
      return { product: toProductMessage(await findProduct(requireId("product_id", request.productId))) };
    },

    async batchGetProducts(request) {
      if (request.productIds.length > 100) throw invalidArgument("product_ids", "must contain at most 100 ids");
      const ids = [...new Set(request.productIds.map((id, i) => requireId(`product_ids[${i}]`, id)))];
      const products = await readProducts(orm.em.fork(), ids);
      const found = new Set(products.map((p) => p.id));
      return { products: products.map(toProductMessage), missingProductIds: ids.filter((id) => !found.has(id)) };
    },

    async checkAvailability(request) {
      const lines = requireLines("lines", request.lines);
      const seen = new Map<string, number>();
      lines.forEach((line, i) => {
        const first = seen.get(line.productId);
        if (first !== undefined) throw invalidArgument(`lines[${i}].product_id`, `duplicates lines[${first}]; ask for each product once`);
        seen.set(line.productId, i);
      });
      // A plain read without locks: an answer for the moment, not a promise (Reserve decides).
      const products = await orm.em.fork().find(Product, { id: { $in: [...seen.keys()] } });
      const stock = new Map<string, StockLevel>(
        products.map((p) => [
          p.id,
          { productId: p.id, status: p.status, available: p.available, reserved: p.reserved, sold: p.sold, lowStockThreshold: p.lowStockThreshold },
        ]),
      );
      const shortages = new Map(findShortages(lines, stock).map((s) => [s.productId, s]));
      return {
        allAvailable: shortages.size === 0,
        lines: lines.map((line) => {
          const shortage = shortages.get(line.productId);
          return {
            productId: line.productId,
            requested: line.quantity,
            available: Math.max(0, stock.get(line.productId)?.available ?? 0),
            orderable: !shortage,
            problem: shortage ? AVAILABILITY_PROBLEM[shortage.reason] : AvailabilityProblem.UNSPECIFIED,
          };
        }),
      };
    },

    async listProducts(request) {
      const size = pageSize(request.pageSize);
      const after = decodePageToken(request.pageToken);
      const rows = await orm.em.fork().find(
        Product,
        {
          ...(after ? { id: { $gt: after } } : {}),
          ...(request.status ? { status: productStatusName(request.status, "status") } : {}),
        },
        { orderBy: { id: "asc" }, limit: size + 1 },
      );
      const { page, nextPageToken } = nextPage(rows, size);
      return { products: page.map(toProductMessage), nextPageToken };
    },

    async createProduct(request) {
      const price = requireMoney("price", request.price);
      const fields = {
        id: uuidv7(),
        sku: requireText("sku", request.sku, 64),
        name: requireText("name", request.name, 200),
        description: request.description.slice(0, 5000),
        priceMinor: price.amountMinor,
        currencyCode: price.currencyCode,
        status: request.status ? productStatusName(request.status, "status") : ("ACTIVE" as const),
        available: requireQuantity("initial_quantity", request.initialQuantity, { min: 0 }),
        reserved: 0,
        sold: 0,
        lowStockThreshold: requireQuantity("low_stock_threshold", request.lowStockThreshold, { min: 0 }),
      };
      try {
        const product = await inTransaction(async (em) => {
          const created = em.create(Product, fields);
          await em.flush();
          if (fields.available > 0) await store.recordInitialStock(em, created.id, fields.available);
          return created;
        });
        return { product: toProductMessage(product) };
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) throw alreadyExists(`a product with sku ${fields.sku} already exists`);
        throw error;
      }
    },

    async updateProduct(request) {
      const productId = requireId("product_id", request.productId);
      const product = await inTransaction(async (em) => {
        // Locked: stock moves bump the row's version all the time, and an unlocked read would
        // fail the flush's optimistic check whenever an order touched the product meanwhile.
        const found = await em.findOne(Product, { id: productId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!found) throw notFound("product", productId);
        if (request.name !== undefined) found.name = requireText("name", request.name, 200);
        if (request.description !== undefined) found.description = request.description.slice(0, 5000);
        if (request.price) {
          const price = requireMoney("price", request.price);
          found.priceMinor = price.amountMinor;
          found.currencyCode = price.currencyCode;
        }
        if (request.status !== undefined) found.status = productStatusName(request.status, "status");
        if (request.lowStockThreshold !== undefined) {
          found.lowStockThreshold = requireQuantity("low_stock_threshold", request.lowStockThreshold, { min: 0 });
        }
        await em.flush();
        await publishProductChanged(em, productId);
        return found;
      });
      return { product: toProductMessage(product) };
    },

    async replenish(request) {
      const productId = requireId("product_id", request.productId);
      const quantity = requireQuantity("quantity", request.quantity);
      const ok = await inTransaction((em) => store.replenish(em, productId, quantity, request.reason.slice(0, 500)));
      if (!ok) throw notFound("product", productId);
      return { product: toProductMessage(await findProduct(productId)) };
    },

    async adjustStock(request) {
      const productId = requireId("product_id", request.productId);
      if (request.delta === 0) throw invalidArgument("delta", "must not be zero");
      requireQuantity("delta", Math.abs(request.delta));
      const reason = requireText("reason", request.reason, 500);
      const result = await inTransaction((em) => store.adjust(em, productId, request.delta, reason));
      if (result.kind === "missing") throw notFound("product", productId);
      if (result.kind === "negative") {
        throw failedPrecondition(`adjusting by ${request.delta} would leave ${result.available + request.delta} units available`);
      }
      return { product: toProductMessage(await findProduct(productId)) };
    },

    async getStockStatus(request) {
      const product = await findProduct(requireId("product_id", request.productId));
      return {
        productId: product.id,
        status: STOCK_STATUS[stockStatus(product.available, product.lowStockThreshold)],
        available: product.available,
        reserved: product.reserved,
      };
    },

    async reserve(request) {
      const orderId = requireId("order_id", request.orderId);
      const lines = requireLines("lines", request.lines);
      const result = await inTransaction(async (em) => {
        const outcome = await store.applyToReservation(em, orderId, { type: "reserve", customerId: "", lines, ttlMs: reservationTtlMs });
        if (outcome.kind === "reserved") await publishLowStock(em, outcome.lowStock, orderId);
        return outcome;
      });
      if (result.kind === "insufficient") throw failedPrecondition(`insufficient stock: ${describeShortages(result.shortages)}`);
      // An order that already has a reservation gets that one back (idempotent per order).
      if (!("reservation" in result) || !result.reservation) throw new Error(`reserve of order ${orderId} ended as ${result.kind} without a reservation`);
      return { reservation: toReservationMessage(result.reservation) };
    },

    async release(request) {
      const orderId = requireId("order_id", request.orderId);
      const result = await inTransaction(async (em) => {
        const outcome = await store.applyToReservation(em, orderId, { type: "release", reason: "MANUAL" });
        if (outcome.kind === "released") await publishReleased(em, outcome.reservation, outcome.lines, outcome.reason);
        return outcome;
      });
      if (!result.reservation) throw notFound("reservation for order", orderId);
      return { reservation: toReservationMessage(result.reservation) };
    },

    async listStockMovements(request) {
      const size = pageSize(request.pageSize);
      const after = decodePageToken(request.pageToken);
      const rows = await orm.em.fork().find(
        StockMovement,
        {
          ...(after ? { id: { $gt: after } } : {}),
          ...(request.productId ? { productId: requireId("product_id", request.productId) } : {}),
          ...(request.orderId ? { orderId: requireId("order_id", request.orderId) } : {}),
        },
        { orderBy: { id: "asc" }, limit: size + 1 },
      );
      const { page, nextPageToken } = nextPage(rows, size);
      return {
        movements: page.map((m) => ({
          id: m.id,
          productId: m.productId,
          orderId: m.orderId ?? "",
          type: MovementType[m.type],
          quantity: m.quantity,
          reason: m.reason,
          createdAt: timestampFromDate(m.createdAt),
        })),
        nextPageToken,
      };
    },
  };
}
