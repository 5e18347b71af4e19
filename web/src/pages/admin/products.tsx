import { useState } from "preact/hooks";
import { ProductStatus } from "../../../../gen/shop/inventory/v1/inventory_pb.js";
import { inventory } from "../../api.js";
import { ActionForm, ErrorNotice, Loading, Notice, PageTitle, Pager } from "../../components/ui.js";
import { formatMoney, parseAmount } from "../../format.js";
import { useAction, useLoad } from "../../hooks.js";
import { usePaging } from "../../paging.js";
import { href, navigate } from "../../router.js";
import { ProductStatusBadge, StockBadge } from "../../status.js";

/** Admin: every product with its stock, and a form to create one. */
export function AdminProducts() {
  const paging = usePaging();
  const list = useLoad((signal) => inventory.listProducts({ pageSize: 25, pageToken: paging.token }, { signal }), [paging.token]);
  const [creating, setCreating] = useState(false);
  return (
    <section>
      <PageTitle
        actions={
          <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            {creating ? "Close" : "New product"}
          </button>
        }
      >
        Products
      </PageTitle>
      {creating ? <CreateProduct /> : null}
      <ErrorNotice error={list.error} context="Products cannot be loaded" onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.products.length === 0 ? <Notice>No products yet.</Notice> : null}
      {list.data && list.data.products.length > 0 ? (
        <table class="table responsive">
          <caption class="sr-only">Products</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">SKU</th>
              <th scope="col">Price</th>
              <th scope="col">Status</th>
              <th scope="col">Available</th>
              <th scope="col">Reserved</th>
              <th scope="col">Sold</th>
              <th scope="col">Stock</th>
            </tr>
          </thead>
          <tbody>
            {list.data.products.map((p) => (
              <tr key={p.id}>
                <th scope="row" data-label="Product">
                  <a href={href({ page: "admin-product", id: p.id })}>{p.name}</a>
                </th>
                <td data-label="SKU" class="mono">
                  {p.sku}
                </td>
                <td data-label="Price">{formatMoney(p.price)}</td>
                <td data-label="Status">
                  <ProductStatusBadge status={p.status} />
                </td>
                <td data-label="Available">{p.available}</td>
                <td data-label="Reserved">{p.reserved}</td>
                <td data-label="Sold">{p.sold}</td>
                <td data-label="Stock">
                  <StockBadge status={p.stockStatus} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        label="Products"
        hasPrevious={paging.hasPrevious}
        nextToken={list.data?.nextPageToken ?? ""}
        onPrevious={paging.previous}
        onNext={() => paging.next(list.data!.nextPageToken)}
      />
    </section>
  );
}

function CreateProduct() {
  const [form, setForm] = useState({ sku: "", name: "", description: "", price: "", currency: "USD", quantity: "0", threshold: "5" });
  const [invalid, setInvalid] = useState<string>();
  const create = useAction(async () => {
    const currency = form.currency.trim().toUpperCase();
    const price = parseAmount(form.price, currency);
    if (price.problem !== undefined) {
      setInvalid(`Price ${price.problem}.`);
      return;
    }
    setInvalid(undefined);
    const { product } = await inventory.createProduct({
      sku: form.sku.trim(),
      name: form.name.trim(),
      description: form.description.trim(),
      price: { currencyCode: currency, amountMinor: price.amountMinor },
      initialQuantity: Number(form.quantity),
      lowStockThreshold: Number(form.threshold),
      status: ProductStatus.ACTIVE,
    });
    navigate({ page: "admin-product", id: product!.id });
  });
  const input = (name: keyof typeof form, label: string, props: Record<string, unknown> = {}) => (
    <div class="field">
      <label for={`new-${name}`}>{label}</label>
      <input id={`new-${name}`} name={name} value={form[name]} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} {...props} />
    </div>
  );
  return (
    <ActionForm class="card" aria-labelledby="new-product" onSubmit={create.run}>
      <h2 id="new-product">New product</h2>
      <div class="row">
        {input("sku", "SKU", { required: true, maxLength: 64 })}
        {input("name", "Name", { required: true, maxLength: 200 })}
      </div>
      {input("description", "Description", { maxLength: 2000 })}
      <div class="row">
        {input("price", "Price", { required: true, inputMode: "decimal", placeholder: "19.99" })}
        {input("currency", "Currency", { required: true, maxLength: 3, pattern: "[A-Za-z]{3}" })}
      </div>
      <div class="row">
        {input("quantity", "Initial quantity", { type: "number", min: 0, required: true })}
        {input("threshold", "Low-stock threshold", { type: "number", min: 0, required: true })}
      </div>
      {invalid ? (
        <div class="notice notice-error" role="alert">
          {invalid}
        </div>
      ) : null}
      <ErrorNotice error={create.error} context="The product was not created" />
      <button type="submit" disabled={create.busy}>
        {create.busy ? "Creating…" : "Create product"}
      </button>
    </ActionForm>
  );
}
