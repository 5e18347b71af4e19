import { useEffect, useMemo, useState } from "preact/hooks";
import { inventory, newIdempotencyKey, orders } from "../api.js";
import type { Cart } from "../cart.js";
import { MAX_QUANTITY } from "../cart.js";
import { ActionForm, ErrorNotice, Notice, PageTitle } from "../components/ui.js";
import { formatMoney } from "../format.js";
import { useAction } from "../hooks.js";
import { navigate } from "../router.js";
import type { Session } from "../session.js";

const TEST_CARDS = [
  ["tok_visa", "Visa ending 4242 (approved)"],
  ["tok_mastercard", "Mastercard ending 4444 (approved)"],
  ["tok_declined", "Declined card"],
  ["tok_insufficient_funds", "Insufficient funds"],
];

interface AddressForm {
  recipientName: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  countryCode: string;
  phone: string;
}

const EMPTY_ADDRESS: AddressForm = { recipientName: "", line1: "", line2: "", city: "", region: "", postalCode: "", countryCode: "US", phone: "" };
const ATTEMPT_KEY = "ordermesh.checkout-attempt";

/**
 * One idempotency key per attempt to place an order: the same request (lines, address, card)
 * keeps its key across double clicks, retries after a network failure and reloads of the tab,
 * so the order service creates it once. A changed request is a new attempt with a new key
 * (the gateway refuses a reused key with a different request).
 */
function attemptKey(fingerprint: string): string {
  try {
    const stored = JSON.parse(sessionStorage.getItem(ATTEMPT_KEY) ?? "null") as { key: string; fingerprint: string } | null;
    if (stored && stored.fingerprint === fingerprint) return stored.key;
  } catch {
    // a damaged entry is a new attempt
  }
  const key = newIdempotencyKey();
  sessionStorage.setItem(ATTEMPT_KEY, JSON.stringify({ key, fingerprint }));
  return key;
}

