import { createHash, type Hash } from "node:crypto";
import type { DescMessage, JsonObject, JsonValue, MessageShape } from "@bufbuild/protobuf";
import { Code } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { isUuid } from "../../lib/ids.js";
import { CORRELATION_HEADER, runWithCorrelationId, tagOrder } from "../../lib/telemetry/index.js";
import type { Gatekeeper } from "../admission.js";
import type { Call, PublicApi } from "../api/index.js";
import type { Principal } from "../auth.js";
import type { DeadLetterAdmin } from "../dlq.js";
import type { FaultAdmin } from "../faults.js";
import { checkCorrelationHeader, GatewayError, invalid, permissionDenied, toErrorResponse } from "../errors.js";
import { IDEMPOTENCY_HEADER, type IdempotencyBackend, idempotencyKey, keyInProgress, keyReused } from "../idempotency.js";
import { decodeMessage } from "../json.js";
import { RequestBody } from "./body.js";
import { abortResponse, isHttp2, type NodeRequest, type NodeResponse, sendJson } from "./http.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call a route. Authorization of the resources themselves happens in the API layer. */
export type Access = "public" | "user" | "admin";

/** A JSON answer, or "handled" when the route wrote the response itself (SSE, downloads). */
export type Reply = { status?: number; json?: JsonValue; headers?: Record<string, string> } | "handled";

export interface Route {
  method: Method;
  /** `/api/v1/orders/:id/cancel`: `:name` segments become `params.name`. */
  path: string;
  /** Default "user": any valid token. "admin" is checked before the body is read. */
  access?: Access;
  /** A long-lived stream (SSE): counted against MAX_STREAMS instead of MAX_IN_FLIGHT. */
  stream?: boolean;
  /** The route reads the body itself (`ctx.rawBody`, e.g. uploads) instead of as JSON. */
  rawBody?: boolean;
  /** The route takes no body (POST/DELETE actions): any field in one is an unknown field. */
  noBody?: boolean;
  /** Also accept the token as `?access_token=` (EventSource cannot send headers). */
  tokenInQuery?: boolean;
  /** One line for the route table. */
  summary: string;
  /**
   * The request message the route builds from path, query and body (`ctx.input` must be
   * called with exactly this schema: the OpenAPI document is generated from it).
   */
  request?: DescMessage;
  /** The request's fields (other than path parameters) come from the query string, not a body. */
  queryParams?: boolean;
  /** The message of the JSON answer. */
  response?: DescMessage;
  /** The status of success (default 200). */
  successStatus?: number;
  /** Hand-written OpenAPI for what no protobuf message describes (raw bodies, streams, the DLQ). */
  openapi?: RouteOpenApi;
  handle(ctx: RestContext): Promise<Reply>;
}

/** OpenAPI fragments of a route whose input or answer is not one protobuf message. */
export interface RouteOpenApi {
  /** Query (or header) parameter objects. */
  parameters?: JsonObject[];
  /** A request body object. */
  requestBody?: JsonObject;
  /** The success answer's content: media type -> media type object. */
  content?: Record<string, JsonObject>;
}

export interface RestDeps {
  api: PublicApi;
  gatekeeper: Gatekeeper;
  idempotency: IdempotencyBackend<StoredReply>;
  logger: Logger;
  maxBodyBytes: number;
  maxUploadBytes: number;
  /** Aborted when the gateway shuts down: ends streams. */
  shutdown: AbortSignal;
  dlq?: DeadLetterAdmin;
  faults?: FaultAdmin;
}

export interface StoredReply {
  status: number;
  json?: JsonValue;
  headers: Record<string, string>;
}

export interface InputOptions {
  /** Fields taken from the path (they win over nothing: a different value in the body is an error). */
  path?: Record<string, string>;
  /** Let query parameters fill fields (GET list routes). */
  query?: boolean;
  /** Let the JSON body fill fields (default true for routes with a body). */
  body?: boolean;
}

/**
 * For routes that read no request message: any query parameter but `allowed` is a 400 naming it
 * (`ctx.input` checks the query of the routes that do).
 */
export function onlyQuery(ctx: Pick<RestContext, "url">, allowed: readonly string[] = []): void {
  for (const name of ctx.url.searchParams.keys()) {
    if (!allowed.includes(name)) throw invalid(name, "unknown query parameter");
  }
}

