import type { CustomerContact } from "./order-store.js";

/**
 * The contact details order.created carries, remembered per customer so that CreateOrder need
 * not read the customer before each order: the order's statement is then its one round trip to
 * the database. Never trusted blindly: that statement stores nothing when the customer's email,
 * name or phone differ from the remembered ones (`insertPlacedOrder`), and CreateOrder then reads
 * the customer again, so an UpdateCustomer on any replica shows in the next order. Bounded: the
 * customers who ordered least recently are forgotten first.
 */
export class CustomerContacts {
  readonly #contacts = new Map<string, CustomerContact>();

  constructor(private readonly capacity = 10_000) {}

  /** The remembered contact of `customerId`, if any. */
  get(customerId: string): CustomerContact | undefined {
    const contact = this.#contacts.get(customerId);
    if (contact) {
      // Map keeps insertion order: moving a hit to the end keeps the oldest first in line to go.
      this.#contacts.delete(customerId);
      this.#contacts.set(customerId, contact);
    }
    return contact;
  }

  remember(contact: CustomerContact): void {
    this.#contacts.delete(contact.id);
    this.#contacts.set(contact.id, contact);
    if (this.#contacts.size > this.capacity) this.#contacts.delete(this.#contacts.keys().next().value!);
  }

  forget(customerId: string): void {
    this.#contacts.delete(customerId);
  }

  get size(): number {
    return this.#contacts.size;
  }
}

/** True when `a` and `b` would put the same contact details into an order.created. */
export function sameContact(a: CustomerContact, b: CustomerContact): boolean {
  return a.id === b.id && a.email === b.email && a.name === b.name && a.phone === b.phone;
}
