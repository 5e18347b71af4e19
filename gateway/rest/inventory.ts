import type { JsonObject } from "@bufbuild/protobuf";
import {
  AdjustStockRequestSchema,
  CheckAvailabilityRequestSchema,
  CheckAvailabilityResponseSchema,
  CreateProductRequestSchema,
  GetProductRequestSchema,
  GetStockStatusRequestSchema,
  GetStockStatusResponseSchema,
  ListProductsRequestSchema,
  ListProductsResponseSchema,
  ListStockMovementsRequestSchema,
  ListStockMovementsResponseSchema,
  ProductSchema,
  ReleaseRequestSchema,
  ReplenishRequestSchema,
  ReservationSchema,
  ReserveRequestSchema,
  UpdateProductRequestSchema,
} from "../../gen/shop/inventory/v1/inventory_pb.js";
import { invalid } from "../errors.js";
import { decodeMessage, encodeMessage } from "../json.js";
import { objectSchema } from "./openapi-fragments.js";
import { onlyQuery, type RestContext, type Route } from "./router.js";

/**
 * PUT /api/v1/inventory/{productId}/reserve with `{"order_id": "...", "quantity": 2}`: the
 * seeds reserve per product, the Reserve RPC per order; this is a one-line reservation.
 */
function reserveInput(ctx: RestContext) {
  onlyQuery(ctx);
  const body: JsonObject = { ...(ctx.body ?? {}) };
  for (const key of Object.keys(body)) {
    if (!["order_id", "orderId", "quantity"].includes(key)) throw invalid(key, "unknown field (expected order_id and quantity)");
  }
  const quantity = body.quantity ?? null;
  const orderId = body.order_id ?? body.orderId ?? null;
  return decodeMessage(ReserveRequestSchema, { order_id: orderId, lines: [{ product_id: ctx.params.productId, quantity }] });
}

export const inventoryRoutes: Route[] = [
  {
    method: "GET",
    path: "/api/v1/inventory",
    summary: "List products (page_size, page_token, status)",
    request: ListProductsRequestSchema,
    queryParams: true,
    response: ListProductsResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.inventory.listProducts(ctx.input(ListProductsRequestSchema, { query: true, body: false }), ctx.call);
      return { json: encodeMessage(ListProductsResponseSchema, response) };
    },
  },
  {
    method: "POST",
    path: "/api/v1/inventory",
    access: "admin",
    summary: "Add a product with its initial stock (admin)",
    request: CreateProductRequestSchema,
    response: ProductSchema,
    successStatus: 201,
    async handle(ctx) {
      const { product } = await ctx.api.inventory.createProduct(ctx.input(CreateProductRequestSchema), ctx.call);
      return { status: 201, json: encodeMessage(ProductSchema, product!), headers: { location: `/api/v1/inventory/${product!.id}` } };
    },
  },
  {
    method: "POST",
    path: "/api/v1/inventory/check-availability",
    summary: 'Can these be ordered now? {"lines": [{"product_id", "quantity"}]}; one answer per line, nothing reserved',
    request: CheckAvailabilityRequestSchema,
    response: CheckAvailabilityResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.inventory.checkAvailability(ctx.input(CheckAvailabilityRequestSchema), ctx.call);
      return { json: encodeMessage(CheckAvailabilityResponseSchema, response) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/inventory/:productId",
    summary: "One product with its stock levels",
    request: GetProductRequestSchema,
    response: ProductSchema,
    async handle(ctx) {
      const request = ctx.input(GetProductRequestSchema, { path: { product_id: ctx.params.productId }, body: false });
      const { product } = await ctx.api.inventory.getProduct(request, ctx.call);
      return { json: encodeMessage(ProductSchema, product!) };
    },
  },
  {
    method: "PATCH",
    path: "/api/v1/inventory/:productId",
    access: "admin",
    summary: "Change name, description, price, status or low_stock_threshold (admin)",
    request: UpdateProductRequestSchema,
    response: ProductSchema,
    async handle(ctx) {
      const request = ctx.input(UpdateProductRequestSchema, { path: { product_id: ctx.params.productId } });
      const { product } = await ctx.api.inventory.updateProduct(request, ctx.call);
      return { json: encodeMessage(ProductSchema, product!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/inventory/:productId/status",
    summary: "Stock status: IN_STOCK, LOW_STOCK or OUT_OF_STOCK with available and reserved",
    request: GetStockStatusRequestSchema,
    response: GetStockStatusResponseSchema,
    async handle(ctx) {
      const request = ctx.input(GetStockStatusRequestSchema, { path: { product_id: ctx.params.productId }, body: false });
      return { json: encodeMessage(GetStockStatusResponseSchema, await ctx.api.inventory.getStockStatus(request, ctx.call)) };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/inventory/:productId/reserve",
    access: "admin",
    summary: 'Reserve stock for an order: {"order_id", "quantity"} (admin)',
    openapi: {
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: objectSchema({ order_id: { type: "string", format: "uuid" }, quantity: { type: "integer", format: "int32", minimum: 1 } }),
          },
        },
      },
    },
    response: ReservationSchema,
    async handle(ctx) {
      const { reservation } = await ctx.api.inventory.reserve(reserveInput(ctx), ctx.call);
      return { json: encodeMessage(ReservationSchema, reservation!) };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/inventory/:productId/release",
    access: "admin",
    summary: 'Release an order\'s reservation: {"order_id", "reason"} (admin; the whole reservation)',
    request: ReleaseRequestSchema,
    response: ReservationSchema,
    async handle(ctx) {
      const { reservation } = await ctx.api.inventory.release(ctx.input(ReleaseRequestSchema), ctx.call);
      return { json: encodeMessage(ReservationSchema, reservation!) };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/inventory/:productId/replenish",
    access: "admin",
    summary: 'Add received stock: {"quantity", "reason"} (admin)',
    request: ReplenishRequestSchema,
    response: ProductSchema,
    async handle(ctx) {
      const request = ctx.input(ReplenishRequestSchema, { path: { product_id: ctx.params.productId } });
      const { product } = await ctx.api.inventory.replenish(request, ctx.call);
      return { json: encodeMessage(ProductSchema, product!) };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/inventory/:productId/adjust",
    access: "admin",
    summary: 'Correct available stock: {"delta", "reason"} (admin)',
    request: AdjustStockRequestSchema,
    response: ProductSchema,
    async handle(ctx) {
      const request = ctx.input(AdjustStockRequestSchema, { path: { product_id: ctx.params.productId } });
      const { product } = await ctx.api.inventory.adjustStock(request, ctx.call);
      return { json: encodeMessage(ProductSchema, product!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/inventory/:productId/movements",
    access: "admin",
    summary: "The product's stock audit trail (admin; page_size, page_token, order_id)",
    request: ListStockMovementsRequestSchema,
    queryParams: true,
    response: ListStockMovementsResponseSchema,
    async handle(ctx) {
      const request = ctx.input(ListStockMovementsRequestSchema, { path: { product_id: ctx.params.productId }, query: true, body: false });
      const response = await ctx.api.inventory.listStockMovements(request, ctx.call);
      return { json: encodeMessage(ListStockMovementsResponseSchema, response) };
    },
  },
];
