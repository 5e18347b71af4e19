import { useState } from "preact/hooks";
import { rest } from "../../api.js";
import { ErrorNotice, Loading, Notice, PageTitle } from "../../components/ui.js";
import { formatTime } from "../../format.js";
import { useAction, useLoad } from "../../hooks.js";

interface DeadLetter {
  seq: number;
  subject: string;
  original_subject: string;
  event_id: string;
  event_type: string;
  error: string;
  consumer: string;
  delivery_count: number;
  failed_at: string;
}

interface DeadLetterDetail extends DeadLetter {
  headers: Record<string, string | string[]>;
  payload: { base64: string; json?: unknown; decode_error?: string };
}

const PAGE = 25;

/**
 * Admin: the dead-letter queue (REST routes of the gateway: dead letters are NATS messages,
 * not a service's RPC). Inspect one, replay it on its original subject, or discard it.
 */
export function AdminDeadLetters() {
  const [starts, setStarts] = useState<number[]>([1]);
  const start = starts[starts.length - 1];
  const [version, setVersion] = useState(0);
  const list = useLoad(() => rest<{ entries: DeadLetter[]; next_seq?: number }>("GET", `/api/v1/admin/dlq?limit=${PAGE}&start_seq=${start}`), [start, version]);
  const [open, setOpen] = useState<number>();
  const [message, setMessage] = useState<string>();
  const refresh = (text: string) => {
    setMessage(text);
    setOpen(undefined);
    setVersion((v) => v + 1);
  };
  return (
    <section>
      <PageTitle
        actions={
          <button type="button" class="secondary" onClick={() => refresh("")}>
            Refresh
          </button>
        }
      >
        Dead letters
      </PageTitle>
      <p class="hint">Events a consumer could not process after its retries. Fix the cause, then replay them; discard what can never succeed.</p>
      {message ? <Notice kind="success">{message}</Notice> : null}
      <ErrorNotice error={list.error} context="The dead-letter queue cannot be read" onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.entries.length === 0 ? <Notice>The dead-letter queue is empty.</Notice> : null}
      <ul class="stack" aria-label="Dead letters">
        {list.data?.entries.map((entry) => (
          <li key={entry.seq} class="card dead-letter" data-seq={entry.seq}>
            <div class="notification-head">
              <span class="badge badge-bad">#{entry.seq}</span>
              <strong>{entry.event_type || entry.original_subject}</strong>
            </div>
            <p class="hint">
              consumer <code>{entry.consumer || "?"}</code> · {entry.delivery_count} {entry.delivery_count === 1 ? "delivery" : "deliveries"} · failed{" "}
              {formatTime(entry.failed_at ? new Date(entry.failed_at) : undefined)}
            </p>
            <p class="warn-text">{entry.error}</p>
            <button type="button" class="link" aria-expanded={open === entry.seq} onClick={() => setOpen(open === entry.seq ? undefined : entry.seq)}>
              {open === entry.seq ? "Close" : `Inspect #${entry.seq}`}
            </button>
            {open === entry.seq ? <Inspect seq={entry.seq} onDone={refresh} /> : null}
          </li>
        ))}
      </ul>
      {starts.length > 1 || list.data?.next_seq ? (
        <nav class="pager" aria-label="Dead letter pages">
          <button type="button" class="secondary" disabled={starts.length < 2} onClick={() => setStarts(starts.slice(0, -1))}>
            ← First ones
          </button>
          <button type="button" class="secondary" disabled={!list.data?.next_seq} onClick={() => setStarts([...starts, list.data!.next_seq!])}>
            More →
          </button>
        </nav>
      ) : null}
    </section>
  );
}

function Inspect({ seq, onDone }: { seq: number; onDone(message: string): void }) {
  const detail = useLoad(() => rest<DeadLetterDetail>("GET", `/api/v1/admin/dlq/${seq}`), [seq]);
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const replay = useAction(async () => {
    const answer = await rest<{ subject: string; stream_seq: number }>("POST", `/api/v1/admin/dlq/${seq}/replay`);
    onDone(`Dead letter #${seq} was replayed on ${answer.subject}.`);
  });
  const discard = useAction(async () => {
    await rest("DELETE", `/api/v1/admin/dlq/${seq}`);
    onDone(`Dead letter #${seq} was discarded.`);
  });
  return (
    <div class="inspect">
      <ErrorNotice error={detail.error} context="This dead letter cannot be read" onRetry={detail.reload} />
      {detail.loading ? <Loading /> : null}
      {detail.data ? (
        <>
          <dl class="facts facts-wide">
            <div>
              <dt>Event id</dt>
              <dd class="mono">{detail.data.event_id || "—"}</dd>
            </div>
            <div>
              <dt>Original subject</dt>
              <dd class="mono">{detail.data.original_subject}</dd>
            </div>
          </dl>
          <h3>Payload{detail.data.payload.json !== undefined ? "" : " (base64)"}</h3>
          {detail.data.payload.decode_error ? <p class="warn-text">Cannot decode: {detail.data.payload.decode_error}</p> : null}
          <pre class="message-body">
            {detail.data.payload.json !== undefined ? JSON.stringify(detail.data.payload.json, null, 2) : detail.data.payload.base64 || "(empty)"}
          </pre>
          <details>
            <summary>Headers</summary>
            <pre class="message-body">{JSON.stringify(detail.data.headers, null, 2)}</pre>
          </details>
        </>
      ) : null}
      <ErrorNotice error={replay.error ?? discard.error} context="The operation failed" />
      <div class="button-row">
        <button type="button" onClick={() => void replay.run()} disabled={replay.busy || discard.busy}>
          {replay.busy ? "Replaying…" : `Replay #${seq}`}
        </button>
        {confirmDiscard ? (
          <>
            <button type="button" class="danger" onClick={() => void discard.run()} disabled={discard.busy}>
              {discard.busy ? "Discarding…" : `Yes, discard #${seq} for good`}
            </button>
            <button type="button" class="secondary" onClick={() => setConfirmDiscard(false)}>
              Keep it
            </button>
          </>
        ) : (
          <button type="button" class="secondary danger-text" onClick={() => setConfirmDiscard(true)}>
            Discard…
          </button>
        )}
      </div>
    </div>
  );
}
