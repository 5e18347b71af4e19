import type { Timestamp } from "@bufbuild/protobuf/wkt";

/*
 * Money as the server writes it (lib/money.ts formatMoney, which the web app cannot import):
 * bigint minor units, never a float, "1,234.50 USD". The same rules here, so a price reads the
 * same on the page, in the invoice and in the notification.
 */

/** The largest amount Money.amount_minor (int64) can hold. */
const MAX_AMOUNT_MINOR = 2n ** 63n - 1n;

const digitsByCurrency = new Map<string, number>();

/** Digits after the decimal point of an ISO 4217 currency (2 for USD, 0 for JPY, 3 for KWD; 2 if unknown). */
export function minorDigits(currencyCode: string): number {
  let digits = digitsByCurrency.get(currencyCode);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency: currencyCode }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2; // not a currency code Intl knows: the server falls back the same way
    }
    digitsByCurrency.set(currencyCode, digits);
  }
  return digits;
}

/** `amountMinor` as a decimal without the code: "1,234.50" (grouped) or "1234.50". Exact. */
function decimal(amountMinor: bigint, digits: number, grouped: boolean): string {
  const negative = amountMinor < 0n;
  const abs = (negative ? -amountMinor : amountMinor).toString().padStart(digits + 1, "0");
  const whole = abs.slice(0, abs.length - digits);
  const fraction = digits > 0 ? `.${abs.slice(abs.length - digits)}` : "";
  return `${negative ? "-" : ""}${grouped ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : whole}${fraction}`;
}

/** An amount for people, as the server writes it: "1,234.50 USD", "1,500 JPY", "-2.50 EUR"; "—" when absent. */
export function formatMoney(money: { currencyCode: string; amountMinor: bigint } | undefined): string {
  if (!money) return "—";
  const currency = money.currencyCode || "USD";
  return `${decimal(money.amountMinor, minorDigits(currency), true)} ${currency}`;
}

/** An amount as an input's starting value, ungrouped ("1234.50"), which `parseAmount` reads back. */
export function amountInput(amountMinor: bigint, currency: string): string {
  return decimal(amountMinor, minorDigits(currency), false);
}

/** What `parseAmount` read: minor units, or why the text is not an amount (a phrase to follow the field's name). */
export type ParsedAmount = { amountMinor: bigint; problem?: undefined } | { amountMinor?: undefined; problem: string };

/**
 * Reads an amount typed by a person ("12.5", "1,234.50", "500") into minor units of `currency`,
 * exactly (digit strings to bigint, no floating point). Commas may group thousands; the point
 * is the only decimal separator, so "1,5" is refused rather than guessed at.
 */
export function parseAmount(text: string, currency = "USD"): ParsedAmount {
  const digits = minorDigits(currency);
  const example = digits === 0 ? "1,500" : `1,234.${"5".padEnd(digits, "0")}`;
  const value = text.trim();
  if (value === "") return { problem: `is required (an amount such as ${example})` };
  if (/^-\s*[\d.,]/.test(value)) return { problem: "must not be negative" };
  const match = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d*))?$/.exec(value) ?? /^()\.(\d+)$/.exec(value);
  if (!match) return { problem: `must be a number such as ${example}, got "${value.slice(0, 40)}"` };
  const fraction = match[2] ?? "";
  if (fraction.length > digits) {
    return {
      problem:
        digits === 0 ? `must be whole ${currency}: ${currency} has no decimal places` : `has ${fraction.length} decimal places; ${currency} has ${digits}`,
    };
  }
  const amountMinor = BigInt((match[1] || "0").replace(/,/g, "") + fraction.padEnd(digits, "0"));
  if (amountMinor > MAX_AMOUNT_MINOR) return { problem: "is too large" };
  return { amountMinor };
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
