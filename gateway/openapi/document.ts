import type { DescField, JsonObject } from "@bufbuild/protobuf";
import type { Route } from "../rest/router.js";
import { SchemaRegistry } from "./schemas.js";

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table and the protobuf
 * descriptors in gen/ (each route declares its request and response messages), so it cannot
 * describe a route that does not exist or miss one that does (openapi.test.ts checks both).
 */

export const ERROR_SCHEMA = "ordermesh.Error";

/** `/api/v1/orders/:id` -> `/api/v1/orders/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, "{$1}");
}

/** The `:name` segments of a route path, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Fields a list route takes from the query string: singular scalars and enums not bound to the path. */
export function queryFields(route: Route): DescField[] {
  if (!route.queryParams || !route.request) return [];
  const bound = new Set(pathParams(route.path).map(snakeCase));
  return route.request.fields.filter((f) => (f.fieldKind === "scalar" || f.fieldKind === "enum") && !bound.has(f.name));
}

function operationId(route: Route): string {
  const words = route.path
    .replace(/^\/api\/v1\//, "")
    .split("/")
    .map((segment) => (segment.startsWith(":") ? `by-${segment.slice(1)}` : segment));
  return [route.method.toLowerCase(), ...words].join("-").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function tag(route: Route): string {
  return route.path.split("/")[3] ?? "other";
}

function parameters(route: Route, schemas: SchemaRegistry): JsonObject[] {
  const inPath = pathParams(route.path).map((name): JsonObject => {
    const schema: JsonObject = name === "seq" ? { type: "integer", minimum: 1 } : { type: "string", format: "uuid" };
    return { name, in: "path", required: true, schema };
  });
  const inQuery = queryFields(route).map((field): JsonObject => ({ name: field.name, in: "query", required: false, schema: schemas.fieldSchema(field) }));
  return [...inPath, ...inQuery, ...(route.openapi?.parameters ?? [])];
}

function requestBody(route: Route, schemas: SchemaRegistry): JsonObject | undefined {
  if (route.openapi?.requestBody) return route.openapi.requestBody;
  if (!route.request || route.queryParams || route.method === "GET" || route.method === "DELETE") return undefined;
  return {
    required: route.method !== "PUT",
    description: "Protobuf JSON of the request message; fields given in the path may be left out.",
    content: { "application/json": { schema: schemas.message(route.request) } },
  };
}

function responses(route: Route, schemas: SchemaRegistry): JsonObject {
  const status = route.successStatus ?? 200;
  const success: JsonObject = { description: status === 201 ? "Created" : status === 204 ? "No content" : "OK" };
  const content = route.openapi?.content ?? (route.response ? { "application/json": { schema: schemas.message(route.response) } } : undefined);
  if (content) success.content = content;
  const error = { $ref: `#/components/schemas/${ERROR_SCHEMA}` };
  return {
    [String(status)]: success,
    default: { description: "An error: the HTTP status follows the gRPC code (see the README).", content: { "application/json": { schema: error } } },
  };
}

function operation(route: Route, schemas: SchemaRegistry): JsonObject {
  const op: JsonObject = {
    operationId: operationId(route),
    summary: route.summary,
    tags: [tag(route)],
    parameters: parameters(route, schemas),
    responses: responses(route, schemas),
  };
  if (route.access === "public") op.security = [];
  if (route.access === "admin") op.description = "Requires a token with role `admin`.";
  if (route.method === "POST") {
    (op.parameters as JsonObject[]).push({
      name: "Idempotency-Key",
      in: "header",
      required: false,
      schema: { type: "string", maxLength: 200 },
      description: "Replays the first successful answer for the same request.",
    });
  }
  const body = requestBody(route, schemas);
  if (body) op.requestBody = body;
  return op;
}

export interface DocumentInfo {
  version: string;
}

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(routes: readonly Route[], info: DocumentInfo): JsonObject {
  const schemas = new SchemaRegistry();
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route, schemas);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ordermesh REST API",
      version: info.version,
      description:
        "REST side of the ordermesh gateway. Bodies and answers are protobuf JSON of the messages in proto/ " +
        "(proto field names; camelCase is accepted on input). The same operations are served over Connect, gRPC and gRPC-Web.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    tags: [...new Set(routes.map(tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: {
        ...schemas.components,
        [ERROR_SCHEMA]: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: { type: "string", description: 'The gRPC code in snake case, e.g. "invalid_argument"' },
                message: { type: "string" },
                field: { type: "string", description: "The offending field, when one is to blame" },
              },
            },
          },
        },
      },
    },
  };
}
