import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { notFound } from "../../lib/errors.js";
import type { DeadLetter } from "../../lib/events/dead-letters.js";
import { invalid } from "../errors.js";
import { objectSchema } from "./openapi-fragments.js";
import { onlyQuery, type RestContext, type Route } from "./router.js";

/** DLQ admin routes (admin only), backed by lib/events through {@link DeadLetterAdmin}. */

function seqParam(ctx: RestContext): number {
  const raw = ctx.params.seq;
  if (!/^[1-9]\d{0,15}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw invalid("seq", `must be a positive integer, got "${raw.slice(0, 40)}"`);
  return Number(raw);
}

function intQuery(ctx: RestContext, name: string, fallback: number, min: number, max: number): number {
  const raw = ctx.url.searchParams.get(name);
  if (raw === null) return fallback;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw invalid(name, `must be an integer from ${min} to ${max}, got "${raw.slice(0, 40)}"`);
  return Number(raw);
}

function entryJson(entry: DeadLetter): JsonObject {
  return {
    seq: entry.seq,
    subject: entry.subject,
    original_subject: entry.originalSubject,
    event_id: entry.eventId,
    event_type: entry.eventType,
    error: entry.error,
    consumer: entry.consumer,
    delivery_count: entry.deliveryCount,
    failed_at: entry.failedAt,
  };
}

function dlq(ctx: RestContext) {
  if (!ctx.deps.dlq) throw new Error("DLQ admin is not wired");
  return ctx.deps.dlq;
}

const ENTRY_PROPERTIES: Record<string, JsonObject> = {
  seq: { type: "integer" },
  subject: { type: "string" },
  original_subject: { type: "string" },
  event_id: { type: "string" },
  event_type: { type: "string" },
  error: { type: "string" },
  consumer: { type: "string" },
  delivery_count: { type: "integer" },
  failed_at: { type: "string", format: "date-time" },
};

function json(schema: JsonObject) {
  return { content: { "application/json": { schema } } };
}

const intParam = (name: string, description: string): JsonObject => ({
  name,
  in: "query",
  required: false,
  schema: { type: "integer", minimum: 1 },
  description,
});

export const adminRoutes: Route[] = [
  {
    method: "GET",
    path: "/api/v1/admin/dlq",
    access: "admin",
    summary: "List dead letters (limit 1-500, start_seq; next_seq pages on)",
    openapi: {
      parameters: [intParam("limit", "1 to 500 (default 50)"), intParam("start_seq", "first sequence to return (default 1)")],
      ...json(objectSchema({ entries: { type: "array", items: objectSchema(ENTRY_PROPERTIES) }, next_seq: { type: "integer" } }, ["entries"])),
    },
    async handle(ctx) {
      onlyQuery(ctx, ["limit", "start_seq"]);
      const page = await dlq(ctx).list({ limit: intQuery(ctx, "limit", 50, 1, 500), startSeq: intQuery(ctx, "start_seq", 1, 1, Number.MAX_SAFE_INTEGER) });
      const json: JsonObject = { entries: page.entries.map(entryJson) };
      if (page.nextSeq !== undefined) json.next_seq = page.nextSeq;
      return { json };
    },
  },
  {
    method: "GET",
    path: "/api/v1/admin/dlq/:seq",
    access: "admin",
    summary: "One dead letter with headers and payload (as JSON when the event type is known)",
    openapi: json(
      objectSchema(
        {
          ...ENTRY_PROPERTIES,
          headers: { type: "object", additionalProperties: { type: "string" } },
          payload: objectSchema({ base64: { type: "string", format: "byte" }, json: {}, decode_error: { type: "string" } }, ["base64"]),
        },
        [...Object.keys(ENTRY_PROPERTIES), "headers", "payload"],
      ),
    ),
    async handle(ctx) {
      onlyQuery(ctx, []);
      const seq = seqParam(ctx);
      const detail = await dlq(ctx).get(seq);
      if (!detail) throw notFound("dead letter", String(seq));
      const payload: JsonObject = { base64: detail.payload.base64 };
      if (detail.payload.json !== undefined) payload.json = detail.payload.json;
      if (detail.payload.decodeError !== undefined) payload.decode_error = detail.payload.decodeError;
      return { json: { ...entryJson(detail), headers: detail.headers as JsonValue, payload } };
    },
  },
  {
    method: "POST",
    path: "/api/v1/admin/dlq/:seq/replay",
    access: "admin",
    noBody: true,
    summary: "Publish a dead letter again on its original subject and remove it from the DLQ",
    openapi: json(objectSchema({ seq: { type: "integer" }, subject: { type: "string" }, event_id: { type: "string" }, stream_seq: { type: "integer" } })),
    async handle(ctx) {
      onlyQuery(ctx, []);
      const seq = seqParam(ctx);
      const result = await dlq(ctx).replay(seq);
      if (!result) throw notFound("dead letter", String(seq));
      return { json: { seq, subject: result.subject, event_id: result.eventId, stream_seq: result.streamSeq } };
    },
  },
  {
    method: "DELETE",
    path: "/api/v1/admin/dlq/:seq",
    access: "admin",
    noBody: true,
    summary: "Discard a dead letter for good",
    successStatus: 204,
    async handle(ctx) {
      onlyQuery(ctx, []);
      const seq = seqParam(ctx);
      if (!(await dlq(ctx).discard(seq))) throw notFound("dead letter", String(seq));
      return { status: 204 };
    },
  },
];
