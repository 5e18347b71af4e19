import { invalidArgument } from "./errors.js";

/**
 * Money in ordermesh: an integer number of the currency's minor units plus its ISO 4217 code,
 * never a float, and in TypeScript always a bigint, as shop.common.v1.Money.amount_minor
 * (int64) is in the generated code and as PostgreSQL's bigint columns hold it. This module holds
 * the rules every service shares: the type, how an amount from a request or an event is checked,
 * how one is read from SQL, how many minor digits a currency has, and how an amount is written
 * for people.
 */

/**
 * An amount of money. Structurally a shop.common.v1.Money without its message type, so a
 * decoded proto Money is one and one can be given wherever a Money message is built.
 */
export interface Money {
  /** ISO 4217 code, e.g. "USD". */
  currencyCode: string;
  /** Integer minor units (cents for USD). */
  amountMinor: bigint;
}

/** The largest amount an int64 (Money.amount_minor) or a PostgreSQL bigint can hold. */
export const MAX_AMOUNT_MINOR = 2n ** 63n - 1n;

/** A Money from its parts. */
export function money(currencyCode: string, amountMinor: bigint): Money {
  return { currencyCode, amountMinor };
}

/** What is wrong with an amount, naming the part of Money at fault. */
export interface MoneyProblem {
  /** "currency_code" or "amount_minor", as the proto names them. */
  field: "currency_code" | "amount_minor";
  problem: string;
}

export interface MoneyRules {
  /** Zero is refused too (a charge, a refund); by default zero is fine (a free product). */
  positive?: boolean;
}

/**
 * Why `value` is not an acceptable amount (no currency code of three capitals, negative, zero
 * when `positive`, beyond int64), or undefined when it is. For callers that report problems
 * their own way (an event consumer's PermanentError); requests use `requireMoney`.
 */
export function moneyProblem(value: Money, rules: MoneyRules = {}): MoneyProblem | undefined {
  if (!/^[A-Z]{3}$/.test(value.currencyCode)) return { field: "currency_code", problem: "must be an ISO 4217 code such as USD" };
  if (rules.positive && value.amountMinor <= 0n) return { field: "amount_minor", problem: "must be greater than zero" };
  if (value.amountMinor < 0n) return { field: "amount_minor", problem: "must not be negative" };
  if (value.amountMinor > MAX_AMOUNT_MINOR) return { field: "amount_minor", problem: "is too large" };
  return undefined;
}

/**
 * The amount of a request field, checked: INVALID_ARGUMENT naming the field when it is missing
 * or has a problem (`amount.currency_code: must be ...`). Returns a plain Money (no proto type).
 */
export function requireMoney(field: string, value: Money | undefined, rules: MoneyRules = {}): Money {
  if (!value) throw invalidArgument(field, "is required");
  const problem = moneyProblem(value, rules);
  if (problem) throw invalidArgument(`${field}.${problem.field}`, problem.problem);
  return money(value.currencyCode, value.amountMinor);
}

/**
 * An amount read from SQL. node-postgres returns int8 (bigint) and numeric columns, and sums of
 * them, as strings so nothing is rounded; this turns such a value (or a number or bigint) into a
 * bigint, and refuses anything that is not an integer rather than guessing.
 */
export function minorFromSql(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`not an integer amount of minor units: ${String(value)}`);
}

const digitsByCurrency = new Map<string, number>();

/**
 * Digits after the decimal point of an ISO 4217 currency (2 for USD, 0 for JPY, 3 for KWD; 2 if
 * unknown). Cached: building an Intl.NumberFormat per call showed up in benchmark profiles.
 */
export function minorDigits(currencyCode: string): number {
  let digits = digitsByCurrency.get(currencyCode);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency: currencyCode }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsByCurrency.set(currencyCode, digits);
  }
  return digits;
}

/**
 * An amount for people: "1,234.50 USD", "1,500 JPY", "-2.50 EUR". The ISO code rather than a
 * symbol (unambiguous, and every PDF font can show it); thousands grouped with commas. Exact
 * (no floating point on the way). The one way ordermesh writes money for people: invoices,
 * notifications and the analytics timeline all use it.
 */
export function formatMoney(value: Money): string;
export function formatMoney(amountMinor: bigint, currencyCode: string): string;
export function formatMoney(value: Money | bigint, currencyCode?: string): string {
  const { amountMinor: amount, currencyCode: code } = typeof value === "bigint" ? { amountMinor: value, currencyCode: currencyCode ?? "" } : value;
  const digits = minorDigits(code);
  const negative = amount < 0n;
  const abs = (negative ? -amount : amount).toString().padStart(digits + 1, "0");
  const whole = abs.slice(0, abs.length - digits).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits > 0 ? `.${abs.slice(abs.length - digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction} ${code}`;
}
