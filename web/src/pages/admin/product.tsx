import { useState } from "preact/hooks";
import { MovementType, type Product, ProductStatus } from "../../../../gen/shop/inventory/v1/inventory_pb.js";
import { inventory } from "../../api.js";
import { ActionForm, ErrorNotice, Loading, Notice, PageTitle, Pager } from "../../components/ui.js";
import { amountInput, enumLabel, formatMoney, formatTime, parseAmount, shortId } from "../../format.js";
import { useAction, useLoad } from "../../hooks.js";
import { usePaging } from "../../paging.js";
import { href } from "../../router.js";
import { ProductStatusBadge, StockBadge } from "../../status.js";

const STATUSES = [ProductStatus.ACTIVE, ProductStatus.INACTIVE, ProductStatus.DISCONTINUED];

/** Admin: one product. Price and status, replenish, adjust, and its stock movements. */
export function AdminProduct({ id }: { id: string }) {
  const loaded = useLoad((signal) => inventory.getProduct({ productId: id }, { signal }), [id]);
  const [product, setProduct] = useState<Product>();
  const [movementsVersion, setMovementsVersion] = useState(0);
  const current = product ?? loaded.data?.product;
  const changed = (next: Product | undefined) => {
    if (next) setProduct(next);
    setMovementsVersion((v) => v + 1);
  };

  if (!current) {
    return (
      <section>
        <PageTitle>Product</PageTitle>
        <ErrorNotice error={loaded.error} context="The product cannot be loaded" onRetry={loaded.reload} />
        {loaded.loading ? <Loading /> : null}
      </section>
    );
  }
  return (
    <section>
      <PageTitle actions={<a href={href({ page: "admin-products" })}>All products</a>}>{current.name}</PageTitle>
      <dl class="facts">
        <div>
          <dt>SKU</dt>
          <dd class="mono">{current.sku}</dd>
        </div>
        <div>
          <dt>Price</dt>
          <dd>{formatMoney(current.price)}</dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>
            <ProductStatusBadge status={current.status} />
          </dd>
        </div>
        <div>
          <dt>Available</dt>
          <dd data-testid="available">{current.available}</dd>
        </div>
        <div>
          <dt>Reserved</dt>
          <dd>{current.reserved}</dd>
        </div>
        <div>
          <dt>Sold</dt>
          <dd>{current.sold}</dd>
        </div>
        <div>
          <dt>Stock</dt>
          <dd>
            <StockBadge status={current.stockStatus} available={current.available} />
          </dd>
        </div>
      </dl>
      <div class="grid forms">
        <PriceAndStatus product={current} onChanged={changed} />
        <StockChange product={current} kind="replenish" onChanged={changed} />
        <StockChange product={current} kind="adjust" onChanged={changed} />
      </div>
      <Movements productId={id} version={movementsVersion} />
    </section>
  );
}

function PriceAndStatus({ product, onChanged }: { product: Product; onChanged(p: Product | undefined): void }) {
  const currency = product.price?.currencyCode ?? "USD";
  const [price, setPrice] = useState(() => amountInput(product.price?.amountMinor ?? 0n, currency));
  const [status, setStatus] = useState(product.status);
  const [saved, setSaved] = useState(false);
  const [invalid, setInvalid] = useState<string>();
  const save = useAction(async () => {
    const parsed = parseAmount(price, currency);
    if (parsed.problem !== undefined) {
      setInvalid(`Price ${parsed.problem}.`);
      return;
    }
    setInvalid(undefined);
    setSaved(false);
    const answer = await inventory.updateProduct({ productId: product.id, price: { currencyCode: currency, amountMinor: parsed.amountMinor }, status });
    onChanged(answer.product);
    setSaved(true);
  });
  return (
    <ActionForm class="card" aria-labelledby="price-status" onSubmit={save.run}>
      <h2 id="price-status">Price and status</h2>
      <div class="field">
        <label for="price">Price ({currency})</label>
        <input id="price" inputMode="decimal" required value={price} onInput={(e) => setPrice(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="status">Status</label>
        <select id="status" value={status} onChange={(e) => setStatus(Number(e.currentTarget.value) as ProductStatus)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {enumLabel(ProductStatus as unknown as Record<number, string>, s)}
            </option>
          ))}
        </select>
      </div>
      {invalid ? (
        <div class="notice notice-error" role="alert">
          {invalid}
        </div>
      ) : null}
      <ErrorNotice error={save.error} context="Not saved" />
      {saved ? <Notice kind="success">Saved.</Notice> : null}
      <button type="submit" disabled={save.busy}>
        {save.busy ? "Saving…" : "Save"}
      </button>
    </ActionForm>
  );
}