export function CartPage({ cart, session }: { cart: Cart; session: Session }) {
  const [address, setAddress] = useState<AddressForm>(() => {
    try {
      return { ...EMPTY_ADDRESS, ...(JSON.parse(localStorage.getItem(`ordermesh.address.${session.sub}`) ?? "{}") as Partial<AddressForm>) };
    } catch {
      return EMPTY_ADDRESS;
    }
  });
  const [card, setCard] = useState("tok_visa");
  const [stock, setStock] = useState<Record<string, number>>({});

  // Fresh stock for the lines in the cart, so a too-large quantity shows before ordering.
  const ids = cart.lines.map((l) => l.productId).join(",");
  useEffect(() => {
    if (!ids) return;
    const controller = new AbortController();
    inventory
      .batchGetProducts({ productIds: ids.split(",") }, { signal: controller.signal })
      .then((answer) => setStock(Object.fromEntries(answer.products.map((p) => [p.id, p.available]))))
      .catch(() => undefined);
    return () => controller.abort();
  }, [ids]);

  const request = useMemo(
    () => ({
      customerId: session.admin ? "" : session.sub,
      items: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      shippingAddress: address,
      paymentMethod: { token: card },
    }),
    [cart.lines, address, card, session],
  );

  const place = useAction(async () => {
    const fingerprint = JSON.stringify(request);
    const key = attemptKey(fingerprint);
    const { order } = await orders.createOrder({ ...request, idempotencyKey: key }, { headers: { "idempotency-key": key } });
    sessionStorage.removeItem(ATTEMPT_KEY);
    localStorage.setItem(`ordermesh.address.${session.sub}`, JSON.stringify(address));
    cart.clear();
    navigate({ page: "order", id: order!.id });
  });

  const total = cart.lines.reduce((sum, l) => sum + BigInt(l.unitPriceMinor) * BigInt(l.quantity), 0n);
  const currency = cart.lines[0]?.currencyCode ?? "USD";
  const field = (name: keyof AddressForm, label: string, options: { required?: boolean; autoComplete?: string; maxLength?: number } = {}) => (
    <div class="field">
      <label for={`addr-${name}`}>
        {label}
        {options.required ? null : <span class="optional"> (optional)</span>}
      </label>
      <input
        id={`addr-${name}`}
        name={name}
        required={options.required}
        autoComplete={options.autoComplete}
        maxLength={options.maxLength}
        value={address[name]}
        onInput={(e) => setAddress({ ...address, [name]: e.currentTarget.value })}
      />
    </div>
  );

  if (cart.lines.length === 0) {
    return (
      <section>
        <PageTitle>Cart</PageTitle>
        <Notice>
          Your cart is empty. <a href="#/">Browse the shop</a>.
        </Notice>
      </section>
    );
  }

  return (
    <section>
      <PageTitle>Cart</PageTitle>
      <div class="two-col">
        <div>
          <table class="table cart-lines">
            <caption class="sr-only">Items in your cart</caption>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Price</th>
                <th scope="col">Quantity</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {cart.lines.map((line) => {
                const available = stock[line.productId];
                return (
                  <tr key={line.productId}>
                    <th scope="row" data-label="Product">
                      {line.name}
                      {available !== undefined && available < line.quantity ? <div class="warn-text">Only {available} in stock</div> : null}
                    </th>
                    <td data-label="Price">{formatMoney({ currencyCode: line.currencyCode, amountMinor: BigInt(line.unitPriceMinor) })}</td>
                    <td data-label="Quantity">
                      <label class="sr-only" for={`cart-qty-${line.productId}`}>
                        Quantity of {line.name}
                      </label>
                      <input
                        id={`cart-qty-${line.productId}`}
                        class="qty"
                        type="number"
                        min={1}
                        max={MAX_QUANTITY}
                        value={line.quantity}
                        onChange={(e) => cart.setQuantity(line.productId, Math.floor(Number(e.currentTarget.value) || 1))}
                      />
                    </td>
                    <td>
                      <button type="button" class="link danger" onClick={() => cart.remove(line.productId)} aria-label={`Remove ${line.name}`}>
                        Remove
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <p class="total">
            Estimated total: <strong>{formatMoney({ currencyCode: currency, amountMinor: total })}</strong>
            <br />
            <small class="hint">Prices are confirmed by the shop when you place the order.</small>
          </p>
        </div>
        <ActionForm class="card checkout" aria-labelledby="checkout-title" onSubmit={place.run}>
          <h2 id="checkout-title">Checkout</h2>
          <fieldset>
            <legend>Shipping address</legend>
            {field("recipientName", "Recipient name", { required: true, autoComplete: "name" })}
            {field("line1", "Address line 1", { required: true, autoComplete: "address-line1" })}
            {field("line2", "Address line 2", { autoComplete: "address-line2" })}
            <div class="row">
              {field("city", "City", { required: true, autoComplete: "address-level2" })}
              {field("region", "Region", { autoComplete: "address-level1" })}
            </div>
            <div class="row">
              {field("postalCode", "Postal code", { required: true, autoComplete: "postal-code" })}
              {field("countryCode", "Country code", { required: true, autoComplete: "country", maxLength: 2 })}
            </div>
            {field("phone", "Phone", { autoComplete: "tel" })}
          </fieldset>
          <fieldset>
            <legend>Payment</legend>
            <div class="field">
              <label for="card">Card (test tokens)</label>
              <select id="card" name="card" value={card} onChange={(e) => setCard(e.currentTarget.value)}>
                {TEST_CARDS.map(([token, label]) => (
                  <option key={token} value={token}>
                    {label}
                  </option>
                ))}
              </select>
            </div>
          </fieldset>
          <ErrorNotice error={place.error} context="The order was not placed" onRetry={() => void place.run()} />
          <button type="submit" class="primary wide" disabled={place.busy} aria-busy={place.busy}>
            {place.busy ? "Placing your order…" : "Place order"}
          </button>
        </ActionForm>
      </div>
    </section>
  );
}
