import { describe, expect, it } from "@jest/globals";
import type { Catalog } from "./catalog.js";
import { CachedCatalog } from "./catalog-cache.js";
import type { CatalogProduct } from "./domain/pricing.js";

function product(id: string, unitPriceMinor = 100n): CatalogProduct {
  return { id, name: id, status: "ACTIVE", currencyCode: "USD", unitPriceMinor, soldOut: false };
}

/** A source that records what it was asked and answers with the current `prices`. */
function source(prices: Map<string, bigint>) {
  const asked: string[][] = [];
  let hold: Promise<void> | undefined;
  const catalog: Catalog = {
    async products(ids) {
      asked.push(ids);
      const answer = new Map(ids.filter((id) => prices.has(id)).map((id) => [id, product(id, prices.get(id))]));
      await hold;
      return answer;
    },
  };
  return { catalog, asked, holdNext: (until: Promise<void>) => (hold = until) };
}

function liveCache(catalog: Catalog, options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
  const cache = new CachedCatalog(catalog, { ttlMs: options.ttlMs ?? 30_000, maxEntries: options.maxEntries, now: options.now });
  cache.clear(true);
  return cache;
}

describe("CachedCatalog", () => {
  it("asks the source only for what it does not hold", async () => {
    const s = source(
      new Map([
        ["a", 1n],
        ["b", 2n],
      ]),
    );
    const cache = liveCache(s.catalog);
    await cache.products(["a"]);
    const both = await cache.products(["a", "b"]);
    await cache.products(["b", "a"]);
    expect(s.asked).toEqual([["a"], ["b"]]);
    expect([...both.values()].map((p) => p.unitPriceMinor)).toEqual([1n, 2n]);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 2 });
  });

  it("never remembers unknown products", async () => {
    const s = source(new Map());
    const cache = liveCache(s.catalog);
    expect((await cache.products(["x"])).size).toBe(0);
    await cache.products(["x"]);
    expect(s.asked).toEqual([["x"], ["x"]]);
  });

  it("asks again after an invalidation and after the TTL", async () => {
    const prices = new Map([["a", 1n]]);
    let now = 0;
    const s = source(prices);
    const cache = liveCache(s.catalog, { ttlMs: 1_000, now: () => now });
    await cache.products(["a"]);
    prices.set("a", 5n);
    cache.invalidate("a");
    expect((await cache.products(["a"])).get("a")?.unitPriceMinor).toBe(5n);
    now = 999;
    await cache.products(["a"]);
    now = 1_000;
    await cache.products(["a"]);
    expect(s.asked).toHaveLength(3);
  });

  it("does not keep an answer fetched before an invalidation that came during the call", async () => {
    const s = source(new Map([["a", 1n]]));
    const cache = liveCache(s.catalog);
    let release!: () => void;
    s.holdNext(new Promise((resolve) => (release = resolve)));
    const pending = cache.products(["a"]);
    cache.invalidate("a");
    release();
    expect((await pending).get("a")?.unitPriceMinor).toBe(1n);
    expect(cache.size).toBe(0);
  });

  it("serves and keeps nothing while the change subscription is not live", async () => {
    const s = source(new Map([["a", 1n]]));
    const cache = new CachedCatalog(s.catalog, { ttlMs: 30_000 });
    await cache.products(["a"]);
    await cache.products(["a"]);
    expect(s.asked).toHaveLength(2);
    cache.clear(true);
    await cache.products(["a"]);
    cache.clear(false);
    await cache.products(["a"]);
    expect(s.asked).toHaveLength(4);
  });

  it("keeps at most maxEntries, dropping the least recently fetched", async () => {
    const s = source(
      new Map([
        ["a", 1n],
        ["b", 2n],
        ["c", 3n],
      ]),
    );
    const cache = liveCache(s.catalog, { maxEntries: 2 });
    await cache.products(["a"]);
    await cache.products(["b"]);
    await cache.products(["c"]);
    expect(cache.size).toBe(2);
    await cache.products(["a"]);
    expect(s.asked.at(-1)).toEqual(["a"]);
  });
});
