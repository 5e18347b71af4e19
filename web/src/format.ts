import type { Timestamp } from "@bufbuild/protobuf/wkt";

/** Formats integer minor units in their currency (e.g. 1999 USD -> $19.99). */
export function formatMoney(money: { currencyCode: string; amountMinor: bigint } | undefined): string {
  if (!money) return "—";
  const currency = money.currencyCode || "USD";
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  const value = Number(money.amountMinor) / 10 ** digits;
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
}

/** Parses a decimal amount typed by a person ("19.99") into minor units; undefined if not a price. */
export function parseAmount(text: string, currency = "USD"): bigint | undefined {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  const match = /^\s*(\d{1,12})(?:[.,](\d*))?\s*$/.exec(text);
  if (!match) return undefined;
  const fraction = match[2] ?? "";
  if (fraction.length > digits) return undefined;
  return BigInt(match[1]) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, "0") || "0");
}

export function toDate(ts: Timestamp | undefined): Date | undefined {
  if (!ts) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
}

export function formatTime(ts: Timestamp | Date | undefined): string {
  const date = ts instanceof Date ? ts : toDate(ts);
  if (!date) return "—";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" }).format(date);
}

/**
 * A protobuf enum value as words: `OrderStatus.PAYMENT_FAILED` -> "Payment failed".
 * `names` is the generated enum object (value -> NAME).
 */
export function enumLabel(names: Record<number, string>, value: number): string {
  const name = names[value];
  if (!name || name === "UNSPECIFIED") return "Unknown";
  const words = name.toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function shortId(id: string): string {
  return id.length > 13 ? `…${id.slice(-8)}` : id;
}
