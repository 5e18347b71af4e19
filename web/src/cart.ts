import { useEffect, useState } from "preact/hooks";

/** One line of the cart. The price shown is the catalog's at the time; the order service prices the order. */
export interface CartLine {
  productId: string;
  name: string;
  currencyCode: string;
  /** Minor units as a string (bigint does not survive JSON). */
  unitPriceMinor: string;
  quantity: number;
}

export const MAX_QUANTITY = 1000;

function storageKey(sub: string): string {
  return `ordermesh.cart.${sub}`;
}

function read(sub: string): CartLine[] {
  try {
    const value = JSON.parse(localStorage.getItem(storageKey(sub)) ?? "[]") as CartLine[];
    return Array.isArray(value) ? value.filter((line) => typeof line.productId === "string" && line.quantity > 0) : [];
  } catch {
    return [];
  }
}

/** The cart of one signed-in customer, kept in localStorage and shared between their tabs. */
export function useCart(sub: string) {
  const [lines, setLines] = useState<CartLine[]>(() => read(sub));
  useEffect(() => {
    setLines(read(sub));
    const onStorage = (event: StorageEvent) => event.key === storageKey(sub) && setLines(read(sub));
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [sub]);
  const save = (next: CartLine[]) => {
    setLines(next);
    if (next.length === 0) localStorage.removeItem(storageKey(sub));
    else localStorage.setItem(storageKey(sub), JSON.stringify(next));
  };
  return {
    lines,
    count: lines.reduce((sum, line) => sum + line.quantity, 0),
    add(line: Omit<CartLine, "quantity">, quantity: number) {
      const existing = lines.find((l) => l.productId === line.productId);
      const next = existing
        ? lines.map((l) => (l === existing ? { ...l, quantity: Math.min(MAX_QUANTITY, l.quantity + quantity) } : l))
        : [...lines, { ...line, quantity: Math.min(MAX_QUANTITY, quantity) }];
      save(next);
    },
    setQuantity(productId: string, quantity: number) {
      save(lines.map((l) => (l.productId === productId ? { ...l, quantity: Math.max(1, Math.min(MAX_QUANTITY, quantity)) } : l)));
    },
    remove(productId: string) {
      save(lines.filter((l) => l.productId !== productId));
    },
    clear() {
      save([]);
    },
  };
}

export type Cart = ReturnType<typeof useCart>;
