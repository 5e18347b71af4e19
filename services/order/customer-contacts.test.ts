import { describe, expect, it } from "@jest/globals";
import { CustomerContacts, sameContact } from "./customer-contacts.js";

const contact = (id: string, email = `${id}@example.com`) => ({ id, email, name: "Ada", phone: "" });

describe("CustomerContacts", () => {
  it("forgets the customer used least recently once over capacity", () => {
    const contacts = new CustomerContacts(2);
    contacts.remember(contact("a"));
    contacts.remember(contact("b"));
    expect(contacts.get("a")).toEqual(contact("a")); // a is now the most recent
    contacts.remember(contact("c"));
    expect(contacts.size).toBe(2);
    expect(contacts.get("b")).toBeUndefined();
    expect(contacts.get("a")).toEqual(contact("a"));
    expect(contacts.get("c")).toEqual(contact("c"));
  });

  it("replaces a customer's details and forgets them on request", () => {
    const contacts = new CustomerContacts();
    contacts.remember(contact("a"));
    contacts.remember(contact("a", "new@example.com"));
    expect(contacts.get("a")?.email).toBe("new@example.com");
    contacts.forget("a");
    expect(contacts.get("a")).toBeUndefined();
  });
});

describe("sameContact", () => {
  it("compares every field order.created carries", () => {
    expect(sameContact(contact("a"), contact("a"))).toBe(true);
    expect(sameContact(contact("a"), contact("a", "other@example.com"))).toBe(false);
    expect(sameContact(contact("a"), { ...contact("a"), name: "Grace" })).toBe(false);
    expect(sameContact(contact("a"), { ...contact("a"), phone: "+15550100" })).toBe(false);
  });
});