export interface RestContext {
  readonly req: NodeRequest;
  readonly res: NodeResponse;
  readonly url: URL;
  readonly params: Record<string, string>;
  readonly principal: Principal;
  readonly call: Call;
  readonly deps: RestDeps;
  readonly api: PublicApi;
  readonly logger: Logger;
  /** The JSON body; undefined when empty (or for raw-body routes). */
  readonly body: JsonObject | undefined;
  /** The body as bytes, for raw-body routes. */
  readonly rawBody: RequestBody;
  /**
   * The request message for an RPC, from path parameters, query parameters and the JSON body,
   * decoded strictly (unknown fields and parameters, wrong types: INVALID_ARGUMENT naming them).
   */
  input<D extends DescMessage>(schema: D, options?: InputOptions): MessageShape<D>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** The outcome of matching a request, so the server can pick the in-flight slot before routing. */
export type Matched = { match: RouteMatch } | { error: GatewayError };

/** One request as the server hands it to the router. */
export interface RestRequest {
  readonly req: NodeRequest;
  readonly res: NodeResponse;
  /** The parsed request target. */
  readonly url: URL;
  /** What `match` found for the request (matched before, so the server can pick its in-flight slot). */
  readonly matched: Matched;
  /** The peer's address: the rate limit of anonymous callers is keyed on it. */
  readonly clientAddress: string;
  /** A refusal decided before routing (load shedding), answered as it is. */
  readonly rejection?: GatewayError;
}

/** A request once admitted to its route: what running it needs. */
interface Exchange {
  readonly req: NodeRequest;
  readonly res: NodeResponse;
  readonly url: URL;
  readonly route: Route;
  readonly params: Record<string, string>;
  readonly principal: Principal;
  readonly call: Call;
  readonly body: RequestBody;
  /** The query without `access_token`. */
  readonly query: URLSearchParams;
}

interface CompiledRoute {
  route: Route;
  segments: string[];
}

/** The caller of a public route without a token (its rate limit is its client address's). */
const ANONYMOUS: Principal = Object.freeze({ sub: "anonymous", roles: [], admin: false });

export function notFoundRoute(path: string): GatewayError {
  return new GatewayError(Code.NOT_FOUND, `no route for ${path.slice(0, 200)}`);
}

export function segmentsOf(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

/** The REST side of the gateway: matches routes and runs them with admission, idempotency and errors. */
export class RestRouter {
  readonly #routes: CompiledRoute[];

  constructor(
    routes: Route[],
    private readonly deps: RestDeps,
  ) {
    this.#routes = routes.map((route) => ({ route, segments: segmentsOf(route.path) }));
  }

  get routes(): readonly Route[] {
    return this.#routes.map((r) => r.route);
  }

  match(method: string, pathname: string): Matched {
    let raw: string[];
    try {
      raw = segmentsOf(pathname);
    } catch {
      return { error: notFoundRoute(pathname) };
    }
    const allowed: string[] = [];
    for (const { route, segments } of this.#routes) {
      if (segments.length !== raw.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        if (segments[i].startsWith(":")) {
          let value: string;
          try {
            value = decodeURIComponent(raw[i]);
          } catch {
            return { error: invalid(segments[i].slice(1), "is not correctly percent-encoded") };
          }
          params[segments[i].slice(1)] = value;
        } else if (segments[i] !== raw[i]) {
          ok = false;
        }
      }
      if (!ok) continue;
      if (route.method === method) return { match: { route, params } };
      allowed.push(route.method);
    }
    if (allowed.length > 0) {
      return {
        error: new GatewayError(Code.UNIMPLEMENTED, `method ${method} is not allowed on ${pathname}; use ${allowed.join(", ")}`, {
          httpStatus: 405,
          headers: { allow: allowed.join(", ") },
        }),
      };
    }
    return { error: notFoundRoute(pathname) };
  }

  /**
   * Answers one request. Never throws: every failure becomes a JSON error answer (or an aborted
   * stream once it has begun).
   */
  async handle(request: RestRequest): Promise<void> {
    const { req, res, url, matched } = request;
    const { deps } = this;
    const controller = new AbortController();
    // "close" also follows every answer sent in full: only one cut short is a client gone away.
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new GatewayError(Code.CANCELLED, "the client went away"));
    });
    const onShutdown = () => controller.abort(new GatewayError(Code.UNAVAILABLE, "the gateway is shutting down"));
    deps.shutdown.addEventListener("abort", onShutdown, { once: true });
    let body: RequestBody | undefined;
    try {
      if (request.rejection) throw request.rejection;
      checkCorrelationHeader(headerValue(req.headers[CORRELATION_HEADER]));
      if ("error" in matched) throw matched.error;
      const { route, params } = matched.match;
      const query = new URLSearchParams(url.searchParams);
      const principal = await this.#admit(route, request, query);
      checkPathParams(params);

      const key = route.method === "POST" ? idempotencyKey(headerValue(req.headers[IDEMPOTENCY_HEADER])) : undefined;
      const hash = key ? createHash("sha256").update(`${route.method} ${url.pathname}?${query.toString()}\n${req.headers["content-type"] ?? ""}\n`) : undefined;
      body = new RequestBody(req, route.rawBody ? deps.maxUploadBytes : deps.maxBodyBytes, hash);
      const call: Call = { principal, signal: controller.signal, idempotencyKey: key };
      const exchange: Exchange = { req, res, url, route, params, principal, call, body, query };
      // Calls about one order carry its id as correlation id, so its logs line up across services.
      tagOrder(orderIdOf(exchange));
      if (key && hash) await this.#runOnce(exchange, `rest:${principal.sub}`, key, hash);
      else send(res, await this.#run(exchange));
    } catch (error) {
      await this.#fail(req, res, error, body, deps.logger);
    } finally {
      deps.shutdown.removeEventListener("abort", onShutdown);
    }
  }

