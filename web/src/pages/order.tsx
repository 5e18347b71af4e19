import { useEffect, useState } from "preact/hooks";
import type { Delivery } from "../../../gen/shop/delivery/v1/delivery_pb.js";
import type { Order } from "../../../gen/shop/order/v1/order_pb.js";
import { deliveries, orders } from "../api.js";
import { ActionForm, ErrorNotice, Loading, Notice, PageTitle } from "../components/ui.js";
import { describeError } from "../errors.js";
import { formatMoney, formatTime } from "../format.js";
import { useAction } from "../hooks.js";
import { downloadInvoice } from "../invoice.js";
import type { Session } from "../session.js";
import { CANCELLABLE, DeliveryStatusBadge, FINAL_ORDER_STATUSES, INVOICED, OrderStatusBadge, orderStatusLabel } from "../status.js";
import { type Timeline as TimelineData, timelineSource } from "../timeline.js";

type Live = "connecting" | "live" | "ended" | "retrying" | "failed";

/**
 * Follows an order through the WatchOrder server stream: the first message is the order as it
 * is, then one per status change. The stream ends at a final status; when it breaks it is
 * opened again with backoff (each reopen starts with the current order, so nothing is missed).
 */
function useWatchedOrder(id: string) {
  const [order, setOrder] = useState<Order>();
  const [error, setError] = useState<unknown>();
  const [live, setLive] = useState<Live>("connecting");
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    void (async () => {
      let delay = 1_000;
      let last: Order | undefined;
      for (;;) {
        try {
          setLive("connecting");
          for await (const message of orders.watchOrder({ orderId: id }, { signal })) {
            if (!message.order) continue;
            // Change messages may carry the order without its history: extend the one we have.
            const previous = last;
            const next: Order =
              message.order.history.length > 0 || !previous
                ? message.order
                : { ...message.order, history: message.change ? [...previous.history, message.change] : previous.history };
            last = next;
            setOrder(next);
            setError(undefined);
            setLive("live");
            delay = 1_000;
          }
          if (last && FINAL_ORDER_STATUSES.has(last.status)) {
            setLive("ended");
            return;
          }
        } catch (caught) {
          if (signal.aborted) return;
          setError(caught);
          if (!describeError(caught).retryable) {
            setLive("failed");
            return;
          }
        }
        setLive("retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (signal.aborted) return;
        delay = Math.min(delay * 2, 30_000);
      }
    })();
    return () => controller.abort();
  }, [id, attempt]);

  return { order, error, live, setOrder, reconnect: () => setAttempt((n) => n + 1) };
}

