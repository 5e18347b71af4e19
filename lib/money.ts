/**
 * Money in ordermesh: an integer number of the currency's minor units plus its ISO 4217 code,
 * never a float (shop.common.v1.Money). This module holds the rules every service shares: how
 * many minor digits a currency has, and how an amount is written for people.
 */

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
 * for any integer, bigint or number (no floating point on the way).
 */
export function formatMoney(amountMinor: bigint | number, currencyCode: string): string {
  const amount = BigInt(amountMinor);
  const digits = minorDigits(currencyCode);
  const negative = amount < 0n;
  const abs = (negative ? -amount : amount).toString().padStart(digits + 1, "0");
  const whole = abs.slice(0, abs.length - digits).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits > 0 ? `.${abs.slice(abs.length - digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction} ${currencyCode}`;
}
