import { minorDigits } from "../../../lib/money.js";

/** Money for people: integer minor units + ISO 4217 code, never through floating point. */

/** "19.99 EUR", "500 JPY", "-0.05 USD". */
export function formatMoney(amountMinor: bigint | number, currencyCode: string): string {
  const amount = BigInt(amountMinor);
  const digits = minorDigits(currencyCode);
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const scale = 10n ** BigInt(digits);
  const whole = (abs / scale).toString();
  const fraction = digits > 0 ? `.${(abs % scale).toString().padStart(digits, "0")}` : "";
  return `${negative ? "-" : ""}${whole}${fraction} ${currencyCode}`;
}
