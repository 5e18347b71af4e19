import { useState } from "preact/hooks";
import { type Delivery, DeliveryStatus } from "../../../../gen/shop/delivery/v1/delivery_pb.js";
import { deliveries } from "../../api.js";
import { ActionForm, ErrorNotice, Loading, Notice, PageTitle, Pager } from "../../components/ui.js";
import { enumLabel, formatTime, shortId } from "../../format.js";
import { useAction, useLoad } from "../../hooks.js";
import { usePaging } from "../../paging.js";
import { href } from "../../router.js";
import { DeliveryStatusBadge } from "../../status.js";

type Names = Record<number, string>;

/** Where a delivery can go next (the delivery service has the final word). */
const NEXT: Partial<Record<DeliveryStatus, DeliveryStatus[]>> = {
  [DeliveryStatus.PENDING]: [DeliveryStatus.IN_TRANSIT, DeliveryStatus.FAILED],
  [DeliveryStatus.IN_TRANSIT]: [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
};

const FILTERS = [DeliveryStatus.PENDING, DeliveryStatus.IN_TRANSIT, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED];

/** Admin: deliveries, and moving one to its next status. */
export function AdminDeliveries() {
  const paging = usePaging();
  const [status, setStatus] = useState(DeliveryStatus.UNSPECIFIED);
  const [version, setVersion] = useState(0);
  const list = useLoad((signal) => deliveries.listDeliveries({ pageSize: 20, pageToken: paging.token, status }, { signal }), [paging.token, status, version]);
  const [selected, setSelected] = useState<Delivery>();
  return (
    <section>
      <PageTitle>Deliveries</PageTitle>
      <div class="filters">
        <label for="delivery-filter">Status</label>
        <select
          id="delivery-filter"
          value={status}
          onChange={(e) => {
            setStatus(Number(e.currentTarget.value) as DeliveryStatus);
            paging.reset();
          }}
        >
          <option value={DeliveryStatus.UNSPECIFIED}>Any</option>
          {FILTERS.map((s) => (
            <option key={s} value={s}>
              {enumLabel(DeliveryStatus as unknown as Names, s)}
            </option>
          ))}
        </select>
      </div>
      {selected ? (
        <Advance
          key={selected.id}
          delivery={selected}
          onDone={() => {
            setSelected(undefined);
            setVersion((v) => v + 1);
          }}
        />
      ) : null}
      <ErrorNotice error={list.error} context="Deliveries cannot be loaded" onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.deliveries.length === 0 ? <Notice>No deliveries.</Notice> : null}
      {list.data && list.data.deliveries.length > 0 ? (
        <table class="table responsive">
          <caption class="sr-only">Deliveries</caption>
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Status</th>
              <th scope="col">Carrier</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.deliveries.map((d) => (
              <tr key={d.id}>
                <th scope="row" data-label="Order">
                  <a href={href({ page: "order", id: d.orderId })} class="mono" title={d.orderId}>
                    {shortId(d.orderId)}
                  </a>
                </th>
                <td data-label="Status">
                  <DeliveryStatusBadge status={d.status} />
                </td>
                <td data-label="Carrier">
                  {d.carrier || "—"}
                  {d.trackingNumber ? <div class="hint mono">{d.trackingNumber}</div> : null}
                </td>
                <td data-label="Updated">{formatTime(d.updatedAt)}</td>
                <td>
                  {NEXT[d.status] ? (
                    <button type="button" class="secondary" onClick={() => setSelected(d)} aria-label={`Update delivery of order ${d.orderId}`}>
                      Update…
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        label="Deliveries"
        hasPrevious={paging.hasPrevious}
        nextToken={list.data?.nextPageToken ?? ""}
        onPrevious={paging.previous}
        onNext={() => paging.next(list.data!.nextPageToken)}
      />
    </section>
  );
}

function Advance({ delivery, onDone }: { delivery: Delivery; onDone(): void }) {
  const options = NEXT[delivery.status] ?? [];
  const [status, setStatus] = useState(options[0]);
  const [notes, setNotes] = useState("");
  const [carrier, setCarrier] = useState(delivery.carrier);
  const [tracking, setTracking] = useState(delivery.trackingNumber);
  const save = useAction(async () => {
    await deliveries.updateDeliveryStatus({
      deliveryId: delivery.id,
      status,
      notes: notes.trim(),
      carrier: carrier.trim() || undefined,
      trackingNumber: tracking.trim() || undefined,
    });
    onDone();
  });
  return (
    <ActionForm class="card" aria-labelledby="advance-title" onSubmit={save.run}>
      <h2 id="advance-title">
        Delivery of order <span class="mono small">{delivery.orderId}</span>
      </h2>
      <div class="row">
        <div class="field">
          <label for="next-status">New status</label>
          <select id="next-status" value={status} onChange={(e) => setStatus(Number(e.currentTarget.value) as DeliveryStatus)}>
            {options.map((s) => (
              <option key={s} value={s}>
                {enumLabel(DeliveryStatus as unknown as Names, s)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="carrier">Carrier</label>
          <input id="carrier" value={carrier} maxLength={100} onInput={(e) => setCarrier(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="tracking">Tracking number</label>
          <input id="tracking" value={tracking} maxLength={100} onInput={(e) => setTracking(e.currentTarget.value)} />
        </div>
      </div>
      <div class="field">
        <label for="notes">Notes</label>
        <input id="notes" value={notes} maxLength={500} onInput={(e) => setNotes(e.currentTarget.value)} />
      </div>
      <ErrorNotice error={save.error} context="The delivery was not updated" />
      <div class="button-row">
        <button type="submit" disabled={save.busy}>
          {save.busy ? "Saving…" : "Update delivery"}
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          Close
        </button>
      </div>
    </ActionForm>
  );
}
