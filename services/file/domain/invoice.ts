/**
 * The content of an invoice, independent of how it is laid out. Pure: money is bigint minor
 * units of the invoice's one currency (lib/money), formatted without floating point.
 */

export interface InvoiceLine {
  productId: string;
  name: string;
  quantity: number;
  unitPriceMinor: bigint;
}

export interface InvoiceAddress {
  recipientName: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  countryCode: string;
}

export interface Invoice {
  orderId: string;
  customerId: string;
  customerName: string;
  customerEmail: string;
  /** The invoice date: when the payment completed. */
  issuedAt: Date;
  currencyCode: string;
  lines: InvoiceLine[];
  /** The order total as placed. */
  totalMinor: bigint;
  shippingAddress?: InvoiceAddress;
  paymentId: string;
  cardLast4: string;
  /** What the payment charged, when the event said. */
  paidMinor?: bigint;
}

export function lineTotalMinor(line: InvoiceLine): bigint {
  return line.unitPriceMinor * BigInt(line.quantity);
}

export function subtotalMinor(lines: readonly InvoiceLine[]): bigint {
  return lines.reduce((sum, line) => sum + lineTotalMinor(line), 0n);
}

/** The address as printed lines, empty parts left out. */
export function addressLines(address: InvoiceAddress): string[] {
  const cityLine = [address.postalCode, address.city].filter(Boolean).join(" ");
  return [address.recipientName, address.line1, address.line2, [cityLine, address.region].filter(Boolean).join(", "), address.countryCode].filter(
    (line) => line.trim() !== "",
  );
}
