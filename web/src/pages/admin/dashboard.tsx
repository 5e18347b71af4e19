import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Dashboard } from "../../../../gen/shop/analytics/v1/analytics_pb.js";
import { analytics } from "../../api.js";
import { formatCount, formatMs, percent } from "../../chart-scale.js";
import { BarChart, ChartTable, LineChart } from "../../components/charts.js";
import { ErrorNotice, Loading, Notice, PageTitle } from "../../components/ui.js";
import { formatMoney, formatTime, toDate } from "../../format.js";
import { useLoad } from "../../hooks.js";
import { orderStatusLabel, orderStatusTone } from "../../status.js";

const WINDOWS = [
  { value: "15m", label: "15 minutes" },
  { value: "1h", label: "1 hour" },
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
];

/** The dashboard follows new events on its own; a person can also turn that off and refresh by hand. */
const REFRESH_MS = 15_000;

const FAILURE_KINDS: Record<string, string> = {
  order_rejected: "Rejected",
  payment_failed: "Payment failed",
  order_expired: "Expired",
  order_cancelled: "Cancelled",
  delivery_failed: "Delivery failed",
  notification_failed: "Notification failed",
};

/** Admin: the shop over a trailing window, from the analytics service's GetDashboard. */
export function AdminDashboard() {
  const [span, setSpan] = useState("1h");
  const [auto, setAuto] = useState(true);
  const loaded = useLoad((signal) => analytics.getDashboard({ window: span }, { signal }), [span]);
  const { reload } = loaded;
  useEffect(() => {
    if (!auto) return;
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto, reload]);
  const dashboard = loaded.data?.dashboard;
  const spanLabel = WINDOWS.find((w) => w.value === span)?.label ?? span;

  return (
    <section aria-busy={loaded.loading}>
      <PageTitle>Dashboard</PageTitle>
      <div class="dash-controls">
        <fieldset class="segmented">
          <legend>Window: the last</legend>
          {WINDOWS.map((w) => (
            <label key={w.value}>
              <input type="radio" name="dashboard-window" value={w.value} checked={span === w.value} onChange={() => setSpan(w.value)} />
              <span>{w.label}</span>
            </label>
          ))}
        </fieldset>
        <div class="dash-refresh">
          <label class="choice">
            <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.currentTarget.checked)} />
            Refresh every {REFRESH_MS / 1000} s
          </label>
          <button type="button" class="secondary" onClick={reload} disabled={loaded.loading}>
            {loaded.loading && dashboard ? "Refreshing…" : "Refresh"}
          </button>
        </div>
      </div>
      <ErrorNotice error={loaded.error} context="The dashboard cannot be loaded" onRetry={reload} />
      {loaded.loading && !dashboard && !loaded.error ? <Loading label="Loading the dashboard…" /> : null}
      {dashboard ? <DashboardView dashboard={dashboard} spanLabel={spanLabel} /> : null}
    </section>
  );
}