  /**
   * Who calls `route`: a verified token's principal, or the anonymous one on public routes.
   * Routes that accept the token in the query have it taken out of `query` here.
   */
  async #admit(route: Route, request: RestRequest, query: URLSearchParams): Promise<Principal> {
    let authorization = request.req.headers.authorization;
    if (route.tokenInQuery) {
      const token = query.get("access_token");
      query.delete("access_token");
      if (!authorization && token) authorization = `Bearer ${token}`;
    }
    const admitted = await this.deps.gatekeeper.admit(authorization, request.clientAddress, route.access !== "public");
    const principal = admitted ?? (route.access === "public" ? ANONYMOUS : undefined);
    if (!principal) throw new GatewayError(Code.UNAUTHENTICATED, "missing bearer token");
    if (route.access === "admin" && !principal.admin) throw permissionDenied(`${route.method} ${route.path} requires role admin`);
    return principal;
  }

  /** Reads the JSON body (unless the route reads it raw) and runs the route under the order's correlation id. */
  async #run(exchange: Exchange): Promise<Reply> {
    const { route, req, body } = exchange;
    const json = !route.rawBody && route.method !== "GET" ? parseJsonBody(await body.bytes(), req.headers["content-type"]) : undefined;
    const ignored = route.noBody && json ? Object.keys(json)[0] : undefined;
    if (ignored !== undefined) throw invalid(ignored, "unknown field: this route takes no body");
    const ctx = this.#context(exchange, json);
    return runWithCorrelationId(orderIdOf(exchange), () => route.handle(ctx));
  }

  /**
   * Runs a POST with an Idempotency-Key once per key: the key is claimed before the body is read
   * (only the request holding it may run), a finished key replays its stored answer when the
   * request is the same, and only a success is stored.
   */
  async #runOnce(exchange: Exchange, scope: string, key: string, hash: Hash): Promise<void> {
    const { res, body } = exchange;
    const found = await this.deps.idempotency.claim(scope, key);
    if (found.state === "pending") throw keyInProgress();
    if (found.state === "done") {
      // Replays are compared by the hash of method, path, query, content type and body.
      for await (const chunk of body.chunks()) void chunk;
      if (hash.digest("hex") !== found.requestHash) throw keyReused();
      sendJson(res, found.value.status, found.value.json, { ...found.value.headers, "idempotent-replayed": "true" });
      return;
    }
    const reservation = found.reservation;
    let reply: Reply;
    try {
      reply = await this.#run(exchange);
    } catch (error) {
      await reservation.abandon();
      throw error;
    }
    if (reply === "handled" || (reply.status ?? 200) >= 300) {
      await reservation.abandon();
    } else {
      // For raw bodies the hash is complete only now that the route has read everything.
      await reservation.complete(hash.digest("hex"), { status: reply.status ?? 200, json: reply.json, headers: reply.headers ?? {} });
    }
    send(res, reply);
  }

  async #fail(req: NodeRequest, res: NodeResponse, error: unknown, body: RequestBody | undefined, logger: Logger): Promise<void> {
    if (res.headersSent) {
      logger.warn({ err: error }, "stream failed after its response began");
      abortResponse(res);
      return;
    }
    if (req.destroyed && (res as { destroyed?: boolean }).destroyed) return; // the client is gone: nobody to answer
    const answer = toErrorResponse(error, logger);
    // Read what the client is still sending (bounded), so it gets this answer rather than a reset.
    const drained = req.readableEnded || (await (body ?? new RequestBody(req, Infinity)).discard(16 * 1024 * 1024));
    const headers = { ...answer.headers };
    if (!drained && !isHttp2(req)) headers.connection = "close";
    sendJson(res, answer.status, answer.body as unknown as JsonValue, headers);
  }

  #context(exchange: Exchange, body: JsonObject | undefined): RestContext {
    const deps = this.deps;
    const { route, query } = exchange;
    return {
      req: exchange.req,
      res: exchange.res,
      url: exchange.url,
      params: exchange.params,
      principal: exchange.principal,
      call: exchange.call,
      deps,
      api: deps.api,
      logger: deps.logger,
      body,
      rawBody: exchange.body,
      input: (schema, options = {}) => {
        checkDeclared(route, schema, options);
        return buildInput(schema, { ...options, body: options.body ?? true }, body, query);
      },
    };
  }
}

