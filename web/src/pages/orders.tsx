import { useState } from "preact/hooks";
import { OrderStatus } from "../../../gen/shop/order/v1/order_pb.js";
import { orders } from "../api.js";
import { ErrorNotice, Loading, Notice, PageTitle, Pager } from "../components/ui.js";
import { formatMoney, formatTime, shortId } from "../format.js";
import { useLoad } from "../hooks.js";
import { usePaging } from "../paging.js";
import { href } from "../router.js";
import type { Session } from "../session.js";
import { OrderStatusBadge, orderStatusLabel } from "../status.js";

const FILTERABLE = Object.values(OrderStatus).filter((v): v is OrderStatus => typeof v === "number" && v !== OrderStatus.UNSPECIFIED);

/** Orders, newest first, a page at a time: a customer's own, or everyone's for an admin. */
export function Orders({ session }: { session: Session }) {
  const paging = usePaging();
  const [status, setStatus] = useState(OrderStatus.UNSPECIFIED);
  const list = useLoad(
    (signal) => orders.listOrders({ pageSize: 10, pageToken: paging.token, status, customerId: session.admin ? "" : session.sub }, { signal }),
    [paging.token, status],
  );
  return (
    <section>
      <PageTitle>{session.admin ? "All orders" : "Your orders"}</PageTitle>
      <div class="filters">
        <label for="status-filter">Status</label>
        <select
          id="status-filter"
          value={status}
          onChange={(e) => {
            setStatus(Number(e.currentTarget.value) as OrderStatus);
            paging.reset();
          }}
        >
          <option value={OrderStatus.UNSPECIFIED}>Any</option>
          {FILTERABLE.map((s) => (
            <option key={s} value={s}>
              {orderStatusLabel(s)}
            </option>
          ))}
        </select>
      </div>
      <ErrorNotice error={list.error} context="Orders cannot be loaded" onRetry={list.reload} />
      {list.loading && !list.data ? <Loading label="Loading orders…" /> : null}
      {list.data && list.data.orders.length === 0 ? <Notice>No orders yet. {session.admin ? null : <a href="#/">Start shopping</a>}</Notice> : null}
      {list.data && list.data.orders.length > 0 ? (
        <table class="table responsive">
          <caption class="sr-only">Orders</caption>
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Placed</th>
              <th scope="col">Status</th>
              <th scope="col">Items</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {list.data.orders.map((order) => (
              <tr key={order.id}>
                <th scope="row" data-label="Order">
                  <a href={href({ page: "order", id: order.id })} class="mono" title={order.id}>
                    {shortId(order.id)}
                  </a>
                </th>
                <td data-label="Placed">{formatTime(order.createdAt)}</td>
                <td data-label="Status">
                  <OrderStatusBadge status={order.status} />
                </td>
                <td data-label="Items">{order.items.reduce((sum, item) => sum + item.quantity, 0)}</td>
                <td data-label="Total">{formatMoney(order.total)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        label="Orders"
        hasPrevious={paging.hasPrevious}
        nextToken={list.data?.nextPageToken ?? ""}
        onPrevious={paging.previous}
        onNext={() => paging.next(list.data!.nextPageToken)}
      />
    </section>
  );
}
