import { type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";
import { invalidArgument } from "./errors.js";

/**
 * Strings that PostgreSQL `text` (and UTF-8 on the wire) cannot hold: a NUL character, or a
 * UTF-16 surrogate without its partner (JSON can spell one, `"\ud800"`; protobuf-es would
 * silently encode it as U+FFFD; jsonb refuses both). Every string of every request is checked
 * once, at the RPC layer (`requireStorableMessage`: the caller gets INVALID_ARGUMENT), and of
 * every event once, as lib/events decodes it (`makeStorable`: nobody to refuse, so repaired),
 * so no handler has to remember it and no store ever sees such a value.
 */

// Fast path: most strings contain neither, and one regex test says so. NUL is the point here.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000\ud800-\udfff]/;

/** Index of the first NUL or unpaired surrogate in `value`, -1 when there is none. */
function unstorableAt(value: string): number {
  if (!SUSPECT.test(value)) return -1;
  // Rare: a NUL, or (more often) emoji, which are pairs and fine.
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0) return i;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return i;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

/** What is wrong with `value` as stored text, or undefined when nothing is. */
export function textProblem(value: string): string | undefined {
  const i = unstorableAt(value);
  if (i < 0) return undefined;
  if (value.charCodeAt(i) === 0) return `must not contain a NUL character (U+0000), found at index ${i}`;
  return `is not valid Unicode: unpaired surrogate at index ${i}`;
}

// The slow path's replacement: NUL, and surrogates without their partner.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** What an unstorable character becomes: U+FFFD REPLACEMENT CHARACTER. */
export const REPLACEMENT_CHARACTER = "\ufffd";

/** `value` repaired, or undefined when it is storable as it is (then nothing was allocated). */
function repaired(value: string): string | undefined {
  return unstorableAt(value) < 0 ? undefined : value.replace(UNSTORABLE, REPLACEMENT_CHARACTER);
}

/**
 * `value` with every NUL and unpaired surrogate replaced by U+FFFD: what UTF-8 decoders, and
 * protobuf-es and node-postgres when encoding, already do with text they cannot represent.
 * Replaced rather than dropped so that the length stays, a reader sees that something was
 * there, and a malformed id (`<uuid>\0`) stays malformed instead of turning into another valid id.
 */
export function storableText(value: string): string {
  return repaired(value) ?? value;
}

/**
 * `value` cut to at most `max` UTF-16 code units, never between the halves of a surrogate pair
 * (half an emoji is itself unstorable). `value` itself when it is short enough.
 */
export function cutText(value: string, max: number): string {
  if (value.length <= max) return value;
  const last = value.charCodeAt(max - 1);
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** Throws INVALID_ARGUMENT naming `field` when `value` cannot be stored as text. */
export function requireStorableText(field: string, value: string): string {
  const problem = textProblem(value);
  if (problem) throw invalidArgument(field, problem);
  return value;
}

/**
 * The fields of a message type that are strings or lead to some (messages, lists, maps);
 * empty when no string is below it. Computed once per type: every event and request walks it.
 */
const stringFieldsOf = new WeakMap<DescMessage, readonly DescField[]>();

function stringFields(desc: DescMessage): readonly DescField[] {
  let fields = stringFieldsOf.get(desc);
  if (fields === undefined) {
    fields = desc.fields.filter((field) => {
      if (isStringField(field) || (field.fieldKind === "map" && field.mapKey === STRING)) return true;
      const child = messageOf(field);
      return child !== undefined && reachesString(child, new Set());
    });
    stringFieldsOf.set(desc, fields);
  }
  return fields;
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

/** An unstorable string: where it is below the walked message, and what it was. */
interface Finding {
  path: string;
  value: string;
}

/** `inner`'s findings, found below `prefix`, added to `found`. Runs only when something was found. */
function under(prefix: string, inner: Finding[], found: Finding[] | undefined): Finding[] {
  const all = found ?? [];
  for (const finding of inner) all.push({ path: `${prefix}.${finding.path}`, value: finding.value });
  return all;
}

/**
 * Finds the unstorable strings of `message`: fields, list items, map keys and values, the set
 * case of a oneof, and so on down nested messages. With `repair`, replaces each in place (see
 * `storableText`) and finds all; without, stops at the first. Undefined when there are none:
 * then it allocated nothing and tested each string with one regex.
 */
function walk(schema: DescMessage, message: Message, repair: boolean): Finding[] | undefined {
  const fields = stringFields(schema);
  if (fields.length === 0) return undefined;
  const record = message as unknown as Record<string, unknown>;
  let found: Finding[] | undefined;
  for (const field of fields) {
    // Where the value lives: on the message, or in its oneof's { case, value }.
    let holder = record;
    let slot = field.localName;
    if (field.oneof) {
      const oneof = record[field.oneof.localName] as Record<string, unknown> | undefined;
      if (oneof?.case !== field.localName) continue;
      holder = oneof;
      slot = "value";
    }
    const value = holder[slot];
    if (value === undefined || value === null) continue;
    switch (field.fieldKind) {
      case "scalar":
      case "message": {
        // A string here is a scalar or a message type protobuf-es unwraps (google.protobuf.StringValue).
        if (typeof value === "string") {
          const fixed = repaired(value);
          if (fixed === undefined) break;
          if (repair) holder[slot] = fixed;
          (found ??= []).push({ path: field.name, value });
        } else if (field.fieldKind === "message" && typeof value === "object") {
          const inner = walk(field.message, value as Message, repair);
          if (inner) found = under(field.name, inner, found);
        }
        break;
      }
      case "list": {
        const list = value as unknown[];
        for (let i = 0; i < list.length; i++) {
          const item = list[i];
          if (typeof item === "string") {
            const fixed = repaired(item);
            if (fixed === undefined) continue;
            if (repair) list[i] = fixed;
            (found ??= []).push({ path: `${field.name}[${i}]`, value: item });
          } else if (field.listKind === "message" && typeof item === "object" && item !== null) {
            const inner = walk(field.message, item as Message, repair);
            if (inner) found = under(`${field.name}[${i}]`, inner, found);
          }
          if (found && !repair) return found;
        }
        break;
      }
      case "map": {
        const map = value as Record<string, unknown>;
        let renamed: [from: string, to: string][] | undefined;
        for (const key in map) {
          const item = map[key];
          if (typeof item === "string") {
            const fixed = repaired(item);
            if (fixed !== undefined) {
              if (repair) map[key] = fixed;
              (found ??= []).push({ path: `${field.name}${keyPath(key)}`, value: item });
            }
          } else if (field.mapKind === "message" && typeof item === "object" && item !== null) {
            const inner = walk(field.message, item as Message, repair);
            if (inner) found = under(`${field.name}${keyPath(key)}`, inner, found);
          }
          const fixedKey = field.mapKey === STRING ? repaired(key) : undefined;
          if (fixedKey !== undefined) {
            (renamed ??= []).push([key, fixedKey]);
            (found ??= []).push({ path: `${field.name} key`, value: key });
          }
          if (found && !repair) return found;
        }
        // Renamed after the loop: adding keys while for-in runs over them is unspecified. Two
        // keys that repair to the same one keep the later value, as a map decoded twice would.
        if (repair && renamed) {
          for (const [from, to] of renamed) {
            map[to] = map[from];
            delete map[from];
          }
        }
        break;
      }
      default:
        break;
    }
    if (found && !repair) return found;
  }
  return found;
}

/**
 * Makes every string of `message` storable in place, replacing NUL characters and unpaired
 * surrogates with U+FFFD (see `storableText`). Returns the field paths it repaired
 * (`reason`, `lines[0].product_id`, `template_data["k"]`, `template_data key`), undefined when
 * nothing was wrong: the usual case, one regex test per string and no allocation.
 */
export function makeStorable(schema: DescMessage, message: Message): string[] | undefined {
  return walk(schema, message, true)?.map((finding) => finding.path);
}

/**
 * Throws INVALID_ARGUMENT naming the field (`shipping_address.line1`, `items[2].sku`,
 * `template_data["name"]`) for the first string anywhere in `message` that cannot be stored.
 */
export function requireStorableMessage(schema: DescMessage, message: Message, path = ""): void {
  const first = walk(schema, message, false)?.[0];
  if (first) throw invalidArgument(join(path, first.path), textProblem(first.value)!);
}
