/**
 * Property: bad input never gets a 5xx, never changes state. Generated invalid requests for every
 * REST route of the gateway's route table and every RPC of the generated service descriptors,
 * in every protocol (REST, Connect JSON and binary, gRPC-Web, gRPC over h2c), against the real
 * services. Each answer must be a 4xx / INVALID_ARGUMENT naming the problem (a JSON error body
 * where the protocol has one), and the databases must look exactly as before.
 *
 * Routes and RPCs are enumerated, not sampled: a new route or RPC is covered without touching
 * this file. fast-check generates the bad part; numRuns stays small per route so that the whole
 * file runs in well under a minute on 2 loaded cores.
 */
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { create, type DescField, type DescMessage, type DescMethod, fromBinary, ScalarType, toBinary, toJson } from "@bufbuild/protobuf";
import fc from "fast-check";
import pg from "pg";
import { type Mesh, SERVICES, startMesh } from "../../dev/mesh.js";
import { readGatewayConfig } from "../../gateway/config.js";
import { ROUTES, type RunningGateway, start } from "../../gateway/server.js";
import { tokens } from "../../gateway/testing/http.js";
import { UPSTREAM_SERVICES } from "../../gateway/upstreams.js";
import { serviceDatabaseUrl } from "../../lib/db/database.js";
import { uuidv7 } from "../../lib/ids.js";
import { createLogger } from "../../lib/log.js";
import { testInfra, uniqueId, waitFor } from "../harness/index.js";

const SECRET = "bad-input-int-test-secret-0123456789abcdef";
const logger = createLogger("bad-input", { level: process.env.TEST_LOG_LEVEL ?? "silent" });
/** Runs per route or RPC and protocol: enough to hit each kind of bad input now and then. */
const RUNS = Number(process.env.BAD_INPUT_RUNS ?? 3);
const SEED = process.env.BAD_INPUT_SEED ? Number(process.env.BAD_INPUT_SEED) : undefined;
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };

const METHODS: DescMethod[] = Object.values(UPSTREAM_SERVICES).flatMap((service) => service.methods);

// --- what an answer must look like -----------------------------------------------------------

interface Verdict {
  /** HTTP status (REST, Connect) or undefined. */
  status?: number;
  /** Lower-case code name: invalid_argument, not_found, ... */
  code: string;
  message: string;
  field?: string;
}

