/** The REST JSON the bench reads (protobuf JSON with proto field names, as the gateway writes it). */

export interface MoneyJson {
  currency_code: string;
  /** int64 minor units: a string in protobuf JSON. */
  amount_minor: string | number;
}

export interface OrderItemJson {
  product_id: string;
  quantity: number;
}

export interface StatusChangeJson {
  from_status: string;
  to_status: string;
  reason: string;
  changed_at?: string;
}

export interface OrderJson {
  id: string;
  customer_id: string;
  status: string;
  items: OrderItemJson[];
  total?: MoneyJson;
  failure_reason: string;
  created_at?: string;
  updated_at?: string;
  history: StatusChangeJson[];
}

export interface ProductJson {
  id: string;
  sku: string;
  available: number;
  reserved: number;
  sold: number;
}

export interface MovementJson {
  product_id: string;
  order_id: string;
  type: string;
  quantity: number;
}

export interface PaymentJson {
  id: string;
  order_id: string;
  customer_id: string;
  status: string;
  amount?: MoneyJson;
  refunded_amount?: MoneyJson;
}

export interface CustomerJson {
  id: string;
  email: string;
}

/** Order statuses as protobuf JSON writes them, without the ORDER_STATUS_ prefix. */
export function shortStatus(status: string): string {
  return status.replace(/^ORDER_STATUS_|^PAYMENT_STATUS_|^MOVEMENT_TYPE_/, "");
}

/** Not settled yet: the saga still has work to do. */
export const IN_FLIGHT_STATUSES: ReadonlySet<string> = new Set(["PENDING", "RESERVED"]);
/** Paid and not given back (the bench never ships or cancels, but an external mesh might). */
export const PAID_STATUSES: ReadonlySet<string> = new Set(["CONFIRMED", "SHIPPED", "DELIVERED"]);
/** Statuses after which an order never changes again. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(["REJECTED", "PAYMENT_FAILED", "CANCELLED", "EXPIRED", "DELIVERED", "DELIVERY_FAILED"]);

export function minor(money: MoneyJson | undefined): bigint {
  return money ? BigInt(money.amount_minor) : 0n;
}
