import { describe, expect, it } from "@jest/globals";
import { maskRecipient, normalizeEmail, normalizePhone, normalizeRecipient } from "./recipients.js";

describe("recipients", () => {
  it("accepts e-mail addresses and lower-cases their domain", () => {
    expect(normalizeEmail(" Jane.Doe+shop@Example.COM ")).toBe("Jane.Doe+shop@example.com");
    expect(normalizeEmail("a@b.co")).toBe("a@b.co");
    for (const bad of [
      "",
      "jane",
      "jane@",
      "@example.com",
      "jane@example",
      "jane doe@example.com",
      "jane@exa mple.com",
      "a..b@example.com",
      "a@b.c\r\nBcc: x@y.z",
      `${"a".repeat(65)}@example.com`,
    ]) {
      expect(normalizeEmail(bad)).toBeUndefined();
    }
  });

  it("accepts E.164 phone numbers, written with the usual separators", () => {
    expect(normalizePhone("+49 30 1234-5678")).toBe("+493012345678");
    expect(normalizePhone("0049 (30) 123456")).toBe("+4930123456");
    expect(normalizePhone("+1.555.123.4567")).toBe("+15551234567");
    for (const bad of ["", "030123456", "+0123456789", "+12345", "+1234567890123456", "+49abc123456"]) {
      expect(normalizePhone(bad)).toBeUndefined();
    }
  });

  it("validates by channel", () => {
    expect(normalizeRecipient("EMAIL", "+4930123456")).toBeUndefined();
    expect(normalizeRecipient("SMS", "jane@example.com")).toBeUndefined();
    expect(normalizeRecipient("SMS", "+4930123456")).toBe("+4930123456");
  });

  it("masks recipients for logs", () => {
    expect(maskRecipient("jane@example.com")).toBe("j***@example.com");
    expect(maskRecipient("+4930121234")).toBe("+******1234");
    expect(maskRecipient("123")).toBe("***");
  });
});
