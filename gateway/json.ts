import { type DescEnum, type DescField, type DescMessage, fromJson, type JsonObject, type JsonValue, type MessageShape, toJson } from "@bufbuild/protobuf";
import { requireStorableMessage } from "../lib/text.js";
import { invalid } from "./errors.js";

/**
 * Protobuf JSON at the REST edge. Decoding is strict and names the offending field by its path
 * in the request, the way the services name fields (`items[2].quantity`): unknown fields,
 * wrong types, out-of-range numbers and unknown enum values are INVALID_ARGUMENT. Enum values
 * may be written in full (`ORDER_STATUS_CONFIRMED`), short (`CONFIRMED`, any case) or as their
 * number. Output uses the proto field names (snake_case) and includes fields at their default
 * value, so every documented field is present.
 */

/** Decodes `json` into a `schema` message; INVALID_ARGUMENT naming the field on any mismatch. */
export function decodeMessage<D extends DescMessage>(schema: D, json: unknown, path = ""): MessageShape<D> {
  const normalized = normalizeMessage(schema, json as JsonValue, path);
  let message: MessageShape<D>;
  try {
    message = fromJson(schema, normalized, { ignoreUnknownFields: false });
  } catch (error) {
    throw invalid(path || "body", cleanMessage(error));
  }
  // NUL characters and unpaired surrogates (JSON can spell "\ud800") no service can store.
  requireStorableMessage(schema, message, path);
  return message;
}

/** The message as REST JSON: snake_case names, defaults included. */
export function encodeMessage<D extends DescMessage>(schema: D, message: MessageShape<D>): JsonValue {
  return toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true });
}

function describe(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** "expected number (int32), got "abc"" from protobuf-es's "cannot decode field x.y from JSON: ...". */
function cleanMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const index = message.indexOf("from JSON: ");
  return index >= 0 ? message.slice(index + "from JSON: ".length) : message;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function normalizeMessage(desc: DescMessage, json: JsonValue, path: string): JsonValue {
  // Well-known types (Timestamp, Duration, wrappers, Struct, ...) have their own JSON forms.
  if (desc.typeName.startsWith("google.protobuf.")) {
    try {
      fromJson(desc, json);
    } catch (error) {
      throw invalid(path || "body", cleanMessage(error));
    }
    return json;
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalid(path || "body", `must be a JSON object, got ${describe(json)}`);
  }
  const out: JsonObject = {};
  const seen = new Map<DescField, string>();
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) throw invalid(join(path, key), "unknown field");
    const fieldPath = join(path, field.name);
    if (seen.has(field)) throw invalid(fieldPath, `is set twice (as "${seen.get(field)}" and "${key}")`);
    seen.set(field, key);
    if (value === null) continue; // null means "default" in protobuf JSON
    out[field.name] = normalizeField(desc, field, value, fieldPath);
  }
  for (const oneof of desc.oneofs) {
    const set = oneof.fields.filter((f) => seen.has(f));
    if (set.length > 1) throw invalid(join(path, oneof.name), `only one of ${set.map((f) => f.name).join(", ")} may be set`);
  }
  return out;
}

function normalizeField(parent: DescMessage, field: DescField, value: JsonValue, path: string): JsonValue {
  switch (field.fieldKind) {
    case "message":
      return normalizeMessage(field.message, value, path);
    case "enum":
      return normalizeEnum(field.enum, value, path);
    case "scalar":
      return checkScalar(parent, field, value, path);
    case "list": {
      if (!Array.isArray(value)) throw invalid(path, `must be an array, got ${describe(value)}`);
      return value.map((item, i) => {
        const itemPath = `${path}[${i}]`;
        if (item === null) throw invalid(itemPath, "must not be null");
        if (field.listKind === "message") return normalizeMessage(field.message, item, itemPath);
        if (field.listKind === "enum") return normalizeEnum(field.enum, item, itemPath);
        return checkScalar(parent, field, [item], itemPath, true);
      });
    }
    case "map": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(path, `must be an object, got ${describe(value)}`);
      const out = Object.create(null) as JsonObject;
      for (const [key, item] of Object.entries(value)) {
        const itemPath = `${path}["${key}"]`;
        // As a key of the plain object protobuf-es keeps a map in, it would replace its prototype.
        if (key === "__proto__") throw invalid(itemPath, "is not allowed as a map key");
        if (item === null) throw invalid(itemPath, "must not be null");
        if (field.mapKind === "message") out[key] = normalizeMessage(field.message, item, itemPath);
        else if (field.mapKind === "enum") out[key] = normalizeEnum(field.enum, item, itemPath);
        else out[key] = checkScalar(parent, field, { [key]: item }, itemPath, true);
      }
      return out;
    }
  }
}

/** Lets protobuf-es judge one scalar (type, range, base64) by decoding just that field. */
function checkScalar(parent: DescMessage, field: DescField, value: JsonValue, path: string, unwrap = false): JsonValue {
  try {
    fromJson(parent, { [field.jsonName]: value });
  } catch (error) {
    throw invalid(path, cleanMessage(error).replace(/^map entry "[^"]*": /, ""));
  }
  if (!unwrap) return value;
  return Array.isArray(value) ? value[0] : (Object.values(value as JsonObject)[0] ?? null);
}

function normalizeEnum(desc: DescEnum, value: JsonValue, path: string): JsonValue {
  if (typeof value === "number") {
    if (desc.values.some((v) => v.number === value)) return value;
  } else if (typeof value === "string") {
    const upper = value.toUpperCase();
    const match = desc.values.find((v) => v.name === value || v.name === upper || v.localName.toUpperCase() === upper);
    if (match) return match.name;
  }
  const names = desc.values.filter((v) => v.number !== 0).map((v) => v.localName);
  throw invalid(path, `must be one of ${names.join(", ")}, got ${describe(value)}`);
}
