import { type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";

/** Reads the order id a message carries, if any. */
export type OrderIdReader = (message: Message) => string | undefined;

const readers = new WeakMap<DescMessage, OrderIdReader | null>();

function isString(field: DescField): boolean {
  return field.fieldKind === "scalar" && field.scalar === ScalarType.STRING;
}

function path(schema: DescMessage): string[] | undefined {
  const own = schema.fields.find((f) => f.name === "order_id" && isString(f));
  if (own) return [own.localName];
  for (const field of schema.fields) {
    if (field.fieldKind !== "message") continue;
    const inner = field.message.fields.find((f) => isString(f) && (f.name === "order_id" || (field.name === "order" && f.name === "id")));
    if (inner) return [field.localName, inner.localName];
  }
  return undefined;
}

/**
 * How to find the order id in messages of `schema`, worked out once per message type: its own
 * `order_id`, else the `id` of an `order` field or the `order_id` of another singular message
 * field (`CreateOrderResponse.order.id`, `UpdateDeliveryStatusResponse.delivery.order_id`).
 * Undefined when the type carries none (lists, catalog calls). Reading costs two property loads.
 */
export function orderIdReader(schema: DescMessage): OrderIdReader | undefined {
  let reader = readers.get(schema);
  if (reader === undefined) {
    const keys = path(schema);
    if (!keys) reader = null;
    else if (keys.length === 1) {
      const [key] = keys;
      reader = (m) => nonEmpty((m as unknown as Record<string, unknown>)[key]);
    } else {
      const [outer, inner] = keys;
      reader = (m) => nonEmpty((m as unknown as Record<string, Record<string, unknown> | undefined>)[outer]?.[inner]);
    }
    readers.set(schema, reader);
  }
  return reader ?? undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
