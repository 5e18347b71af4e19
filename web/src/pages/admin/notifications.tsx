import { useState } from "preact/hooks";
import { Channel } from "../../../../gen/shop/notification/v1/notification_pb.js";
import { notifications } from "../../api.js";
import { ErrorNotice, Loading, Notice, PageTitle, Pager } from "../../components/ui.js";
import { enumLabel, formatTime, shortId } from "../../format.js";
import { useLoad } from "../../hooks.js";
import { usePaging } from "../../paging.js";
import { href } from "../../router.js";
import { NotificationStatusBadge } from "../../status.js";

/** Admin: the notifications sent (or failing) to customers, newest first. */
export function AdminNotifications() {
  const paging = usePaging();
  const [orderId, setOrderId] = useState("");
  const [open, setOpen] = useState<string>();
  const list = useLoad(
    (signal) => notifications.listNotifications({ pageSize: 20, pageToken: paging.token, orderId: orderId.trim() }, { signal }),
    [paging.token, orderId],
  );
  return (
    <section>
      <PageTitle>Notifications</PageTitle>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label for="notification-order">Order id</label>
        <input
          id="notification-order"
          placeholder="all orders"
          spellcheck={false}
          value={orderId}
          onChange={(e) => {
            setOrderId(e.currentTarget.value);
            paging.reset();
          }}
        />
      </form>
      <ErrorNotice error={list.error} context="Notifications cannot be loaded" onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.notifications.length === 0 ? <Notice>No notifications.</Notice> : null}
      <ul class="stack">
        {list.data?.notifications.map((n) => (
          <li key={n.id} class="card notification">
            <div class="notification-head">
              <NotificationStatusBadge status={n.status} />
              <span class="badge badge-neutral">{enumLabel(Channel as unknown as Record<number, string>, n.channel)}</span>
              <strong>{n.subject || "(no subject)"}</strong>
            </div>
            <p class="hint">
              to {n.recipient} · {formatTime(n.createdAt)}
              {n.orderId ? (
                <>
                  {" "}
                  · order{" "}
                  <a href={href({ page: "order", id: n.orderId })} class="mono">
                    {shortId(n.orderId)}
                  </a>
                </>
              ) : null}
              {n.attempts > 1 ? ` · ${n.attempts} attempts` : ""}
            </p>
            {n.lastError ? <p class="warn-text">Last error: {n.lastError}</p> : null}
            <button type="button" class="link" aria-expanded={open === n.id} onClick={() => setOpen(open === n.id ? undefined : n.id)}>
              {open === n.id ? "Hide message" : "Show message"}
            </button>
            {open === n.id ? <pre class="message-body">{n.body}</pre> : null}
          </li>
        ))}
      </ul>
      <Pager
        label="Notifications"
        hasPrevious={paging.hasPrevious}
        nextToken={list.data?.nextPageToken ?? ""}
        onPrevious={paging.previous}
        onNext={() => paging.next(list.data!.nextPageToken)}
      />
    </section>
  );
}