function DashboardView({ dashboard: d, spanLabel }: { dashboard: Dashboard; spanLabel: string }) {
  const start = toDate(d.windowStart);
  const end = toDate(d.windowEnd);
  const failed = d.series.reduce((sum, p) => sum + Number(p.ordersFailed), 0);
  const funnel = {
    created: Number(d.funnel?.created ?? 0n),
    reserved: Number(d.funnel?.reserved ?? 0n),
    paid: Number(d.funnel?.paid ?? 0n),
    delivered: Number(d.funnel?.delivered ?? 0n),
  };
  const latency = d.sagaLatency;
  return (
    <>
      <p class="hint">
        From {formatTime(start)} to {formatTime(end)} · {formatCount(Number(d.events))} events
      </p>
      {d.events === 0n ? <Notice>Nothing happened in the last {spanLabel}. Place an order, or pick a longer window.</Notice> : null}
      <dl class="facts tiles">
        <div>
          <dt>Orders placed</dt>
          <dd>{funnel.created}</dd>
        </div>
        <div>
          <dt>Paid</dt>
          <dd>{funnel.paid}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd>{failed}</dd>
        </div>
        <div>
          <dt>Net revenue</dt>
          <dd>{d.revenue.length === 0 ? "—" : d.revenue.map((r) => money(r.currencyCode, r.netMinor)).join(" · ")}</dd>
        </div>
        <div>
          <dt>Time to confirm (median)</dt>
          <dd>{latency && latency.count > 0n ? formatMs(latency.p50Ms) : "—"}</dd>
        </div>
      </dl>
      <div class="dash-grid">
        <OrdersOverTime dashboard={d} />
        <Card id="dash-funnel" title="Funnel" note="Orders placed in the window and how far they got.">
          {funnel.created === 0 ? (
            <None />
          ) : (
            <>
              <BarChart
                summary={`Of ${funnel.created} orders placed, ${funnel.reserved} were reserved, ${funnel.paid} paid and ${funnel.delivered} delivered.`}
                max={funnel.created}
                bars={[
                  { label: "Placed", value: funnel.created },
                  { label: "Stock reserved", value: funnel.reserved, display: `${funnel.reserved} · ${percent(funnel.reserved, funnel.created)}` },
                  { label: "Paid", value: funnel.paid, display: `${funnel.paid} · ${percent(funnel.paid, funnel.created)}`, tone: "good" },
                  { label: "Delivered", value: funnel.delivered, display: `${funnel.delivered} · ${percent(funnel.delivered, funnel.created)}`, tone: "good" },
                ]}
              />
              <ChartTable
                caption="Funnel"
                head={["Stage", "Orders", "Of placed"]}
                rows={[
                  ["Placed", funnel.created, "100 %"],
                  ["Stock reserved", funnel.reserved, percent(funnel.reserved, funnel.created)],
                  ["Paid", funnel.paid, percent(funnel.paid, funnel.created)],
                  ["Delivered", funnel.delivered, percent(funnel.delivered, funnel.created)],
                ]}
              />
            </>
          )}
        </Card>
        <Card id="dash-status" title="Orders by status" note="Orders placed in the window, by the status they have now.">
          {d.ordersByStatus.length === 0 ? (
            <None />
          ) : (
            <>
              <BarChart
                summary={`Orders by status: ${d.ordersByStatus.map((s) => `${orderStatusLabel(s.status)} ${s.orders}`).join(", ")}.`}
                bars={[...d.ordersByStatus]
                  .sort((a, b) => Number(b.orders - a.orders))
                  .map((s) => ({ label: orderStatusLabel(s.status), value: Number(s.orders), tone: orderStatusTone(s.status) }))}
              />
              <ChartTable
                caption="Orders by status"
                head={["Status", "Orders"]}
                rows={d.ordersByStatus.map((s) => [orderStatusLabel(s.status), String(s.orders)])}
              />
            </>
          )}
        </Card>
        <Card id="dash-revenue" title="Revenue" note="Completed payments and refunds in the window.">
          {d.revenue.length === 0 ? (
            <None />
          ) : (
            <>
              {d.revenue.map((r) => (
                <div key={r.currencyCode}>
                  {d.revenue.length > 1 ? <h3>{r.currencyCode}</h3> : null}
                  <BarChart
                    summary={`${r.currencyCode}: captured ${money(r.currencyCode, r.capturedMinor)} in ${r.payments} payments, refunded ${money(r.currencyCode, r.refundedMinor)}, net ${money(r.currencyCode, r.netMinor)}.`}
                    bars={[
                      {
                        label: `Captured (${r.payments} payments)`,
                        value: Number(r.capturedMinor),
                        display: money(r.currencyCode, r.capturedMinor),
                        tone: "good",
                      },
                      { label: "Refunded", value: Number(r.refundedMinor), display: money(r.currencyCode, r.refundedMinor), tone: "warn" },
                      { label: "Net", value: Math.max(0, Number(r.netMinor)), display: money(r.currencyCode, r.netMinor), tone: "info" },
                    ]}
                  />
                </div>
              ))}
              <ChartTable
                caption="Revenue by currency"
                head={["Currency", "Captured", "Refunded", "Net", "Payments"]}
                rows={d.revenue.map((r) => [
                  r.currencyCode,
                  money(r.currencyCode, r.capturedMinor),
                  money(r.currencyCode, r.refundedMinor),
                  money(r.currencyCode, r.netMinor),
                  String(r.payments),
                ])}
              />
            </>
          )}
        </Card>
        <Card id="dash-latency" title="Time to confirm" note="From order placed to order confirmed, for the orders confirmed in the window.">
          {!latency || latency.count === 0n ? (
            <None what="No order was confirmed in this window." />
          ) : (
            <>
              <BarChart
                summary={`${latency.count} orders confirmed: median ${formatMs(latency.p50Ms)}, 95th percentile ${formatMs(latency.p95Ms)}, 99th percentile ${formatMs(latency.p99Ms)}.`}
                bars={[
                  { label: "Mean", value: latency.meanMs, display: formatMs(latency.meanMs), tone: "neutral" },
                  { label: "Median (p50)", value: latency.p50Ms, display: formatMs(latency.p50Ms) },
                  { label: "p90", value: latency.p90Ms, display: formatMs(latency.p90Ms) },
                  { label: "p95", value: latency.p95Ms, display: formatMs(latency.p95Ms), tone: "warn" },
                  { label: "p99", value: latency.p99Ms, display: formatMs(latency.p99Ms), tone: "warn" },
                ]}
              />
              <ChartTable
                caption="Time to confirm"
                head={["Measure", "Time"]}
                rows={[
                  ["Orders confirmed", String(latency.count)],
                  ["Mean", formatMs(latency.meanMs)],
                  ["Median (p50)", formatMs(latency.p50Ms)],
                  ["p90", formatMs(latency.p90Ms)],
                  ["p95", formatMs(latency.p95Ms)],
                  ["p99", formatMs(latency.p99Ms)],
                ]}
              />
            </>
          )}
        </Card>
        <Card id="dash-failures" title="Failures" note="Why orders, payments, deliveries and notifications failed.">
          {d.failures.length === 0 ? (
            <None what="No failures in this window." />
          ) : (
            <>
              <BarChart
                summary={`Failures: ${d.failures.map((f) => `${failureLabel(f.kind, f.reason)} ${f.count}`).join(", ")}.`}
                bars={d.failures.map((f) => ({
                  label: failureLabel(f.kind, f.reason),
                  value: Number(f.count),
                  tone: f.kind === "order_cancelled" ? "neutral" : "bad",
                }))}
              />
              <ChartTable
                caption="Failures"
                head={["Failure", "Reason", "Count"]}
                rows={d.failures.map((f) => [FAILURE_KINDS[f.kind] ?? f.kind, f.reason || "—", String(f.count)])}
              />
            </>
          )}
        </Card>
        <Card id="dash-products" title="Top products" note="Units in orders confirmed in the window.">
          {d.topProducts.length === 0 ? (
            <None />
          ) : (
            <>
              <BarChart
                summary={`Top products: ${d.topProducts.map((p) => `${p.name || p.productId} ${p.units} units`).join(", ")}.`}
                bars={d.topProducts.map((p) => ({
                  label: p.name || p.productId,
                  value: Number(p.units),
                  display: `${p.units} · ${money(p.currencyCode, p.revenueMinor)}`,
                }))}
              />
              <ChartTable
                caption="Top products"
                head={["Product", "Units", "Revenue"]}
                rows={d.topProducts.map((p) => [p.name || p.productId, String(p.units), money(p.currencyCode, p.revenueMinor)])}
              />
            </>
          )}
        </Card>
        {d.lowStockProducts.length > 0 ? (
          <Card id="dash-low-stock" title="Low stock" note="Products whose stock fell to their threshold in the window.">
            <table class="table responsive">
              <caption class="sr-only">Low stock products</caption>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col">Available</th>
                  <th scope="col">Threshold</th>
                  <th scope="col">Last crossed</th>
                </tr>
              </thead>
              <tbody>
                {d.lowStockProducts.map((p) => (
                  <tr key={p.productId}>
                    <th scope="row" data-label="Product">
                      <a href={`#/admin/products/${encodeURIComponent(p.productId)}`}>{p.name || p.productId}</a>
                    </th>
                    <td data-label="Available">{p.available}</td>
                    <td data-label="Threshold">{p.threshold}</td>
                    <td data-label="Last crossed">{formatTime(p.at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Card>
        ) : null}
      </div>
    </>
  );
}

/** Orders created, confirmed and failed per series step, as lines. */
function OrdersOverTime({ dashboard: d }: { dashboard: Dashboard }) {
  const step = d.seriesStepMinutes || 1;
  const times = d.series.map((p) => toDate(p.start) ?? new Date(0));
  const created = d.series.map((p) => Number(p.ordersCreated));
  const confirmed = d.series.map((p) => Number(p.ordersConfirmed));
  const failed = d.series.map((p) => Number(p.ordersFailed));
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const long = d.windowMinutes > 24 * 60;
  const format = new Intl.DateTimeFormat(
    undefined,
    long ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit" },
  );
  const per = step === 1 ? "minute" : `${step} minutes`;
  const active = d.series.filter((p) => p.ordersCreated > 0n || p.ordersConfirmed > 0n || p.ordersFailed > 0n);
  return (
    <Card id="dash-series" title={`Orders per ${per}`} note="When orders were placed, confirmed and failed." wide>
      <LineChart
        summary={`Orders per ${per} from ${format.format(times[0] ?? new Date())} to ${format.format(times[times.length - 1] ?? new Date())}: ${sum(created)} placed, ${sum(confirmed)} confirmed, ${sum(failed)} failed; at most ${Math.max(0, ...created)} placed in one ${per}.`}
        times={times}
        formatTime={(at) => format.format(at)}
        series={[
          { name: "Placed", values: created, tone: "info" },
          { name: "Confirmed", values: confirmed, tone: "good", dash: "8 3" },
          { name: "Failed", values: failed, tone: "bad", dash: "2 3" },
        ]}
      />
      <ChartTable
        caption={`Orders per ${per} (steps with no orders left out)`}
        head={["From", "Placed", "Confirmed", "Failed", "Events"]}
        rows={active.map((p) => [formatTime(p.start), String(p.ordersCreated), String(p.ordersConfirmed), String(p.ordersFailed), String(p.events)])}
      />
    </Card>
  );
}

function Card({ id, title, note, wide, children }: { id: string; title: string; note: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <section class={`card chart-card${wide ? " wide" : ""}`} aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <p class="hint">{note}</p>
      {children}
    </section>
  );
}

function None({ what = "None in this window." }: { what?: string }) {
  return <p class="empty">{what}</p>;
}

function failureLabel(kind: string, reason: string): string {
  const name = FAILURE_KINDS[kind] ?? kind;
  if (!reason) return name;
  // A cancellation's reason is the status it was cancelled in.
  if (kind === "order_cancelled") return `${name} while ${reason.toLowerCase().replace(/_/g, " ")}`;
  return `${name} · ${reason}`;
}

function money(currencyCode: string, minor: bigint): string {
  return formatMoney({ currencyCode, amountMinor: minor });
}
