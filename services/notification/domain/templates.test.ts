import { describe, expect, it } from "@jest/globals";
import { renderTemplate, TEMPLATE_NAMES, TemplateError, templateStatus, templateVariables } from "./templates.js";

const ORDER_ID = "01928f3e-7b6a-7c4d-8e9f-0a1b2c3d4e5f";

function error(run: () => unknown): TemplateError {
  try {
    run();
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("templates", () => {
  it("cover every customer-visible transition", () => {
    expect(TEMPLATE_NAMES).toEqual([
      "order_created",
      "order_confirmed",
      "order_payment_failed",
      "order_cancelled",
      "order_rejected",
      "order_expired",
      "order_shipped",
      "order_delivered",
      "delivery_failed",
      "invoice_ready",
    ]);
  });

  for (const name of TEMPLATE_NAMES) {
    it(`${name} renders an e-mail with the order id and a short SMS`, () => {
      const email = renderTemplate(name, "EMAIL", { order_id: ORDER_ID, name: "Jane" });
      expect(email.subject).toContain("#2C3D4E5F");
      expect(email.subject).not.toMatch(/[\r\n]/);
      expect(email.body).toContain(ORDER_ID);
      expect(email.body.startsWith("Hello Jane,\n")).toBe(true);
      const status = templateStatus(name);
      if (status) expect(email.body).toContain(`Order status: ${status}`);
      const sms = renderTemplate(name, "SMS", { order_id: ORDER_ID });
      expect(sms.subject).toBe("");
      expect(sms.body).toContain("#2C3D4E5F");
      expect(sms.body.length).toBeLessThanOrEqual(160);
    });
  }

  it("puts the total, reason, refund and tracking details in where known", () => {
    const confirmed = renderTemplate("order_confirmed", "EMAIL", { order_id: ORDER_ID, total: "19.99 EUR" });
    expect(confirmed).toEqual({
      subject: "Your order #2C3D4E5F is confirmed",
      body: [
        "Hello,",
        "",
        `your payment went through and order ${ORDER_ID} is confirmed.`,
        "",
        "Total: 19.99 EUR",
        "",
        "We will let you know when it ships.",
        "",
        "Order status: CONFIRMED",
        "",
        "-- ordermesh",
      ].join("\n"),
    });
    expect(renderTemplate("order_created", "SMS", { order_id: ORDER_ID, total: "5.00 USD" }).body).toBe(
      "ordermesh: we received your order #2C3D4E5F (total 5.00 USD).",
    );
    const cancelled = renderTemplate("order_cancelled", "EMAIL", { order_id: ORDER_ID, reason: "changed my mind", refund: "true", total: "1.00 EUR" });
    expect(cancelled.body).toContain("Reason: changed my mind");
    expect(cancelled.body).toContain("The amount charged (1.00 EUR) will be refunded.");
    expect(renderTemplate("order_cancelled", "EMAIL", { order_id: ORDER_ID }).body).not.toContain("refunded");
    const shipped = renderTemplate("order_shipped", "SMS", { order_id: ORDER_ID, carrier: "DHL", tracking_number: "JD01" });
    expect(shipped.body).toBe("ordermesh: order #2C3D4E5F has shipped with DHL, tracking JD01.");
    expect(renderTemplate("order_payment_failed", "EMAIL", { order_id: ORDER_ID, reason: "card_declined" }).body).toContain("Reason: card_declined");
  });

  it("keeps variables on one line, so nothing can be injected into the subject", () => {
    const { subject, body } = renderTemplate("order_shipped", "EMAIL", { order_id: ORDER_ID, carrier: "DHL\r\nBcc: x@evil.example" });
    expect(subject).not.toMatch(/[\r\n]/);
    expect(body).toContain("with DHL Bcc: x@evil.example.");
  });

  it("rejects unknown templates and missing required variables", () => {
    expect(error(() => renderTemplate("nope", "EMAIL", { order_id: ORDER_ID }))).toMatchObject({ kind: "unknown_template" });
    expect(error(() => renderTemplate("order_confirmed", "EMAIL", {}))).toMatchObject({ kind: "missing_variable", variable: "order_id" });
    expect(error(() => renderTemplate("order_confirmed", "SMS", { order_id: "  " }))).toMatchObject({ kind: "missing_variable", variable: "order_id" });
    expect(error(() => renderTemplate("__proto__", "SMS", { order_id: ORDER_ID }))).toMatchObject({ kind: "unknown_template" });
  });

  it("lists each template's variables", () => {
    expect(templateVariables("order_shipped")).toEqual({ required: ["order_id"], optional: ["name", "total", "carrier", "tracking_number"] });
  });
});