function StockChange({ product, kind, onChanged }: { product: Product; kind: "replenish" | "adjust"; onChanged(p: Product | undefined): void }) {
  const [amount, setAmount] = useState(kind === "replenish" ? "10" : "-1");
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string>();
  const action = useAction(async () => {
    setDone(undefined);
    const n = Number(amount);
    const answer =
      kind === "replenish"
        ? await inventory.replenish({ productId: product.id, quantity: n, reason: reason.trim() })
        : await inventory.adjustStock({ productId: product.id, delta: n, reason: reason.trim() });
    onChanged(answer.product);
    setDone(kind === "replenish" ? `Added ${n}. Now ${answer.product?.available} available.` : `Adjusted by ${n}. Now ${answer.product?.available} available.`);
    setReason("");
  });
  const title = kind === "replenish" ? "Replenish" : "Adjust stock";
  const prefix = `${kind}-`;
  return (
    <ActionForm class="card" aria-labelledby={`${prefix}title`} onSubmit={action.run}>
      <h2 id={`${prefix}title`}>{title}</h2>
      <p class="hint">
        {kind === "replenish" ? "Goods received: adds to the available stock." : "Corrections after a count, damage or loss: a positive or negative change."}
      </p>
      <div class="field">
        <label for={`${prefix}amount`}>{kind === "replenish" ? "Quantity to add" : "Change (+/−)"}</label>
        <input
          id={`${prefix}amount`}
          type="number"
          required
          min={kind === "replenish" ? 1 : undefined}
          step={1}
          value={amount}
          onInput={(e) => setAmount(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for={`${prefix}reason`}>Reason</label>
        <input
          id={`${prefix}reason`}
          required={kind === "adjust"}
          maxLength={500}
          placeholder={kind === "replenish" ? "PO-1042" : "cycle count"}
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </div>
      <ErrorNotice error={action.error} context={`${title} failed`} />
      {done ? <Notice kind="success">{done}</Notice> : null}
      <button type="submit" disabled={action.busy}>
        {action.busy ? "Working…" : title}
      </button>
    </ActionForm>
  );
}

function Movements({ productId, version }: { productId: string; version: number }) {
  const paging = usePaging();
  const list = useLoad(
    (signal) => inventory.listStockMovements({ productId, pageSize: 20, pageToken: paging.token }, { signal }),
    [productId, paging.token, version],
  );
  return (
    <div>
      <h2>Stock movements</h2>
      <ErrorNotice error={list.error} context="Movements cannot be loaded" onRetry={list.reload} />
      {list.data && list.data.movements.length === 0 ? <p class="hint">No movements yet.</p> : null}
      {list.data && list.data.movements.length > 0 ? (
        <table class="table responsive">
          <caption class="sr-only">Stock movements</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Type</th>
              <th scope="col">Quantity</th>
              <th scope="col">Order</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {list.data.movements.map((m) => (
              <tr key={m.id}>
                <td data-label="When">{formatTime(m.createdAt)}</td>
                <td data-label="Type">{enumLabel(MovementType as unknown as Record<number, string>, m.type)}</td>
                <td data-label="Quantity">{m.quantity}</td>
                <td data-label="Order">
                  {m.orderId ? (
                    <a href={href({ page: "order", id: m.orderId })} class="mono">
                      {shortId(m.orderId)}
                    </a>
                  ) : (
                    "—"
                  )}
                </td>
                <td data-label="Reason">{m.reason || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        label="Movements"
        hasPrevious={paging.hasPrevious}
        nextToken={list.data?.nextPageToken ?? ""}
        onPrevious={paging.previous}
        onNext={() => paging.next(list.data!.nextPageToken)}
      />
    </div>
  );
}