/** Sends a route's JSON answer, unless the route wrote the response itself. */
function send(res: NodeResponse, reply: Reply): void {
  if (reply !== "handled") sendJson(res, reply.status ?? 200, reply.json, reply.headers);
}

/** The order a route is about (`/api/v1/orders/:id...`), if any. */
function orderIdOf({ route, params }: Exchange): string | undefined {
  return route.path.startsWith("/api/v1/orders/:id") ? params.id : undefined;
}

/** A path parameter naming a resource (`:id`, `:productId`, `:orderId`) as its name says. */
const ID_PARAM = /^id$|Id$/;

/**
 * Ids in the path must be UUIDs, checked here: an order's id becomes the correlation id of the
 * upstream calls (gRPC metadata), and no upstream should see a value it could only reject.
 */
function checkPathParams(params: Record<string, string>): void {
  for (const [name, value] of Object.entries(params)) {
    if (ID_PARAM.test(name) && !isUuid(value)) {
      const shown = JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
      throw invalid(name, `must be a UUID, got ${shown}`);
    }
  }
}

/**
 * A route reads exactly the request it declares (the OpenAPI document is built from the
 * declarations); a mismatch is a programming error, caught by any test that calls the route.
 */
function checkDeclared(route: Route, schema: DescMessage, options: InputOptions): void {
  if (route.request !== schema) {
    throw new Error(`${route.method} ${route.path} reads ${schema.typeName} but declares ${route.request?.typeName ?? "no request"}`);
  }
  if (Boolean(options.query) !== Boolean(route.queryParams)) {
    throw new Error(`${route.method} ${route.path}: queryParams must be ${Boolean(options.query)} to match how it reads its input`);
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}

/** JSON body of a request: UTF-8 JSON object, with Content-Type application/json. */
export function parseJsonBody(bytes: Buffer, contentType: string | undefined): JsonObject | undefined {
  if (bytes.length === 0) return undefined;
  if (contentType === undefined || contentType.trim() === "") {
    throw new GatewayError(Code.INVALID_ARGUMENT, "Content-Type: is required for a request body; use application/json", {
      field: "Content-Type",
      httpStatus: 415,
    });
  }
  const [type, ...parameters] = contentType.split(";").map((part) => part.trim().toLowerCase());
  if (type !== "application/json") {
    throw new GatewayError(Code.INVALID_ARGUMENT, `Content-Type: must be application/json, got "${contentType.slice(0, 100)}"`, {
      field: "Content-Type",
      httpStatus: 415,
    });
  }
  const charset = parameters
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replace(/"/g, "");
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    throw new GatewayError(Code.INVALID_ARGUMENT, `Content-Type: charset must be utf-8, got "${charset}"`, { field: "Content-Type", httpStatus: 415 });
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid("body", "is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid("body", `malformed JSON: ${error instanceof Error ? error.message : "cannot be parsed"}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid("body", `must be a JSON object, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)?.slice(0, 40)}`);
  }
  return value as JsonObject;
}

/** Merges path parameters, query parameters and body into one request and decodes it. */
function buildInput<D extends DescMessage>(schema: D, options: InputOptions, body: JsonObject | undefined, query: URLSearchParams): MessageShape<D> {
  // No prototype, and copied key by key: Object.assign would run the `__proto__` setter for a
  // body key "__proto__" and drop it silently, where it must be rejected as an unknown field.
  const merged = Object.create(null) as JsonObject;
  if (body && options.body) for (const [key, value] of Object.entries(body)) merged[key] = value;
  const names = [...new Set(query.keys())];
  if (names.length > 0 && !options.query) throw invalid(names[0], "unknown query parameter");
  for (const name of names) {
    const values = query.getAll(name);
    if (values.length > 1) throw invalid(name, "must be given only once");
    if (!schema.fields.some((f) => f.name === name || f.jsonName === name)) throw invalid(name, "unknown query parameter");
    if (name in merged) throw invalid(name, "is given both in the query and in the body");
    merged[name] = values[0];
  }
  for (const [name, value] of Object.entries(options.path ?? {})) {
    const field = schema.fields.find((f) => f.name === name);
    if (!field) throw new Error(`${schema.typeName} has no field ${name}`);
    for (const key of [field.name, field.jsonName]) {
      if (key in merged && merged[key] !== value && merged[key] !== null) throw invalid(name, "does not match the id in the path");
      delete merged[key];
    }
    merged[field.name] = value;
  }
  return decodeMessage(schema, merged);
}
