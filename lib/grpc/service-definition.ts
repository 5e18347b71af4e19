import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The HTTP/2 path of a method: `/shop.inventory.v1.InventoryService/GetProduct`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** The span / log name of a method: `shop.inventory.v1.InventoryService/GetProduct`. */
export function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/**
 * Encodes a message or a plain init object. Handlers and callers may pass init objects
 * (`{ productId: "p1" }`), and `toBinary` needs a real message, so `create` comes first; it
 * returns its argument unchanged when that already is a message of the schema.
 */
export function serializer(schema: DescMessage): (value: MessageInitShape<DescMessage>) => Buffer {
  return (value) => {
    const bytes = toBinary(schema, create(schema, value));
    // A view, not a copy: the bytes are not touched again after this.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

/** Decodes wire bytes into a message of `schema`. */
export function deserializer(schema: DescMessage): (bytes: Buffer) => Message {
  return (bytes) => fromBinary(schema, bytes);
}

/**
 * What a server receives instead of a message when the request bytes are not a valid encoding
 * of the input type (truncated, wrong wire type, invalid UTF-8, varint overflow, a compressed
 * message sent without grpc-encoding). grpc-js answers INTERNAL for a deserializer that throws,
 * yet these are the caller's fault: the handler layer turns this into INVALID_ARGUMENT.
 */
export class UndecodableRequest {
  constructor(
    readonly typeName: string,
    readonly reason: string,
  ) {}
}

/** A server-side deserializer: never throws; bytes that do not decode become an UndecodableRequest. */
export function requestDeserializer(schema: DescMessage): (bytes: Buffer) => Message | UndecodableRequest {
  return (bytes) => {
    try {
      return fromBinary(schema, bytes);
    } catch (error) {
      return new UndecodableRequest(schema.typeName, error instanceof Error ? error.message : String(error));
    }
  };
}

/** The grpc-js definition of one method, for all four method kinds. */
export function methodDefinition(method: DescMethod): MethodDefinition<MessageInitShape<DescMessage>, Message> {
  const kind = method.methodKind;
  return {
    path: methodPath(method),
    requestStream: kind === "client_streaming" || kind === "bidi_streaming",
    responseStream: kind === "server_streaming" || kind === "bidi_streaming",
    requestSerialize: serializer(method.input),
    // Only servers deserialize requests (clients call `deserializer` for responses themselves).
    requestDeserialize: requestDeserializer(method.input) as (bytes: Buffer) => Message,
    responseSerialize: serializer(method.output),
    responseDeserialize: deserializer(method.output),
    originalName: method.name,
  };
}

/**
 * A grpc-js `ServiceDefinition` built from a protobuf-es service descriptor, keyed by method
 * localName (the key the implementation object must use).
 */
export function toServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<MessageInitShape<DescMessage>, Message>> = {};
  for (const method of service.methods) definition[method.localName] = methodDefinition(method);
  return definition;
}
