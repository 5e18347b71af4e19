import { useState } from "preact/hooks";
import { type ConsumerInfo, type ConsumerPause, Provider, type ProviderFault } from "../../../../gen/shop/admin/v1/fault_pb.js";
import { faults } from "../../api.js";
import { ActionForm, Badge, ErrorNotice, Loading, Notice, PageTitle } from "../../components/ui.js";
import { formatTime } from "../../format.js";
import { useAction, useLoad } from "../../hooks.js";

/** The simulated providers, by the service that calls them. */
const PROVIDERS = [
  { provider: Provider.PAYMENT, key: "payment", name: "Card processor", service: "payment" },
  { provider: Provider.EMAIL, key: "email", name: "E-mail provider", service: "notification" },
  { provider: Provider.SMS, key: "sms", name: "SMS gateway", service: "notification" },
];

/**
 * Admin: the fault flags of shop.admin.v1.FaultService. Make a simulated provider fail or slow
 * down, pause an event consumer, and put everything back. Values are checked by the gateway,
 * whose INVALID_ARGUMENT message is shown as it is.
 */
export function AdminFaults() {
  const [version, setVersion] = useState(0);
  const [done, setDone] = useState<string>();
  const list = useLoad((signal) => faults.listFaults({}, { signal }), [version]);
  const changed = (what: string) => {
    setDone(what);
    setVersion((v) => v + 1);
  };
  const reset = useAction(async () => {
    await faults.resetFaults({});
    changed("Every fault flag was cleared.");
  });
  const active = (list.data?.providers.length ?? 0) + (list.data?.pausedConsumers.length ?? 0);
  return (
    <section>
      <PageTitle
        actions={
          <>
            <button type="button" class="secondary" onClick={list.reload} disabled={list.loading}>
              Refresh
            </button>
            <button type="button" class="danger" onClick={() => void reset.run()} disabled={reset.busy}>
              {reset.busy ? "Resetting…" : "Reset all flags"}
            </button>
          </>
        }
      >
        Fault flags
      </PageTitle>
      <p class="hint">
        Flags apply to every replica of every service within moments and stay until cleared, also across restarts. Use them to watch circuit breakers open and
        orders compensate.
      </p>
      <div aria-live="polite">{done ? <Notice kind="success">{done}</Notice> : null}</div>
      <ErrorNotice error={reset.error} context="The flags were not reset" />
      <ErrorNotice error={list.error} context="The fault flags cannot be loaded" onRetry={list.reload} />
      {list.loading && !list.data ? <Loading label="Loading the fault flags…" /> : null}
      {list.data ? (
        <>
          {active === 0 ? <Notice>No fault flag is set: every provider and consumer behaves as configured.</Notice> : null}
          <h2>Simulated providers</h2>
          <div class="grid forms">
            {PROVIDERS.map((p) => {
              const fault = list.data!.providers.find((f) => f.provider === p.provider);
              // A changed flag (here or elsewhere) starts the form again from what is in force.
              const version = fault?.updatedAt ? `${fault.updatedAt.seconds}.${fault.updatedAt.nanos}` : "none";
              return <ProviderCard key={`${p.key}:${version}`} meta={p} fault={fault} onChanged={changed} />;
            })}
          </div>
          <h2>Event consumers</h2>
          <Consumers consumers={list.data.consumers} paused={list.data.pausedConsumers} onChanged={changed} />
        </>
      ) : null}
    </section>
  );
}

function ProviderCard({ meta, fault, onChanged }: { meta: (typeof PROVIDERS)[number]; fault?: ProviderFault; onChanged(what: string): void }) {
  const [rate, setRate] = useState(fault ? String(Math.round(fault.failureRate * 1000) / 10) : "");
  const [latency, setLatency] = useState(fault ? String(fault.latencyMs) : "");
  const [invalid, setInvalid] = useState<string>();
  const set = useAction(async () => {
    const failurePercent = rate.trim() === "" ? 0 : Number(rate.replace(",", "."));
    const latencyMs = latency.trim() === "" ? 0 : Number(latency);
    if (!Number.isFinite(failurePercent) || !Number.isFinite(latencyMs)) {
      setInvalid("Failure rate and latency must be numbers, e.g. 100 and 0.");
      return;
    }
    setInvalid(undefined);
    // The range is the gateway's to check: its message names the field.
    const answer = await faults.setProviderFault({ provider: meta.provider, failureRate: failurePercent / 100, latencyMs });
    onChanged(`${meta.name}: ${describe(answer.fault)}.`);
  });
  const clear = useAction(async () => {
    await faults.clearProviderFault({ provider: meta.provider });
    setRate("");
    setLatency("");
    onChanged(`${meta.name} is back to its configured behaviour.`);
  });
  const id = `fault-${meta.key}`;
  return (
    <ActionForm class="card fault" aria-labelledby={`${id}-title`} data-provider={meta.key} onSubmit={set.run}>
      <h3 id={`${id}-title`}>
        {meta.name} <span class="hint">· {meta.service} service</span>
      </h3>
      <p class="fault-state">
        {fault ? <Badge tone="bad">Fault set</Badge> : <Badge tone="good">Normal</Badge>}{" "}
        {fault ? `${describe(fault)} since ${formatTime(fault.updatedAt)}` : "as configured"}
      </p>
      <div class="row">
        <div class="field">
          <label for={`${id}-rate`}>Failure rate (%)</label>
          <input
            id={`${id}-rate`}
            inputMode="decimal"
            placeholder="0"
            value={rate}
            aria-describedby={`${id}-rate-hint`}
            onInput={(e) => setRate(e.currentTarget.value)}
          />
          <small id={`${id}-rate-hint`} class="hint">
            0 to 100: that share of calls fails as an outage
          </small>
        </div>
        <div class="field">
          <label for={`${id}-latency`}>Added latency (ms)</label>
          <input
            id={`${id}-latency`}
            inputMode="numeric"
            placeholder="0"
            value={latency}
            aria-describedby={`${id}-latency-hint`}
            onInput={(e) => setLatency(e.currentTarget.value)}
          />
          <small id={`${id}-latency-hint`} class="hint">
            0 to 60000, added to every call
          </small>
        </div>
      </div>
      {invalid ? (
        <div class="notice notice-error" role="alert">
          {invalid}
        </div>
      ) : null}
      <ErrorNotice error={set.error} context={`${meta.name}: the fault was not set`} />
      <ErrorNotice error={clear.error} context={`${meta.name}: the fault was not cleared`} />
      <div class="button-row">
        <button type="submit" disabled={set.busy} aria-label={`Set ${meta.name} fault`}>
          {set.busy ? "Setting…" : "Set fault"}
        </button>
        {fault ? (
          <button type="button" class="secondary" disabled={clear.busy} onClick={() => void clear.run()} aria-label={`Clear ${meta.name} fault`}>
            Clear
          </button>
        ) : null}
      </div>
    </ActionForm>
  );
}

