import { describe, expect, it } from "@jest/globals";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Route } from "../rest/router.js";
import { ROUTES } from "../server.js";
import { openApiDocument, openApiPath, pathParams, queryFields } from "./document.js";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

type Operation = {
  parameters: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
};

const refOf = (name: string) => `#/components/schemas/${name}`;

/** Every way `doc` and `routes` disagree; empty when the document describes exactly the route table. */
function disagreements(routes: readonly Route[], doc: JsonObject): string[] {
  const problems: string[] = [];
  const paths = doc.paths as Record<string, Record<string, Operation>>;
  const expected = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`));
  for (const [path, item] of Object.entries(paths)) {
    for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
      if (!expected.has(`${method} ${path}`)) problems.push(`${method} ${path} is documented but is not a route`);
    }
  }
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const op = paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
    if (!op) {
      problems.push(`${key} is not documented`);
      continue;
    }
    const inPath = op.parameters.filter((p) => p.in === "path").map((p) => p.name);
    if (JSON.stringify(inPath) !== JSON.stringify(pathParams(route.path))) problems.push(`${key}: path parameters ${inPath} != ${pathParams(route.path)}`);
    const inQuery = op.parameters.filter((p) => p.in === "query").map((p) => p.name);
    const declaredQuery = [
      ...queryFields(route).map((f) => f.name),
      ...(route.openapi?.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name as string),
    ];
    if (JSON.stringify(inQuery) !== JSON.stringify(declaredQuery)) problems.push(`${key}: query parameters ${inQuery} != ${declaredQuery}`);

    const bodyRef = op.requestBody?.content["application/json"]?.schema.$ref;
    const wantsBody = route.request && !route.queryParams && route.method !== "GET" && route.method !== "DELETE" && !route.openapi?.requestBody;
    if (wantsBody && bodyRef !== refOf(route.request!.typeName)) problems.push(`${key}: request body ${bodyRef} != ${route.request!.typeName}`);
    if (!wantsBody && bodyRef !== undefined && !route.openapi?.requestBody) problems.push(`${key}: documents a JSON body it does not read`);

    const status = String(route.successStatus ?? 200);
    const success = op.responses[status];
    if (!success) {
      problems.push(`${key}: no ${status} response`);
      continue;
    }
    const responseRef = success.content?.["application/json"]?.schema.$ref;
    if (route.response && responseRef !== refOf(route.response.typeName)) problems.push(`${key}: response ${responseRef} != ${route.response.typeName}`);
    if (!route.response && !route.openapi?.content && status !== "204") problems.push(`${key}: declares no response message and no hand-written content`);
  }
  // Every reference resolves.
  const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas;
  const walk = (value: JsonValue | undefined): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") {
      const ref = value.$ref;
      if (typeof ref === "string" && !(ref.replace("#/components/schemas/", "") in schemas)) problems.push(`dangling ${ref}`);
      Object.values(value).forEach(walk);
    }
  };
  walk(doc);
  return problems;
}

describe("OpenAPI document", () => {
  const doc = openApiDocument(ROUTES, { version: "test" });

  it("is OpenAPI 3.1 with a bearer scheme and unique operation ids", () => {
    expect(doc).toMatchObject({ openapi: "3.1.0", components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } });
    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    );
    expect(ids).toHaveLength(ROUTES.length);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("describes every route with its method, path parameters and schemas, and nothing else", () => {
    expect(disagreements(ROUTES, doc)).toEqual([]);
  });

  it("notices a route that is missing, one that is extra, and a wrong schema", () => {
    const [first, second, ...rest] = ROUTES;
    const extra: Route = {
      method: "GET",
      path: "/api/v1/ghosts/:id",
      summary: "ghost",
      response: first.response,
      async handle() {
        return { json: {} };
      },
    };
    expect(disagreements([first, ...rest, extra], doc)).toEqual([
      "get /api/v1/orders is documented but is not a route",
      "GET /api/v1/ghosts/:id is not documented",
    ]);
    const wrong = openApiDocument([{ ...second, response: first.request }, ...rest], { version: "test" });
    expect(disagreements([second, ...rest], wrong)).toEqual([expect.stringMatching(/response .* != shop\.order\.v1\.ListOrdersResponse/)]);
  });

  it("writes protobuf JSON: snake_case names, int64 as strings, enums by name, timestamps as date-time", () => {
    const schemas = (doc.components as { schemas: Record<string, { properties: Record<string, JsonObject>; enum?: string[] }> }).schemas;
    const order = schemas["shop.order.v1.Order"];
    expect(Object.keys(order.properties)).toEqual(expect.arrayContaining(["customer_id", "shipping_address", "failure_reason", "created_at"]));
    expect(order.properties.created_at).toEqual({ type: "string", format: "date-time" });
    expect(order.properties.status).toEqual({ $ref: refOf("shop.order.v1.OrderStatus") });
    expect(schemas["shop.order.v1.OrderStatus"].enum).toContain("ORDER_STATUS_CONFIRMED");
    expect(schemas["shop.common.v1.Money"].properties.amount_minor).toMatchObject({ type: "string", format: "int64" });
  });

  it("takes list filters from the query string and marks public and admin routes", () => {
    const paths = doc.paths as Record<string, Record<string, { parameters: { name: string; in: string }[]; security?: unknown[]; description?: string }>>;
    expect(paths["/api/v1/orders"].get.parameters.filter((p) => p.in === "query").map((p) => p.name)).toEqual([
      "page_size",
      "page_token",
      "customer_id",
      "status",
    ]);
    expect(paths["/api/v1/inventory/{productId}/movements"].get.parameters.map((p) => p.name)).not.toContain("product_id");
    expect(paths["/api/v1/customers"].get.description).toMatch(/admin/);
  });
});
