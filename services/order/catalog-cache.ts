import { fromBinary } from "@bufbuild/protobuf";
import { InventoryProductChangedSchema } from "../../gen/shop/events/v1/inventory_events_pb.js";
import { eventSubject, type EventBus } from "../../lib/events/index.js";
import type { Logger } from "../../lib/log.js";
import type { Worker } from "../../lib/runtime/index.js";
import type { Catalog } from "./catalog.js";
import type { CatalogProduct } from "./domain/pricing.js";

export interface CatalogCacheOptions {
  /** How long an entry is used without news from inventory: the backstop for a missed event. */
  ttlMs: number;
  /** Entries kept at most; the oldest go first. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  product: CatalogProduct;
  fetchedAt: number;
}

/**
 * A Catalog that keeps what inventory answered, so CreateOrder makes no catalog call while the
 * prices it holds are fresh. Inventory's `product_changed` event drops a product
 * (`watchProductChanges`); entries also expire after `ttlMs`, and nothing is served while the
 * event subscription is not known to be live. Unknown products are not remembered: they are
 * asked for every time.
 *
 * How stale an entry can be: inventory enqueues `product_changed` on the transaction of every
 * UpdateProduct and of every stock move that makes a product sell out or come back (available
 * reaching 0, or leaving it), so the event leaves at that commit and an entry outlives the
 * change only by the relay's and NATS's delay, or by `ttlMs` at most if the event is lost. An
 * answer fetched before an invalidation is never kept. So `soldOut` is right to within that
 * delay: an order placed meanwhile for the last units is REJECTED by inventory's reservation
 * (which always decides), and one refused meanwhile as sold out may be placed again.
 * The available count itself is not kept: moves that do not cross zero publish nothing.
 */
export class CachedCatalog implements Catalog {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** Bumped by every invalidation: an answer fetched before one may be stale and is not kept. */
  private generation = 0;
  private live = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly source: Catalog,
    private readonly options: CatalogCacheOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  async products(productIds: string[], call?: { signal?: AbortSignal; deadline?: Date }): Promise<Map<string, CatalogProduct>> {
    const found = new Map<string, CatalogProduct>();
    const missing: string[] = [];
    const now = this.now();
    for (const id of productIds) {
      const entry = this.live ? this.entries.get(id) : undefined;
      if (entry && now - entry.fetchedAt < this.options.ttlMs) found.set(id, entry.product);
      else missing.push(id);
    }
    if (missing.length === 0) {
      this.hits++;
      return found;
    }
    this.misses++;
    const generation = this.generation;
    const fetched = await this.source.products(missing, call);
    const keep = this.live && generation === this.generation;
    for (const [id, product] of fetched) {
      found.set(id, product);
      if (keep) this.remember(id, { product, fetchedAt: now });
    }
    return found;
  }

  /** Inventory changed `productId`: the next order asks for it again. */
  invalidate(productId: string): void {
    this.generation++;
    this.entries.delete(productId);
  }

  /** Forget everything (the event subscription broke or came back: events may have been missed). */
  clear(live: boolean): void {
    this.generation++;
    this.entries.clear();
    this.live = live;
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}

/**
 * Keeps `cache` in step with inventory: a plain NATS subscription (every replica of the order
 * service hears every change, unlike a shared durable consumer) to `product_changed`. While
 * the connection is down the cache serves nothing, and it starts empty again on reconnect.
 */
export function watchProductChanges(cache: CachedCatalog, bus: Pick<EventBus, "nc" | "names">, logger: Logger): Worker {
  const subscription = bus.nc.subscribe(eventSubject(bus.names, InventoryProductChangedSchema), {
    callback: (error, message) => {
      if (error) {
        logger.warn({ err: error }, "product change subscription failed: the catalog cache is off");
        cache.clear(false);
        return;
      }
      try {
        cache.invalidate(fromBinary(InventoryProductChangedSchema, message.data).productId.toLowerCase());
      } catch (decodeError) {
        // Undecodable news about some product: forget every product rather than risk a stale price.
        logger.warn({ err: decodeError }, "undecodable product change: the catalog cache is cleared");
        cache.clear(true);
      }
    },
  });
  let stopped = false;
  // Ends when the connection closes at shutdown.
  void (async () => {
    for await (const status of bus.nc.status()) {
      if (stopped) break;
      if (status.type === "disconnect") cache.clear(false);
      else if (status.type === "reconnect") cache.clear(true);
    }
  })();
  // The subscription is registered with the server once this flush returns; until then nothing is cached.
  void bus.nc.flush().then(
    () => !stopped && cache.clear(true),
    () => undefined,
  );
  return {
    async stop() {
      stopped = true;
      cache.clear(false);
      subscription.unsubscribe();
    },
  };
}