function Consumers({ consumers, paused, onChanged }: { consumers: ConsumerInfo[]; paused: ConsumerPause[]; onChanged(what: string): void }) {
  // What can still be paused, by service; the gateway lists what JetStream knows.
  const pausable = consumers.filter((c) => !paused.some((p) => p.consumer === c.name));
  const services = [...new Set(pausable.map((c) => c.service))].sort();
  const [chosen, setChosen] = useState("");
  const [typed, setTyped] = useState("");
  // A gateway that lists no consumer (none has run yet, or an older gateway): type the name.
  const name = consumers.length > 0 ? (pausable.some((c) => c.name === chosen) ? chosen : (pausable[0]?.name ?? "")) : typed.trim();
  const serviceOf = (consumer: string) => consumers.find((c) => c.name === consumer)?.service ?? consumer.split("-")[0];
  const pause = useAction(async () => {
    const answer = await faults.pauseConsumer({ consumer: name });
    setTyped("");
    onChanged(`Consumer ${answer.pause?.consumer ?? name} is paused: its events wait in the stream.`);
  });
  const resume = useAction(async (consumer: string) => {
    await faults.resumeConsumer({ consumer });
    onChanged(`Consumer ${consumer} is pulling events again.`);
  });
  const description = consumers.find((c) => c.name === name)?.description;
  return (
    <>
      <ActionForm class="card" aria-labelledby="pause-title" onSubmit={pause.run}>
        <h3 id="pause-title">Pause a consumer</h3>
        {consumers.length > 0 ? (
          <div class="field pause-field">
            <label for="pause-consumer">Consumer to pause</label>
            <select
              id="pause-consumer"
              value={name}
              disabled={pausable.length === 0}
              aria-describedby="pause-consumer-hint"
              onChange={(e) => setChosen(e.currentTarget.value)}
            >
              {services.map((service) => (
                <optgroup key={service} label={service || "other"}>
                  {pausable
                    .filter((c) => c.service === service)
                    .map((c) => (
                      <option key={c.name} value={c.name}>
                        {c.name}
                      </option>
                    ))}
                </optgroup>
              ))}
            </select>
            <small id="pause-consumer-hint" class="hint">
              {pausable.length === 0 ? "Every consumer is paused." : description || "The durable consumers of the event stream, by the service that runs them."}
            </small>
          </div>
        ) : (
          <div class="field pause-field">
            <label for="pause-consumer">Durable consumer name</label>
            <input
              id="pause-consumer"
              value={typed}
              spellcheck={false}
              autoComplete="off"
              aria-describedby="pause-consumer-hint"
              onInput={(e) => setTyped(e.currentTarget.value)}
            />
            <small id="pause-consumer-hint" class="hint">
              No service has created its consumers yet. The service, a dash and what it does, e.g. <code>payment-charge</code>, <code>delivery-create</code>
            </small>
          </div>
        )}
        <ErrorNotice error={pause.error} context="The consumer was not paused" />
        <div class="button-row">
          <button type="submit" disabled={pause.busy || name === ""}>
            {pause.busy ? "Pausing…" : "Pause consumer"}
          </button>
        </div>
      </ActionForm>
      <ErrorNotice error={resume.error} context="The consumer was not resumed" />
      {paused.length === 0 ? (
        <p class="hint">No consumer is paused.</p>
      ) : (
        <table class="table responsive">
          <caption class="sr-only">Paused consumers</caption>
          <thead>
            <tr>
              <th scope="col">Consumer</th>
              <th scope="col">Service</th>
              <th scope="col">Paused since</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {[...paused]
              .sort((a, b) => a.consumer.localeCompare(b.consumer))
              .map((p) => (
                <tr key={p.consumer}>
                  <th scope="row" data-label="Consumer">
                    <code>{p.consumer}</code>
                  </th>
                  <td data-label="Service">{serviceOf(p.consumer)}</td>
                  <td data-label="Paused since">{formatTime(p.pausedAt)}</td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      disabled={resume.busy}
                      onClick={() => void resume.run(p.consumer)}
                      aria-label={`Resume ${p.consumer}`}
                    >
                      Resume
                    </button>
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function describe(fault: ProviderFault | undefined): string {
  if (!fault) return "normal";
  const parts = [`${Math.round(fault.failureRate * 1000) / 10} % of calls fail`];
  if (fault.latencyMs > 0) parts.push(`${fault.latencyMs} ms added`);
  return parts.join(", ");
}
