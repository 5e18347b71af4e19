import { useState } from "preact/hooks";
import { type Payment, PaymentStatus } from "../../../../gen/shop/payment/v1/payment_pb.js";
import { payments } from "../../api.js";
import { ActionForm, ErrorNotice, Loading, Notice, PageTitle, Pager } from "../../components/ui.js";
import { formatMoney, formatTime, parseAmount, shortId } from "../../format.js";
import { useAction, useLoad } from "../../hooks.js";
import { usePaging } from "../../paging.js";
import { href } from "../../router.js";
import { PaymentStatusBadge } from "../../status.js";

const REFUNDABLE = new Set([PaymentStatus.COMPLETED, PaymentStatus.PARTIALLY_REFUNDED]);

/** Admin: payments, newest first, and refunds (full or partial). */
export function AdminPayments() {
  const paging = usePaging();
  const [orderId, setOrderId] = useState("");
  const [version, setVersion] = useState(0);
  const list = useLoad(
    (signal) => payments.listPayments({ pageSize: 20, pageToken: paging.token, orderId: orderId.trim() }, { signal }),
    [paging.token, orderId, version],
  );
  const [selected, setSelected] = useState<Payment>();
  return (
    <section>
      <PageTitle>Payments</PageTitle>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label for="payment-order">Order id</label>
        <input
          id="payment-order"
          placeholder="all orders"
          value={orderId}
          spellcheck={false}
          onChange={(e) => {
            setOrderId(e.currentTarget.value);
            paging.reset();
          }}
        />
      </form>
      {selected ? (
        <Refund
          key={selected.id}
          payment={selected}
          onDone={() => {
            setSelected(undefined);
            setVersion((v) => v + 1);
          }}
        />
      ) : null}
      <ErrorNotice error={list.error} context="Payments cannot be loaded" onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.payments.length === 0 ? <Notice>No payments.</Notice> : null}
      {list.data && list.data.payments.length > 0 ? (
        <table class="table responsive">
          <caption class="sr-only">Payments</caption>
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Amount</th>
              <th scope="col">Refunded</th>
              <th scope="col">Status</th>
              <th scope="col">Card</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.payments.map((p) => (
              <tr key={p.id}>
                <th scope="row" data-label="Order">
                  <a href={href({ page: "order", id: p.orderId })} class="mono" title={p.orderId}>
                    {shortId(p.orderId)}
                  </a>
                </th>
                <td data-label="Amount">{formatMoney(p.amount)}</td>
                <td data-label="Refunded">{p.refundedAmount && p.refundedAmount.amountMinor > 0n ? formatMoney(p.refundedAmount) : "—"}</td>
                <td data-label="Status">
                  <PaymentStatusBadge status={p.status} />
                  {p.failureReason ? <div class="hint">{p.failureReason}</div> : null}
                </td>
                <td data-label="Card">{p.cardLast4 ? `•••• ${p.cardLast4}` : "—"}</td>
                <td data-label="Created">{formatTime(p.createdAt)}</td>
                <td>
                  {REFUNDABLE.has(p.status) ? (
                    <button type="button" class="secondary" onClick={() => setSelected(p)} aria-label={`Refund payment of order ${p.orderId}`}>
                      Refund…
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        label="Payments"
        hasPrevious={paging.hasPrevious}
        nextToken={list.data?.nextPageToken ?? ""}
        onPrevious={paging.previous}
        onNext={() => paging.next(list.data!.nextPageToken)}
      />
    </section>
  );
}

function Refund({ payment, onDone }: { payment: Payment; onDone(): void }) {
  const currency = payment.amount?.currencyCode ?? "USD";
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [invalid, setInvalid] = useState<string>();
  const refund = useAction(async () => {
    let minor: bigint | undefined;
    if (amount.trim() !== "") {
      const parsed = parseAmount(amount, currency);
      if (parsed.problem !== undefined || parsed.amountMinor <= 0n) {
        setInvalid(`Amount ${parsed.problem ?? "must be more than zero"} (or leave it empty to refund the rest).`);
        return;
      }
      minor = parsed.amountMinor;
    }
    setInvalid(undefined);
    await payments.refundPayment({
      paymentId: payment.id,
      amount: minor === undefined ? undefined : { currencyCode: currency, amountMinor: minor },
      reason: reason.trim(),
    });
    onDone();
  });
  return (
    <ActionForm class="card" aria-labelledby="refund-title" onSubmit={refund.run}>
      <h2 id="refund-title">
        Refund {formatMoney(payment.amount)} paid for order <span class="mono small">{payment.orderId}</span>
      </h2>
      <div class="row">
        <div class="field">
          <label for="refund-amount">
            Amount ({currency}) <span class="optional">(empty: everything not yet refunded)</span>
          </label>
          <input id="refund-amount" inputMode="decimal" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="refund-reason">Reason</label>
          <input id="refund-reason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </div>
      </div>
      {invalid ? (
        <div class="notice notice-error" role="alert">
          {invalid}
        </div>
      ) : null}
      <ErrorNotice error={refund.error} context="No refund was made" />
      <div class="button-row">
        <button type="submit" class="danger" disabled={refund.busy}>
          {refund.busy ? "Refunding…" : "Refund"}
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          Close
        </button>
      </div>
    </ActionForm>
  );
}
