import { describe, expect, it } from "@jest/globals";
import { create } from "@bufbuild/protobuf";
import { BatchGetProductsResponseSchema, ProductStatus } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { inventoryCatalog } from "./catalog.js";

describe("inventoryCatalog", () => {
  it("takes price, status and whether any unit is available from BatchGetProducts", async () => {
    const product = (id: string, available: number) => ({
      id,
      name: `Product ${id}`,
      status: ProductStatus.ACTIVE,
      price: { currencyCode: "USD", amountMinor: 250n },
      available,
    });
    const client = {
      batchGetProducts: async () => create(BatchGetProductsResponseSchema, { products: [product("a", 3), product("b", 0)] }),
    };
    const found = await inventoryCatalog(client as never, 1_000).products(["a", "b"]);
    expect(found.get("a")).toEqual({ id: "a", name: "Product a", status: "ACTIVE", currencyCode: "USD", unitPriceMinor: 250n, soldOut: false });
    expect(found.get("b")).toMatchObject({ soldOut: true });
  });
});
