import pg from "pg";
import type { Database } from "../../lib/db/index.js";
import { notFound, unavailable } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import type { Worker } from "../../lib/runtime/index.js";
import { isTerminal } from "./domain/order-status.js";
import type { OrderStatusHistoryRow } from "./entities.js";
import { findHistory, loadOrder, type OrderView, STATUS_CHANNEL } from "./order-store.js";

/**
 * Wakes WatchOrder streams when their order changes. One Postgres connection per process
 * LISTENs on the channel every status change NOTIFYs (at commit, from whichever replica made
 * the change); streams subscribe by order id. While that connection is down (it reconnects
 * with back-off) streams still see changes through their fallback poll, and every stream is
 * woken after a reconnect. Stopping it (first thing on shutdown) ends every stream with
 * UNAVAILABLE, so clients re-watch elsewhere and the gRPC drain is not held up by them.
 */
export class StatusNotifier implements Worker {
  readonly #subscribers = new Map<string, Set<() => void>>();
  readonly #closing = new AbortController();
  #client: pg.Client | undefined;
  #running: Promise<void> | undefined;
  #connected = false;

  constructor(private readonly options: { databaseUrl: string; logger: Logger }) {}

  /** Aborted when the notifier stops: streams end. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /** True while the LISTEN connection is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Number of subscribed streams. */
  get subscribers(): number {
    let n = 0;
    for (const set of this.#subscribers.values()) n += set.size;
    return n;
  }

  /** Starts listening in the background; returns itself as the service's worker. */
  start(): this {
    this.#running ??= this.#run();
    return this;
  }

  /** Calls `wake` whenever `orderId` may have changed; returns the unsubscribe function. */
  subscribe(orderId: string, wake: () => void): () => void {
    let set = this.#subscribers.get(orderId);
    if (!set) this.#subscribers.set(orderId, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#subscribers.get(orderId) === set) this.#subscribers.delete(orderId);
    };
  }

  async stop(): Promise<void> {
    if (this.#closing.signal.aborted) return this.#running;
    this.#closing.abort();
    await this.#client?.end().catch(() => undefined);
    await this.#running;
  }

  #wake(orderId: string): void {
    for (const wake of this.#subscribers.get(orderId) ?? []) wake();
  }

  #wakeAll(): void {
    for (const set of this.#subscribers.values()) for (const wake of set) wake();
  }

  async #run(): Promise<void> {
    const { logger } = this.options;
    let failures = 0;
    while (!this.#closing.signal.aborted) {
      const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: "order-watch" });
      const lost = new Promise<unknown>((resolve) => {
        client.on("error", resolve);
        client.on("end", () => resolve(undefined));
      });
      client.on("notification", (message) => {
        if (message.channel === STATUS_CHANNEL && message.payload) this.#wake(message.payload);
      });
      this.#client = client;
      try {
        await client.connect();
        await client.query(`LISTEN ${STATUS_CHANNEL}`);
        this.#connected = true;
        failures = 0;
        // Changes made while we were not listening.
        this.#wakeAll();
        const error = await lost;
        if (!this.#closing.signal.aborted) logger.warn({ err: error }, "status listener connection lost; reconnecting");
      } catch (error) {
        if (!this.#closing.signal.aborted) logger.warn({ err: error }, "status listener cannot connect; retrying");
      } finally {
        this.#connected = false;
        this.#client = undefined;
        await client.end().catch(() => undefined);
      }
      if (this.#closing.signal.aborted) break;
      failures++;
      await sleep(Math.min(5_000, 100 * 2 ** failures), this.#closing.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A wake-up flag a stream waits on: set by notifications, consumed by `wait`. */
class Wakeup {
  #pending = false;
  #resolve: (() => void) | undefined;

  wake(): void {
    this.#pending = true;
    this.#resolve?.();
  }

  /** Resolves on a wake (also one that came before), after `ms`, or when a signal aborts. */
  async wait(ms: number, signals: AbortSignal[]): Promise<void> {
    if (!this.#pending && !signals.some((s) => s.aborted)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          for (const signal of signals) signal.removeEventListener("abort", done);
          this.#resolve = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        for (const signal of signals) signal.addEventListener("abort", done, { once: true });
        this.#resolve = done;
      });
    }
    this.#pending = false;
  }
}

export interface WatchUpdate {
  view: OrderView;
  /** Unset in the first update. */
  change?: OrderStatusHistoryRow;
}

/**
 * The updates of WatchOrder: the order now, then one update per status change in order (the
 * order as it was right after that change), until a final status. Ends early, without error,
 * when `signal` aborts (the client cancelled); ends with UNAVAILABLE when the server shuts down.
 * Subscribes before the first read, so no change between the read and the subscription is lost.
 */
export async function* watchOrder(
  deps: { orm: Database; notifier: StatusNotifier; pollMs: number },
  orderId: string,
  signal: AbortSignal,
): AsyncGenerator<WatchUpdate> {
  const { orm, notifier } = deps;
  if (notifier.closing.aborted) throw unavailable("the server is shutting down; watch again");
  const wakeup = new Wakeup();
  const unsubscribe = notifier.subscribe(orderId, () => wakeup.wake());
  try {
    const first = await loadOrder(orm.em.fork(), orderId);
    if (!first) throw notFound("order", orderId);
    yield { view: first };
    if (isTerminal(first.order.status)) return;
    let lastId = first.history.at(-1)?.id ?? 0;
    while (!signal.aborted) {
      await wakeup.wait(deps.pollMs, [signal, notifier.closing]);
      if (signal.aborted) return;
      if (notifier.closing.aborted) throw unavailable("the server is shutting down; watch again");
      const em = orm.em.fork();
      const changes = await findHistory(em, orderId, lastId);
      if (changes.length === 0) continue;
      const now = await loadOrder(em, orderId);
      if (!now) return;
      for (const change of changes) {
        lastId = change.id;
        const history = now.history.filter((h) => h.id <= change.id);
        yield { view: { ...now, order: { ...now.order, status: change.toStatus }, history }, change };
        if (isTerminal(change.toStatus)) return;
      }
    }
  } finally {
    unsubscribe();
  }
}
