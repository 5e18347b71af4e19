import { useState } from "preact/hooks";
import { type Product, ProductStatus, StockStatus } from "../../../gen/shop/inventory/v1/inventory_pb.js";
import { inventory } from "../api.js";
import { type Cart, MAX_QUANTITY } from "../cart.js";
import { ErrorNotice, Loading, Notice, PageTitle, Pager } from "../components/ui.js";
import { formatMoney } from "../format.js";
import { useLoad } from "../hooks.js";
import { usePaging } from "../paging.js";
import { StockBadge } from "../status.js";

/** The catalog: active products with their stock status, each with "add to cart". */
export function Catalog({ cart }: { cart: Cart }) {
  const paging = usePaging();
  const products = useLoad(
    (signal) => inventory.listProducts({ pageSize: 24, pageToken: paging.token, status: ProductStatus.ACTIVE }, { signal }),
    [paging.token],
  );
  const [added, setAdded] = useState<string>();

  return (
    <section>
      <PageTitle
        actions={
          cart.count > 0 ? (
            <a class="button" href="#/cart">
              View cart ({cart.count})
            </a>
          ) : undefined
        }
      >
        Shop
      </PageTitle>
      {added ? <Notice kind="success">Added {added} to your cart.</Notice> : null}
      <ErrorNotice error={products.error} context="The catalog cannot be loaded" onRetry={products.reload} />
      {products.loading && !products.data ? <Loading label="Loading the catalog…" /> : null}
      {products.data && products.data.products.length === 0 ? <Notice>No products are on sale right now.</Notice> : null}
      <ul class="grid products" aria-label="Products">
        {products.data?.products.map((product) => (
          <ProductCard
            key={product.id}
            product={product}
            onAdd={(quantity) => {
              cart.add(
                {
                  productId: product.id,
                  name: product.name,
                  currencyCode: product.price?.currencyCode ?? "USD",
                  unitPriceMinor: String(product.price?.amountMinor ?? 0n),
                },
                quantity,
              );
              setAdded(`${quantity} × ${product.name}`);
            }}
          />
        ))}
      </ul>
      <Pager
        label="Catalog"
        hasPrevious={paging.hasPrevious}
        nextToken={products.data?.nextPageToken ?? ""}
        onPrevious={paging.previous}
        onNext={() => paging.next(products.data!.nextPageToken)}
      />
    </section>
  );
}

function ProductCard({ product, onAdd }: { product: Product; onAdd(quantity: number): void }) {
  const [quantity, setQuantity] = useState(1);
  const soldOut = product.stockStatus === StockStatus.OUT_OF_STOCK;
  const inputId = `qty-${product.id}`;
  return (
    <li class="card product" aria-labelledby={`name-${product.id}`}>
      <h2 id={`name-${product.id}`}>{product.name}</h2>
      <p class="sku mono">{product.sku}</p>
      {product.description ? <p class="description">{product.description}</p> : null}
      <div class="price-row">
        <span class="price">{formatMoney(product.price)}</span>
        <StockBadge status={product.stockStatus} available={product.available} />
      </div>
      <form
        class="add-row"
        onSubmit={(event) => {
          event.preventDefault();
          onAdd(quantity);
        }}
      >
        <label for={inputId}>Quantity</label>
        <input
          id={inputId}
          type="number"
          min={1}
          max={Math.min(MAX_QUANTITY, Math.max(1, product.available))}
          value={quantity}
          disabled={soldOut}
          onInput={(e) => setQuantity(Math.max(1, Math.floor(Number(e.currentTarget.value) || 1)))}
        />
        <button type="submit" disabled={soldOut} aria-label={`Add ${product.name} to cart`}>
          Add to cart
        </button>
      </form>
    </li>
  );
}
