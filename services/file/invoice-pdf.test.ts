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
  it("renders a PDF with the order id, date, customer, address, lines and totals", () => {
    const pdf = renderInvoicePdf(invoice(), { compress: false });
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

  it("is deterministic, compressed by default, and survives long orders and odd text", () => {
    const a = renderInvoicePdf(invoice());
    const b = renderInvoicePdf(invoice());
    expect(createHash("sha256").update(a).digest("hex")).toBe(createHash("sha256").update(b).digest("hex"));
    expect(a.subarray(0, 4).toString("latin1")).toBe("%PDF");
    expect(a.length).toBeLessThan(renderInvoicePdf(invoice(), { compress: false }).length);
    expect(pdfText(a)).toContain("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");

    const lines = Array.from({ length: 100 }, (_, i) => ({ productId: `p${i}`, name: `Item ${i} ${"ü€日本".repeat(30)}`, quantity: 1, unitPriceMinor: 100n }));
    const long = renderInvoicePdf(invoice({ lines, totalMinor: 10_500n, shippingAddress: undefined, paidMinor: undefined }), { compress: false });
    expect((long.toString("latin1").match(/\/Type \/Page\b/g) ?? []).length).toBeGreaterThan(1);
    const text = pdfText(long);
    expect(text).toContain("Item 99");
    expect(text).toContain("Subtotal");
  });

  it("prints hostile and non-Latin text as text, never as PDF syntax", () => {
    const hostile = ") Tj ET BT /F1 99 Tf (x) Tj \\ (";
    const pdf = renderInvoicePdf(
      invoice({
        customerName: hostile,
        customerEmail: "zoë@exämple.com",
        lines: [{ productId: "p1", name: "日本 tea – “green”", quantity: 1, unitPriceMinor: 254500n }],
      }),
      { compress: false },
    );
    const lines = pdfText(pdf).split("\n");
    expect(lines).toContain(hostile);
    expect(lines).toContain("zoë@exämple.com");
    expect(lines).toContain("?? tea – “green”");
    // Every operator line of the content stream is one of ours: the name's parentheses and
    // backslashes stayed inside its string.
    const source = pdf.toString("latin1");
    const content = source.slice(source.indexOf("stream\n") + 7, source.indexOf("\nendstream")).split("\n");
    const ours = /^(BT \/F[12] \d+ Tf [\d.]+ [\d.]+ Td \((?:[^\\()]|\\[\\()]|\\[0-7]{3})*\) Tj ET|[\d.]+ [\d.]+ m [\d.]+ [\d.]+ l S)$/;
    expect(content.filter((line) => !ours.test(line))).toEqual([]);
    expect(content).toHaveLength(lines.length + 1);
  });

  it("lays out the table: amounts right-aligned at the right margin, one row per line", () => {
    const source = renderInvoicePdf(invoice(), { compress: false }).toString("latin1");
    const runs = [...source.matchAll(/BT \/F(\d) ([\d.]+) Tf ([\d.]+) ([\d.]+) Td \((.*?)\) Tj ET/g)].map((m) => ({
      x: Number(m[3]),
      y: Number(m[4]),
      text: m[5],
    }));
    const at = (text: string) => runs.filter((run) => run.text === text);
    expect(at("INVOICE")[0]).toMatchObject({ x: 50 });
    const [amount] = at("2,500.00 EUR");
    const [engine] = at("Analytical Engine");
    const [cards] = at("Punch cards \\(box\\)");
    expect(amount.y).toBe(engine.y);
    expect(engine.y - cards.y).toBeCloseTo(18, 5);
    // Helvetica 10 pt: "2,500.00 EUR" is 62.81 pt wide and ends at the right margin (595.28 - 50).
    expect(amount.x + 62.81).toBeCloseTo(545.28, 1);
  });
});