const GRPC_CODES = [
  "ok",
  "cancelled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

function decodeField(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

// --- wire helpers ----------------------------------------------------------------------------

function envelope(bytes: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt8(flags, 0);
  out.writeUInt32BE(bytes.length, 1);
  Buffer.from(bytes).copy(out, 5);
  return out;
}

function* envelopes(bytes: Buffer): Generator<{ flags: number; data: Buffer }> {
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const length = bytes.readUInt32BE(offset + 1);
    yield { flags: bytes[offset], data: bytes.subarray(offset + 5, offset + 5 + length) };
    offset += 5 + length;
  }
}

/** grpc-status / grpc-message / x-error-field from headers or a gRPC-Web trailer frame. */
function grpcVerdict(fields: Record<string, string | undefined>): Verdict {
  const code = Number(fields["grpc-status"]);
  return {
    code: GRPC_CODES[code] ?? `grpc-status ${fields["grpc-status"]}`,
    message: decodeField(fields["grpc-message"]) ?? "",
    field: decodeField(fields["x-error-field"]),
  };
}

function parseTrailerBlock(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return fields;
}

// --- bad protobuf ----------------------------------------------------------------------------

function tag(field: number, wireType: number): number[] {
  return varint((field << 3) | wireType);
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return out;
}

function decodes(schema: DescMessage, bytes: Uint8Array): boolean {
  try {
    fromBinary(schema, bytes);
    return true;
  } catch {
    return false;
  }
}

/** Bytes that are not an encoding of `schema`: truncated, bad wire types, invalid UTF-8, varint overflow. */
function undecodable(schema: DescMessage): fc.Arbitrary<Uint8Array> {
  const fieldNumber = fc.integer({ min: 1, max: 20 });
  const stringFields = schema.fields.filter((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.STRING);
  const kinds = [
    // A length-delimited field that promises more bytes than follow.
    fc
      .tuple(fieldNumber, fc.integer({ min: 5, max: 1_000 }), fc.uint8Array({ maxLength: 4 }))
      .map(([n, length, rest]) => [...tag(n, 2), ...varint(length), ...rest]),
    // Wire types 6 and 7 do not exist; 3/4 are groups that never end.
    fc.tuple(fieldNumber, fc.constantFrom(3, 6, 7), fc.uint8Array({ maxLength: 4 })).map(([n, wire, rest]) => [...tag(n, wire), ...rest]),
    // A varint of eleven bytes.
    fieldNumber.map((n) => [...tag(n, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    // Field number 0 is invalid.
    fc.uint8Array({ maxLength: 4 }).map((rest) => [0x02, ...rest]),
  ];
  if (stringFields.length > 0) {
    // Invalid UTF-8 in a string field.
    kinds.push(
      fc
        .tuple(fc.constantFrom(...stringFields), fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82]))
        .map(([field, bad]) => [...tag(field.number, 2), bad.length, ...bad]),
    );
  }
  return fc
    .oneof(...kinds)
    .map((bytes) => Uint8Array.from(bytes))
    .filter((bytes) => !decodes(schema, bytes));
}

/** A path from the message to a string field, through singular message fields (oneof members too). */
function stringFieldPath(schema: DescMessage, depth = 0): DescField[] | undefined {
  const direct = schema.fields.find((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.STRING);
  if (direct) return [direct];
  if (depth >= 3) return undefined;
  for (const field of schema.fields) {
    if (field.fieldKind !== "message" || field.message.typeName.startsWith("google.protobuf.")) continue;
    const rest = stringFieldPath(field.message, depth + 1);
    if (rest) return [field, ...rest];
  }
  return undefined;
}

/** An init object that sets the string at `path` to `value`. */
function initWith(path: DescField[], value: string): Record<string, unknown> {
  const [field, ...rest] = path;
  const inner = rest.length === 0 ? value : initWith(rest, value);
  return field.oneof ? { [field.oneof.localName]: { case: field.localName, value: inner } } : { [field.localName]: inner };
}

/** Strings no service can store; the unpaired surrogates only where JSON can carry them. */
function unstorable(json: boolean): fc.Arbitrary<string> {
  const bad = json ? fc.constantFrom("\u0000", "\u0000\u0000", "\ud800", "\udfff", "x\udbff") : fc.constantFrom("\u0000", "\u0000\u0000");
  return fc.tuple(fc.string({ maxLength: 8 }), bad, fc.string({ maxLength: 8 })).map(([a, b, c]) => `${a}${b}${c}`);
}

// --- the suite -------------------------------------------------------------------------------

describe("bad input, generated, for every route and RPC in every protocol", () => {
  let mesh: Mesh;
  let gateway: RunningGateway;
  let base: string;
  let adminToken: string;
  const databasePrefix = `${uniqueId("bad")}_`;
  const eventsPrefix = uniqueId("bad");
  let before: Record<string, number>;
  /** One h2c connection for every gRPC call of the file. */
  let h2session: ClientHttp2Session | undefined;

  /** Rows of every table of every service, except the migrations' bookkeeping. */
  async function snapshot(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const service of SERVICES) {
      const client = new pg.Client({ connectionString: serviceDatabaseUrl(testInfra().databaseUrl, `${databasePrefix}${service}`) });
      await client.connect();
      try {
        const tables = await client.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'mikro_orm%'",
        );
        for (const { table_name: table } of tables.rows) {
          const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`);
          counts[`${service}.${table}`] = Number(rows[0].n);
        }
      } finally {
        await client.end();
      }
    }
    return counts;
  }

  beforeAll(async () => {
    const infra = testInfra();
    mesh = await startMesh({
      ...infra,
      databasePrefix,
      eventsPrefix,
      readyTimeoutMs: 90_000,
      onLog: process.env.TEST_LOG_LEVEL === "debug" ? (service, line) => console.log(`[${service}] ${line}`) : undefined,
    });
    const config = readGatewayConfig({
      ...mesh.addresses(),
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      METRICS_PORT: "-1",
      JWT_SECRET: SECRET,
      NATS_URL: infra.natsUrl,
      EVENTS_PREFIX: eventsPrefix,
      RATE_LIMIT_RPS: "100000",
      RATE_LIMIT_BURST: "100000",
      RATE_LIMIT_GLOBAL_RPS: "100000",
      RATE_LIMIT_GLOBAL_BURST: "100000",
      UPSTREAM_DEADLINE_MS: "10000",
    });
    gateway = await start(config, { logger });
    base = `http://127.0.0.1:${gateway.port}`;
    adminToken = await tokens(SECRET).admin();
    // Something to change: a customer and a product (which set off events). Then wait for quiet.
    const customer = await fetch(`${base}/api/v1/customers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ email: `${uniqueId("c")}@example.com`, name: "Bad Input" }),
    });
    expect(customer.status).toBe(201);
    const product = await fetch(`${base}/api/v1/inventory`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ sku: uniqueId("SKU-"), name: "Widget", price: { currency_code: "USD", amount_minor: 500 }, initial_quantity: 10 }),
    });
    expect(product.status).toBe(201);
    let last = "";
    before = await waitFor(
      async () => {
        const now = await snapshot();
        const text = JSON.stringify(now);
        const stable = text === last;
        last = text;
        return stable && now;
      },
      { timeoutMs: 30_000, intervalMs: 500, message: "the databases to settle" },
    );
  }, 180_000);

  afterAll(async () => {
    h2session?.close();
    await gateway?.stop(2_000);
    await mesh?.stop(5_000);
  }, 60_000);

  // --- REST ----------------------------------------------------------------------------------

  /** Visible-ASCII-free or over-long correlation ids (fetch refuses control characters itself). */
  const badCorrelationId = fc.oneof(
    fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 8 }),
    fc.string({ unit: fc.constantFrom("a", "b", "-"), minLength: 129, maxLength: 200 }),
  );

  /** A path segment that is not a UUID (control, non-ASCII, punctuation); never empty or dots only. */
  const badId = fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.string({ unit: "binary", minLength: 1, maxLength: 6 }),
      fc.constantFrom("not-a-uuid", "\u0001", "é", "\u2028", "0190a000-0000-7000-8000-00000000000Z"),
    )
    .filter((s) => !/^\.*$/.test(s) && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s));

  const unknownKey = fc.oneof(
    fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty"),
    fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz_".split("")), minLength: 1, maxLength: 10 }).map((s) => `zz_${s}`),
  );

  const badBody = fc.oneof(
    fc.constantFrom("{", '{"a":', "[1,2]", "42", '"text"', "null", '{"a":1}}').map((text) => ({ text, field: "body" })),
    fc
      .tuple(unknownKey, fc.jsonValue({ maxDepth: 1 }))
      .map(([key, value]) => ({ text: `{${JSON.stringify(key)}: ${JSON.stringify(value ?? null)}}`, field: key })),
  );

  type RestCase =
    | { kind: "id"; param: string; value: string }
    | { kind: "query"; name: string }
    | { kind: "body"; text: string; field: string }
    | { kind: "correlation"; value: string };

  for (const route of ROUTES) {
    const paramNames = route.path
      .split("/")
      .filter((s) => s.startsWith(":"))
      .map((s) => s.slice(1));
    const hasJsonBody = route.method !== "GET" && !route.rawBody;

    it(`REST ${route.method} ${route.path}`, async () => {
      const cases: fc.Arbitrary<RestCase>[] = [
        unknownKey.map((key) => ({ kind: "query" as const, name: key.replace(/_/g, "") || "zz" })),
        badCorrelationId.map((value) => ({ kind: "correlation" as const, value })),
      ];
      if (paramNames.length > 0) cases.push(fc.tuple(fc.constantFrom(...paramNames), badId).map(([param, value]) => ({ kind: "id" as const, param, value })));
      if (hasJsonBody) cases.push(badBody.map((body) => ({ kind: "body" as const, ...body })));

      await fc.assert(
        fc.asyncProperty(fc.oneof(...cases), async (c) => {
          const values: Record<string, string> = Object.fromEntries(paramNames.map((name) => [name, name === "seq" ? "1" : uuidv7()]));
          if (c.kind === "id") values[c.param] = c.value;
          const path = route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => encodeURIComponent(values[name]));
          const query = c.kind === "query" ? `?${encodeURIComponent(c.name)}=1` : "";
          const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
          if (c.kind === "correlation") headers["x-correlation-id"] = c.value;
          let body: string | undefined;
          if (c.kind === "body") body = c.text;
          else if (hasJsonBody) body = "{}";
          if (body !== undefined) headers["content-type"] = route.rawBody ? "application/octet-stream" : "application/json";
          if (route.rawBody && body === undefined) body = "x";
          const response = await fetch(`${base}${path}${query}`, { method: route.method, headers, body });
          const text = await response.text();
          const where = `${route.method} ${path}${query} (${c.kind}) -> ${response.status} ${text.slice(0, 300)}`;
          expect({ where, status: response.status >= 400 && response.status < 500 }).toEqual({ where, status: true });
          const json = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
          expect({ where, code: typeof json.error?.code, message: typeof json.error?.message }).toEqual({ where, code: "string", message: "string" });
          const expected = c.kind === "id" ? c.param : c.kind === "query" ? c.name : c.kind === "body" ? c.field : "x-correlation-id";
          // The problem is named: the field, or (a route's own check) the message mentions it.
          const named = json.error?.field === expected || String(json.error?.message).includes(expected);
          expect({ where, expected, named }).toEqual({ where, expected, named: true });
        }),
        params,
      );
    });
  }

  // --- RPC -----------------------------------------------------------------------------------

  type Protocol = "connect-json" | "connect-proto" | "grpc-web" | "grpc";
  const PROTOCOLS: Protocol[] = ["connect-json", "connect-proto", "grpc-web", "grpc"];

  /** Sends one request message (bytes or JSON text) and reads the outcome, whatever the protocol. */
  async function rpc(protocol: Protocol, method: DescMethod, payload: Uint8Array | string): Promise<Verdict> {
    const path = `/${method.parent.typeName}/${method.name}`;
    const streaming = method.methodKind !== "unary";
    const authorization = `Bearer ${adminToken}`;
    if (protocol === "grpc") return rawGrpc(path, envelope(payload as Uint8Array), authorization);
    if (protocol === "grpc-web") {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", authorization },
        body: envelope(payload as Uint8Array),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      if (response.headers.get("grpc-status") !== null) {
        return grpcVerdict(Object.fromEntries(["grpc-status", "grpc-message", "x-error-field"].map((k) => [k, response.headers.get(k) ?? undefined])));
      }
      const trailer = [...envelopes(bytes)].find((e) => (e.flags & 0x80) === 0x80);
      return trailer ? grpcVerdict(parseTrailerBlock(trailer.data.toString("latin1"))) : { code: `no trailer (HTTP ${response.status})`, message: "" };
    }
    const json = protocol === "connect-json";
    if (!streaming) {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": json ? "application/json" : "application/proto", authorization },
        body: payload,
      });
      const text = await response.text();
      if (response.status === 200) return { status: 200, code: "ok", message: "" };
      const body = JSON.parse(text) as { code: string; message: string };
      return { status: response.status, code: body.code, message: body.message ?? "", field: decodeField(response.headers.get("x-error-field")) };
    }
    const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    const response = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": json ? "application/connect+json" : "application/connect+proto", authorization },
      body: envelope(data),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (response.status !== 200) {
      const body = JSON.parse(bytes.toString("utf8")) as { code: string; message: string };
      return { status: response.status, code: body.code, message: body.message };
    }
    const end = [...envelopes(bytes)].find((e) => (e.flags & 0x02) === 0x02);
    if (!end) return { status: 200, code: "no end-stream message", message: "" };
    const parsed = JSON.parse(end.data.toString("utf8")) as { error?: { code: string; message?: string }; metadata?: Record<string, string[]> };
    return {
      status: 200,
      code: parsed.error?.code ?? "ok",
      message: parsed.error?.message ?? "",
      field: decodeField(parsed.metadata?.["x-error-field"]?.[0]),
    };
  }

  async function rawGrpc(path: string, body: Buffer, authorization: string): Promise<Verdict> {
    if (!h2session || h2session.closed || h2session.destroyed) h2session = http2Connect(base);
    const session = h2session;
    {
      const fields = await new Promise<Record<string, string | undefined>>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", authorization });
        let head: Record<string, string | undefined> = {};
        const pick = (h: Record<string, unknown>) => ({
          "grpc-status": h["grpc-status"] as string | undefined,
          "grpc-message": h["grpc-message"] as string | undefined,
          "x-error-field": h["x-error-field"] as string | undefined,
        });
        stream.on("response", (h) => (head = pick(h)));
        stream.on("trailers", (t) => resolve(pick(t)));
        stream.on("end", () => resolve(head));
        stream.on("error", reject);
        stream.resume();
        stream.end(body);
      });
      return grpcVerdict(fields);
    }
  }

  function expectInvalid(where: string, verdict: Verdict, named: (v: Verdict) => boolean): void {
    expect({ where, code: verdict.code }).toEqual({ where, code: "invalid_argument" });
    if (verdict.status !== undefined) expect({ where, status: verdict.status < 500 }).toEqual({ where, status: true });
    expect({ where, named: named(verdict), verdict }).toMatchObject({ where, named: true });
  }

  for (const method of METHODS) {
    const input = method.input;
    const path = stringFieldPath(input);
    const fieldName = path?.map((f) => f.name).join(".");

    it(`RPC ${method.parent.name}/${method.name} in every protocol`, async () => {
      // Binary protocols: bytes that do not decode.
      for (const protocol of ["connect-proto", "grpc-web", "grpc"] as const) {
        await fc.assert(
          fc.asyncProperty(undecodable(input), async (bytes) => {
            const verdict = await rpc(protocol, method, bytes);
            expectInvalid(`${protocol} ${method.name} undecodable ${Buffer.from(bytes).toString("hex")}`, verdict, (v) => /request/.test(v.message));
          }),
          params,
        );
      }
      // Connect JSON: unknown fields and values of the wrong type.
      await fc.assert(
        fc.asyncProperty(unknownKey, fc.jsonValue({ maxDepth: 1 }), async (key, value) => {
          const text = `{${JSON.stringify(key)}: ${JSON.stringify(value ?? null)}}`;
          const verdict = await rpc("connect-json", method, text);
          expectInvalid(`connect-json ${method.name} ${text}`, verdict, (v) => v.message.includes(key) || v.field === key);
        }),
        params,
      );
      if (!path || !fieldName) return;
      // Every protocol: a string no service can store, in a field named by its path.
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...PROTOCOLS).chain((protocol) => fc.tuple(fc.constant(protocol), unstorable(protocol === "connect-json"))),
          async ([protocol, value]) => {
            const message = create(input, initWith(path, value) as never);
            const payload = protocol === "connect-json" ? JSON.stringify(toJson(input, message)) : toBinary(input, message);
            const verdict = await rpc(protocol, method, payload);
            // protobuf-es itself refuses an unpaired surrogate in JSON, naming the field by its full name.
            const leaf = path[path.length - 1];
            const named = (v: Verdict) => v.field === fieldName || v.message.startsWith(`${fieldName}:`) || v.message.includes(`.${leaf.name} from JSON`);
            expectInvalid(`${protocol} ${method.name} ${fieldName}=${JSON.stringify(value)}`, verdict, named);
          },
        ),
        { ...params, numRuns: RUNS * 2 },
      );
    });
  }

  // Last: everything above changed nothing.
  it("left every table of every service exactly as it was", async () => {
    expect(await snapshot()).toEqual(before);
  });
});
