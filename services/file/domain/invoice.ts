
/**
 * The content of an invoice, independent of how it is laid out. Pure: money is integer minor
 * units, formatted without floating point.
 */

export interface InvoiceLine {
  productId: string;
  name: string;
  quantity: number;
  unitPriceMinor: number;
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
  totalMinor: number;
  shippingAddress?: InvoiceAddress;
  paymentId: string;
  cardLast4: string;
  /** What the payment charged, when the event said. */
  paidMinor?: number;
}

export function lineTotalMinor(line: InvoiceLine): number {
  return line.unitPriceMinor * line.quantity;
}

export function subtotalMinor(lines: readonly InvoiceLine[]): number {
  return lines.reduce((sum, line) => sum + lineTotalMinor(line), 0);
}

/** The address as printed lines, empty parts left out. */
export function addressLines(address: InvoiceAddress): string[] {
  const cityLine = [address.postalCode, address.city].filter(Boolean).join(" ");
  return [
    address.recipientName,
    address.line1,
    address.line2,
    [cityLine, address.region].filter(Boolean).join(", "),
    address.countryCode,
  ].filter((line) => line.trim() !== "");
}
