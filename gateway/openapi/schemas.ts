import { type DescEnum, type DescField, type DescMessage, type JsonObject, ScalarType } from "@bufbuild/protobuf";

/**
 * JSON Schema (OpenAPI 3.1) of protobuf messages as the REST edge writes them: proto field
 * names (snake_case), 64-bit integers as decimal strings, enums by their full value name,
 * bytes as base64, and the well-known types in their JSON forms. Messages and enums become
 * named components (`#/components/schemas/<full type name>`), collected as they are referenced.
 */
export class SchemaRegistry {
  readonly #schemas = new Map<string, JsonObject>();

  /** The components collected so far, by name, sorted for a stable document. */
  get components(): Record<string, JsonObject> {
    return Object.fromEntries([...this.#schemas.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** A reference to `desc`'s schema (an inline schema for the well-known types), registering it. */
  message(desc: DescMessage): JsonObject {
    const wkt = wellKnown(desc);
    if (wkt) return wkt;
    if (!this.#schemas.has(desc.typeName)) {
      this.#schemas.set(desc.typeName, {}); // placeholder: recursive messages refer to themselves
      const properties: Record<string, JsonObject> = {};
      for (const field of desc.fields) properties[field.name] = this.#field(field);
      const oneofs = desc.oneofs.map((o) => `${o.name}: at most one of ${o.fields.map((f) => f.name).join(", ")}`);
      this.#schemas.set(desc.typeName, {
        type: "object",
        properties,
        additionalProperties: false,
        ...(oneofs.length > 0 ? { description: `One of: ${oneofs.join("; ")}.` } : {}),
      });
    }
    return ref(desc.typeName);
  }

  /** A reference to `desc`'s schema: its value names (numbers and short names are accepted on input too). */
  enum(desc: DescEnum): JsonObject {
    if (!this.#schemas.has(desc.typeName)) {
      this.#schemas.set(desc.typeName, {
        type: "string",
        enum: desc.values.map((v) => v.name),
        description: `Also accepted on input: the value without its prefix (e.g. "${shortName(desc)}", any case) or its number.`,
      });
    }
    return ref(desc.typeName);
  }

  /** The schema of one field's value, as a query parameter or a property. */
  #field(field: DescField): JsonObject {
    switch (field.fieldKind) {
      case "scalar":
        return scalarSchema(field.scalar);
      case "enum":
        return this.enum(field.enum);
      case "message":
        return this.message(field.message);
      case "list":
        if (field.listKind === "scalar") return { type: "array", items: scalarSchema(field.scalar) };
        if (field.listKind === "enum") return { type: "array", items: this.enum(field.enum) };
        return { type: "array", items: this.message(field.message) };
      case "map": {
        const values = field.mapKind === "scalar" ? scalarSchema(field.scalar) : field.mapKind === "enum" ? this.enum(field.enum) : this.message(field.message);
        return { type: "object", additionalProperties: values };
      }
    }
  }

  /** The schema of a field, for query parameters. */
  fieldSchema(field: DescField): JsonObject {
    return this.#field(field);
  }
}

function ref(name: string): JsonObject {
  return { $ref: `#/components/schemas/${name}` };
}

function shortName(desc: DescEnum): string {
  const second = desc.values[1] ?? desc.values[0];
  return second ? second.name.slice(desc.sharedPrefix?.length ?? 0) : "";
}

/** JSON forms of scalar types (proto3 JSON: 64-bit integers are strings). */
export function scalarSchema(type: ScalarType): JsonObject {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int32", minimum: 0 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$", description: "64-bit integer as a decimal string (a JSON number is accepted on input)" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$", description: "64-bit integer as a decimal string (a JSON number is accepted on input)" };
  }
}

const WRAPPERS: Record<string, ScalarType> = {
  "google.protobuf.DoubleValue": ScalarType.DOUBLE,
  "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.BoolValue": ScalarType.BOOL,
  "google.protobuf.StringValue": ScalarType.STRING,
  "google.protobuf.BytesValue": ScalarType.BYTES,
};

/** Inline schemas of the well-known types, which have JSON forms of their own. */
function wellKnown(desc: DescMessage): JsonObject | undefined {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", description: 'seconds with an "s" suffix, e.g. "1.5s"' };
    case "google.protobuf.FieldMask":
      return { type: "string", description: "comma-separated field paths" };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    case "google.protobuf.Struct":
      return { type: "object" };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array" };
    case "google.protobuf.Any":
      return { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"] };
  }
  const wrapped = WRAPPERS[desc.typeName];
  return wrapped === undefined ? undefined : scalarSchema(wrapped);
}
