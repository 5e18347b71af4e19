import { type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";
import { invalidArgument } from "./errors.js";

/**
 * Strings that PostgreSQL `text` (and UTF-8 on the wire) cannot hold: a NUL character, or a
 * UTF-16 surrogate without its partner (JSON can spell one, `"\ud800"`; protobuf-es would
 * silently encode it as U+FFFD). Every string of every request is checked once, at the RPC
 * layer, so no handler has to remember it and no store ever sees such a value.
 */

// Fast path: most strings contain neither, and one regex test says so. NUL is the point here.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000\ud800-\udfff]/;

/** What is wrong with `value` as stored text, or undefined when nothing is. */
export function textProblem(value: string): string | undefined {
  if (!SUSPECT.test(value)) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0) return `must not contain a NUL character (U+0000), found at index ${i}`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `is not valid Unicode: unpaired surrogate at index ${i}`;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return `is not valid Unicode: unpaired surrogate at index ${i}`;
  }
  return undefined;
}

/** Throws INVALID_ARGUMENT naming `field` when `value` cannot be stored as text. */
export function requireStorableText(field: string, value: string): string {
  const problem = textProblem(value);
  if (problem) throw invalidArgument(field, problem);
  return value;
}

/** Messages without any string field below them need no walk; computed once per schema. */
const hasStrings = new WeakMap<DescMessage, boolean>();

function containsStrings(desc: DescMessage): boolean {
  let known = hasStrings.get(desc);
  if (known === undefined) {
    known = reachesString(desc, new Set());
    hasStrings.set(desc, known);
  }
  return known;
}

function reachesString(desc: DescMessage, seen: Set<DescMessage>): boolean {
  if (seen.has(desc)) return false; // a recursive type: its other fields decide
  seen.add(desc);
  return desc.fields.some((field) => {
    if (isStringField(field) || (field.fieldKind === "map" && field.mapKey === STRING)) return true;
    const child = messageOf(field);
    return child !== undefined && reachesString(child, seen);
  });
}

const STRING = ScalarType.STRING;

function isStringField(field: DescField): boolean {
  return (field.fieldKind === "scalar" || field.fieldKind === "list" || field.fieldKind === "map") && field.scalar === STRING;
}

function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === "message") return field.message;
  if (field.fieldKind === "list" && field.listKind === "message") return field.message;
  if (field.fieldKind === "map" && field.mapKind === "message") return field.message;
  return undefined;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** A map key as it appears in a field path, short and printable. */
function keyPath(key: string): string {
  const shown = JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}...` : key);
  return `[${shown}]`;
}

/**
 * Throws INVALID_ARGUMENT naming the field (`shipping_address.line1`, `items[2].sku`,
 * `template_data["name"]`) for the first string anywhere in `message` that cannot be stored.
 */
export function requireStorableMessage(schema: DescMessage, message: Message, path = ""): void {
  if (!containsStrings(schema)) return;
  const record = message as unknown as Record<string, unknown>;
  for (const field of schema.fields) {
    let value: unknown;
    if (field.oneof) {
      const oneof = record[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (oneof?.case !== field.localName) continue;
      value = oneof.value;
    } else {
      value = record[field.localName];
    }
    if (value === undefined || value === null) continue;
    const fieldPath = join(path, field.name);
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === STRING) requireStorableText(fieldPath, value as string);
        break;
      case "message":
        requireStorableMessage(field.message, value as Message, fieldPath);
        break;
      case "list":
        if (field.listKind === "scalar" && field.scalar === STRING) {
          (value as string[]).forEach((item, i) => requireStorableText(`${fieldPath}[${i}]`, item));
        } else if (field.listKind === "message") {
          (value as Message[]).forEach((item, i) => requireStorableMessage(field.message, item, `${fieldPath}[${i}]`));
        }
        break;
      case "map":
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          if (field.mapKey === STRING) requireStorableText(`${fieldPath} key`, key);
          const itemPath = `${fieldPath}${keyPath(key)}`;
          if (field.mapKind === "scalar" && field.scalar === STRING) requireStorableText(itemPath, item as string);
          else if (field.mapKind === "message") requireStorableMessage(field.message, item as Message, itemPath);
        }
        break;
      default:
        break;
    }
  }
}
