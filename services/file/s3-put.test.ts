import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "@jest/globals";
import { SignatureV4 } from "@smithy/signature-v4";
import { S3Put, type S3PutSettings } from "./s3-put.js";

/** SHA-256 and HMAC-SHA256 in the shape the SDK's signer takes. */
class NodeSha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", typeof secret === "string" ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: string | Uint8Array): void {
    this.#hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

/** The signature the AWS SDK's own signer gives the received request, signing the headers it was signed with. */
async function sdkSignature(
  req: IncomingMessage,
  body: Buffer,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
): Promise<string> {
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(req.headers.authorization ?? "")![1].split(";");
  const amzDate = String(req.headers["x-amz-date"]);
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`);
  const signer = new SignatureV4({ service: "s3", region: "eu-west-1", credentials, sha256: NodeSha256, uriEscapePath: false });
  const [hostname, port] = String(req.headers.host).split(":");
  const signed = await signer.sign(
    {
      method: req.method!,
      protocol: "http:",
      hostname,
      port: Number(port),
      path: req.url!,
      query: {},
      headers: Object.fromEntries(signedHeaders.filter((name) => name !== "x-amz-date").map((name) => [name, String(req.headers[name])])),
      body,
    },
    { signingDate },
  );
  return /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))![1];
}

type Answer = { status: number; body?: string } | null;

/** A local HTTP server answering each request with `respond` (null: drop the connection). */
async function serve(
  respond: (req: IncomingMessage, body: Buffer, n: number) => Answer | Promise<Answer>,
): Promise<{ server: Server; url: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push(req);
      void Promise.resolve(respond(req, Buffer.concat(chunks), requests.length)).then((answer) => {
        if (!answer) return req.socket.destroy();
        res.writeHead(answer.status, { "content-type": "application/xml" }).end(answer.body ?? "");
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const servers: Server[] = [];
const puts: S3Put[] = [];
afterEach(async () => {
  for (const put of puts.splice(0)) put.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

function putter(endpoint: string, overrides: Partial<S3PutSettings> = {}): S3Put {
  const put = new S3Put({
    endpoint,
    region: "eu-west-1",
    bucket: "bucket",
    forcePathStyle: true,
    credentials: () => Promise.resolve({ accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: "token" }),
    connectTimeoutMs: 1_000,
    socketTimeoutMs: 2_000,
    maxAttempts: 3,
    ...overrides,
  });
  puts.push(put);
  return put;
}

describe("S3Put", () => {
  it("sends a path-style PUT signed with SigV4 over the body's SHA-256", async () => {
    const bodies: Buffer[] = [];
    const { server, url, requests } = await serve((_req, body) => (bodies.push(body), { status: 200 }));
    servers.push(server);
    await putter(url).put({ key: "invoices/a b+ü.pdf", body: Buffer.from("%PDF"), contentType: "application/pdf", metadata: { "File-Id": "f1" } });
    const [req] = requests;
    expect(req.method).toBe("PUT");
    expect(req.url).toBe("/bucket/invoices/a%20b%2B%C3%BC.pdf");
    expect(req.headers).toMatchObject({
      "content-type": "application/pdf",
      "content-md5": "v6SxCnYySxZs/a1eAqY3MA==",
      "x-amz-content-sha256": "315d429b7714cedb6ad04ac31240145257692630457f3c88253c5beceac76027",
      "x-amz-meta-file-id": "f1",
      "x-amz-security-token": "token",
    });
    expect(req.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=content-md5;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-file-id;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    const signature = /Signature=([0-9a-f]+)$/.exec(req.headers.authorization!)![1];
    expect(signature).toBe(await sdkSignature(req, bodies[0], { accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: "token" }));
  });

  it("tries a dropped connection and a 503 again, but not a refusal", async () => {
    const { server, url, requests } = await serve((_req, _body, n) =>
      n === 1 ? null : n === 2 ? { status: 503, body: "<Error><Code>SlowDown</Code></Error>" } : { status: 200 },
    );
    servers.push(server);
    await putter(url).put({ key: "k", body: Buffer.from("x"), contentType: "text/plain" });
    expect(requests).toHaveLength(3);

    const refusing = await serve(() => ({ status: 403, body: "<Error><Code>AccessDenied</Code><Message>no</Message></Error>" }));
    servers.push(refusing.server);
    await expect(putter(refusing.url).put({ key: "k", body: Buffer.from("x"), contentType: "text/plain" })).rejects.toMatchObject({
      code: "AccessDenied",
      status: 403,
      message: expect.stringContaining("AccessDenied, HTTP 403 (no)"),
    });
    expect(refusing.requests).toHaveLength(1);
  });

  it("is refused with a clear error by a server that checks signatures when the secret is wrong", async () => {
    const credentials = { accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: "token" };
    const { server, url } = await serve(async (req, body) =>
      req.headers.authorization?.endsWith(`Signature=${await sdkSignature(req, body, credentials)}`)
        ? { status: 200 }
        : { status: 403, body: "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>" },
    );
    servers.push(server);
    const request = { key: "k", body: Buffer.from("x"), contentType: "text/plain" };
    await putter(url, { credentials: () => Promise.resolve(credentials) }).put(request);
    await expect(putter(url, { credentials: () => Promise.resolve({ ...credentials, secretAccessKey: "wrong" }) }).put(request)).rejects.toMatchObject({
      name: "S3ResponseError",
      code: "SignatureDoesNotMatch",
      status: 403,
      message: expect.stringContaining("SignatureDoesNotMatch, HTTP 403"),
    });
  });

  it("gives up after maxAttempts and stops at once when aborted", async () => {
    const { server, url, requests } = await serve(() => ({ status: 500, body: "<Error><Code>InternalError</Code></Error>" }));
    servers.push(server);
    await expect(putter(url, { maxAttempts: 2 }).put({ key: "k", body: Buffer.from("x"), contentType: "text/plain" })).rejects.toMatchObject({
      code: "InternalError",
    });
    expect(requests).toHaveLength(2);

    const controller = new AbortController();
    controller.abort();
    await expect(putter(url).put({ key: "k", body: Buffer.from("x"), contentType: "text/plain", signal: controller.signal })).rejects.toThrow(/abort/i);
    expect(requests).toHaveLength(2);
  });
});