export function OrderPage({ id, session }: { id: string; session: Session }) {
  const watched = useWatchedOrder(id);
  const { order, live } = watched;

  if (!order) {
    return (
      <section>
        <PageTitle>Order</PageTitle>
        {watched.error ? (
          describeError(watched.error).notFound ? (
            <Notice kind="warning">
              There is no order <code>{id}</code> {session.admin ? "" : "among yours"}. <a href="#/orders">Back to your orders</a>
            </Notice>
          ) : (
            <ErrorNotice error={watched.error} context="The order cannot be loaded" onRetry={watched.reconnect} />
          )
        ) : (
          <Loading label="Loading the order…" />
        )}
      </section>
    );
  }

  return (
    <section>
      <PageTitle actions={<a href="#/orders">All orders</a>}>
        Order <span class="mono small">{order.id}</span>
      </PageTitle>
      <div class="status-line">
        <p aria-live="polite" aria-atomic="true" class="current-status">
          Status: <OrderStatusBadge status={order.status} />
          <span class="sr-only"> {orderStatusLabel(order.status)}</span>
        </p>
        <LiveIndicator live={live} onReconnect={watched.reconnect} />
      </div>
      {order.failureReason ? <Notice kind="warning">{order.failureReason}</Notice> : null}
      {live === "retrying" || live === "failed" ? <ErrorNotice error={watched.error} context="Live updates interrupted" onRetry={watched.reconnect} /> : null}
      <OrderActions order={order} onChanged={watched.setOrder} />
      <div class="two-col">
        <div>
          <h2>Items</h2>
          <table class="table responsive">
            <caption class="sr-only">Items of the order</caption>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Quantity</th>
                <th scope="col">Unit price</th>
                <th scope="col">Line total</th>
              </tr>
            </thead>
            <tbody>
              {order.items.map((item) => (
                <tr key={item.productId}>
                  <th scope="row" data-label="Product">
                    {item.productName || item.productId}
                  </th>
                  <td data-label="Quantity">{item.quantity}</td>
                  <td data-label="Unit price">{formatMoney(item.unitPrice)}</td>
                  <td data-label="Line total">{formatMoney(item.lineTotal)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="total">
            Total: <strong>{formatMoney(order.total)}</strong>
            {order.cardLast4 ? <span class="hint"> · card ending {order.cardLast4}</span> : null}
          </p>
          <h2>Shipping to</h2>
          <address>
            {[
              order.shippingAddress?.recipientName,
              order.shippingAddress?.line1,
              order.shippingAddress?.line2,
              `${order.shippingAddress?.postalCode ?? ""} ${order.shippingAddress?.city ?? ""}`,
              order.shippingAddress?.countryCode,
            ]
              .filter((line) => line && line.trim())
              .map((line) => (
                <div key={line}>{line}</div>
              ))}
          </address>
          <DeliveryPanel orderId={order.id} status={order.status} />
        </div>
        <Timeline order={order} />
      </div>
    </section>
  );
}

function LiveIndicator({ live, onReconnect }: { live: Live; onReconnect(): void }) {
  const text: Record<Live, string> = {
    connecting: "Connecting…",
    live: "Live: changes appear as they happen",
    ended: "Final: this order will not change any more",
    retrying: "Reconnecting…",
    failed: "Not following changes",
  };
  return (
    <p class={`live live-${live}`}>
      <span class="dot" aria-hidden="true" />
      {text[live]}
      {live === "failed" ? (
        <button type="button" class="link" onClick={onReconnect}>
          Reconnect
        </button>
      ) : null}
    </p>
  );
}

function OrderActions({ order, onChanged }: { order: Order; onChanged(order: Order): void }) {
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [downloaded, setDownloaded] = useState<string>();
  const invoice = useAction(async () => setDownloaded(await downloadInvoice(order.id)));
  const cancel = useAction(async () => {
    const answer = await orders.cancelOrder({ orderId: order.id, reason: reason.trim() || "cancelled by the customer" });
    if (answer.order) onChanged(answer.order);
    setConfirming(false);
  });
  const canCancel = CANCELLABLE.has(order.status);
  const hasInvoice = INVOICED.has(order.status);
  if (!canCancel && !hasInvoice) return null;
  return (
    <div class="order-actions">
      <div class="button-row">
        {hasInvoice ? (
          <button type="button" class="secondary" onClick={() => void invoice.run()} disabled={invoice.busy}>
            {invoice.busy ? "Preparing the invoice…" : "Download invoice (PDF)"}
          </button>
        ) : null}
        {canCancel && !confirming ? (
          <button type="button" class="danger" onClick={() => setConfirming(true)}>
            Cancel order
          </button>
        ) : null}
      </div>
      {downloaded ? <Notice kind="success">Downloaded {downloaded}.</Notice> : null}
      {invoice.error ? (
        describeError(invoice.error).notFound ? (
          <Notice kind="warning">The invoice is still being prepared. Please try again in a few seconds.</Notice>
        ) : (
          <ErrorNotice error={invoice.error} context="The invoice cannot be downloaded" />
        )
      ) : null}
      {confirming ? (
        <ActionForm class="card confirm" aria-labelledby="cancel-title" onSubmit={cancel.run}>
          <h2 id="cancel-title">Cancel this order?</h2>
          <p class="hint">Reserved stock is released and a payment is refunded.</p>
          <div class="field">
            <label for="cancel-reason">
              Reason <span class="optional">(optional)</span>
            </label>
            <input id="cancel-reason" value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />
          </div>
          <ErrorNotice error={cancel.error} context="The order was not cancelled" />
          <div class="button-row">
            <button type="submit" class="danger" disabled={cancel.busy}>
              {cancel.busy ? "Cancelling…" : "Yes, cancel the order"}
            </button>
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>
              Keep the order
            </button>
          </div>
        </ActionForm>
      ) : null}
    </div>
  );
}

function DeliveryPanel({ orderId, status }: { orderId: string; status: Order["status"] }) {
  const [delivery, setDelivery] = useState<Delivery | null>();
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setError(undefined);
    deliveries.getDeliveryByOrder({ orderId }, { signal: controller.signal }).then(
      (answer) => setDelivery(answer.delivery ?? null),
      (caught: unknown) => {
        if (controller.signal.aborted) return;
        if (describeError(caught).notFound) setDelivery(null);
        else setError(caught);
      },
    );
    return () => controller.abort();
  }, [orderId, status, attempt]);
  return (
    <div>
      <h2>Delivery</h2>
      {error ? <ErrorNotice error={error} context="Delivery details are unavailable" /> : null}
      {delivery === null && FINAL_ORDER_STATUSES.has(status) && !INVOICED.has(status) ? <p class="hint">No delivery: this order is not shipped.</p> : null}
      {delivery === null && !(FINAL_ORDER_STATUSES.has(status) && !INVOICED.has(status)) ? (
        <p class="hint">
          {INVOICED.has(status) ? "The delivery is being arranged. " : "No delivery yet: it is arranged once the order is confirmed. "}
          <button type="button" class="link" onClick={() => setAttempt((n) => n + 1)}>
            Check again
          </button>
        </p>
      ) : null}
      {delivery ? (
        <p>
          <DeliveryStatusBadge status={delivery.status} />
          {delivery.carrier ? ` · ${delivery.carrier}` : ""}
          {delivery.trackingNumber ? (
            <>
              {" "}
              · tracking <span class="mono">{delivery.trackingNumber}</span>
            </>
          ) : null}
        </p>
      ) : null}
    </div>
  );
}

/** Tries after which a timeline that lags behind the order stops asking again by itself. */
const CATCH_UP_DELAYS_MS = [1_000, 2_000, 4_000, 8_000];

function Timeline({ order }: { order: Order }) {
  const [timeline, setTimeline] = useState<TimelineData>();
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);
  const [loading, setLoading] = useState(true);
  // Asked again when the order moves, not for every copy of it a reconnect brings.
  const moved = `${order.id}:${order.status}:${order.history.length}`;
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    void (async () => {
      setLoading(true);
      // Analytics records events a moment after the order service: while its timeline is
      // behind the order, ask again a few times, then leave it to the Refresh button.
      for (let tries = 0; ; tries++) {
        try {
          const next = await timelineSource.timeline(order, signal);
          if (signal.aborted) return;
          setTimeline(next);
          setError(undefined);
          if (!next.behind || tries >= CATCH_UP_DELAYS_MS.length) break;
        } catch (caught) {
          if (!signal.aborted) setError(caught);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, CATCH_UP_DELAYS_MS[tries]));
        if (signal.aborted) return;
      }
      if (!signal.aborted) setLoading(false);
    })();
    return () => controller.abort();
    // `order` is read when it moved (see `moved`).
  }, [moved, attempt]);
  return (
    <aside aria-labelledby="timeline-title" class="timeline-panel">
      <div class="timeline-head">
        <h2 id="timeline-title">Timeline</h2>
        <button type="button" class="link" onClick={() => setAttempt((n) => n + 1)} disabled={loading}>
          {loading ? "Updating…" : "Refresh"}
        </button>
      </div>
      <p class="hint">Placed {formatTime(order.createdAt)}</p>
      {error ? <ErrorNotice error={error} context="The timeline is unavailable" /> : null}
      {!timeline && !error ? <Loading label="Loading the timeline…" /> : null}
      {timeline?.note ? <p class="timeline-note">{timeline.note}</p> : null}
      <ol class="timeline" data-kind={timeline?.kind}>
        {(timeline?.entries ?? []).map((entry, index) => (
          <li key={index} class={entry.tone ? `tone-${entry.tone}` : undefined}>
            <strong>{entry.title}</strong>
            <span class="hint">
              <time dateTime={entry.at?.toISOString()}>{formatTime(entry.at)}</time>
              {entry.event ? (
                <>
                  {" · "}
                  <span class="mono">{entry.event}</span>
                  {/* The subject names its publisher ("payment.completed"); say it only when it does not. */}
                  {entry.service && !entry.event.startsWith(`${entry.service}.`) ? ` · ${entry.service} service` : ""}
                </>
              ) : null}
            </span>
            {entry.detail ? <div class="hint">{entry.detail}</div> : null}
          </li>
        ))}
      </ol>
    </aside>
  );
}
