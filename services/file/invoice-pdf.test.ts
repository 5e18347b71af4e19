import { createHash } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import type { Invoice } from "./domain/invoice.js";
import { renderInvoicePdf } from "./invoice-pdf.js";
import { pdfText } from "./test-support.js";

function invoice(overrides: Partial<Invoice> = {}): Invoice {
  return {
    orderId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    customerId: "0190a1b2-0000-7000-8000-000000000001",
    customerName: "Ada Lovelace",
    customerEmail: "ada@example.com",
    issuedAt: new Date("2025-03-14T09:26:53Z"),
    currencyCode: "EUR",
    lines: [
      { productId: "p1", name: "Analytical Engine", quantity: 2, unitPriceMinor: 125000n },
      { productId: "p2", name: "Punch cards (box)", quantity: 10, unitPriceMinor: 450n },
    ],
    totalMinor: 254500n,
    shippingAddress: {
      recipientName: "Ada Lovelace",
      line1: "12 St James's Square",
      line2: "",
      city: "London",
      region: "",
      postalCode: "SW1Y 4JH",
      countryCode: "GB",
    },
    paymentId: "0190a1b2-0000-7000-8000-000000000042",
    cardLast4: "4242",
    paidMinor: 254500n,
    ...overrides,
  };
}

describe("renderInvoicePdf", () => {
  it("renders a PDF with the order id, date, customer, address, lines and totals", async () => {
    const pdf = await renderInvoicePdf(invoice(), { compress: false });
    expect(pdf.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    expect(pdf.subarray(-6).toString("latin1")).toMatch(/%%EOF/);
    const text = pdfText(pdf);
    for (const expected of [
      "INVOICE",
      "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      "2025-03-14",
      "Ada Lovelace",
      "ada@example.com",
      "SW1Y 4JH London",
      "Analytical Engine",
      "Punch cards (box)",
      "1,250.00 EUR",
      "2,500.00 EUR",
      "45.00 EUR",
      "2,545.00 EUR",
      "**** 4242",
      "0190a1b2-0000-7000-8000-000000000042",
    ]) {
      expect(text).toContain(expected);
    }
  });

  it("is deterministic, compressed by default, and survives long orders and odd text", async () => {
    const a = await renderInvoicePdf(invoice());
    const b = await renderInvoicePdf(invoice());
    expect(createHash("sha256").update(a).digest("hex")).toBe(createHash("sha256").update(b).digest("hex"));
    expect(a.subarray(0, 4).toString("latin1")).toBe("%PDF");
    expect(a.length).toBeLessThan((await renderInvoicePdf(invoice(), { compress: false })).length);
    expect(pdfText(a)).toContain("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");

    const lines = Array.from({ length: 100 }, (_, i) => ({ productId: `p${i}`, name: `Item ${i} ${"ü€日本".repeat(30)}`, quantity: 1, unitPriceMinor: 100n }));
    const long = await renderInvoicePdf(invoice({ lines, totalMinor: 10_500n, shippingAddress: undefined, paidMinor: undefined }), { compress: false });
    expect((long.toString("latin1").match(/\/Type \/Page\b/g) ?? []).length).toBeGreaterThan(1);
    const text = pdfText(long);
    expect(text).toContain("Item 99");
    expect(text).toContain("Subtotal");
  });
});
