import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { Code } from "../lib/errors.js";
import { bearerToken, createAuthenticator, signDevToken } from "./auth.js";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const CUSTOMER = "0190a000-0000-7000-8000-0000000000c1";

async function rejection(promise: Promise<unknown>): Promise<{ code: Code; message: string }> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as { code: Code; message: string },
  );
}

describe("HS256 tokens", () => {
  const authenticate = createAuthenticator({ secret: SECRET });

  it("verifies a dev token and yields the principal", async () => {
    const token = await signDevToken({ sub: CUSTOMER, secret: SECRET });
    await expect(authenticate(token)).resolves.toEqual({ sub: CUSTOMER, roles: ["customer"], admin: false });
    const admin = await signDevToken({ sub: "ops", admin: true, secret: SECRET });
    await expect(authenticate(admin)).resolves.toMatchObject({ sub: "ops", admin: true });
  });

  it("refuses a bad signature", async () => {
    const token = await signDevToken({ sub: CUSTOMER, secret: "another-secret-another-secret-another-secret" });
    expect(await rejection(authenticate(token))).toMatchObject({ code: Code.UNAUTHENTICATED, message: "invalid token: signature verification failed" });
  });

  it("refuses an expired token", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(CUSTOMER)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET));
    expect(await rejection(authenticate(token))).toMatchObject({ code: Code.UNAUTHENTICATED, message: "token expired" });
  });

  it("remembers a verified token only until it expires", async () => {
    const authenticateOnce = createAuthenticator({ secret: SECRET });
    const token = await signDevToken({ sub: CUSTOMER, secret: SECRET, ttlSeconds: 30 });
    await expect(authenticateOnce(token)).resolves.toMatchObject({ sub: CUSTOMER });
    jest.useFakeTimers({ now: Date.now() + 40_000, doNotFake: ["nextTick", "setImmediate", "queueMicrotask"] });
    try {
      // Past exp and the 5 s tolerance: the remembered answer must not outlive the token.
      expect(await rejection(authenticateOnce(token))).toMatchObject({ code: Code.UNAUTHENTICATED, message: "token expired" });
    } finally {
      jest.useRealTimers();
    }
  });

  it("refuses other algorithms, including alg none", async () => {
    const hs512 = await new SignJWT({})
      .setProtectedHeader({ alg: "HS512" })
      .setSubject(CUSTOMER)
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(SECRET));
    expect(await rejection(authenticate(hs512))).toMatchObject({ code: Code.UNAUTHENTICATED, message: "invalid token: signing algorithm not allowed" });
    const none = new UnsecuredJWT({}).setSubject(CUSTOMER).setExpirationTime("1h").encode();
    expect((await rejection(authenticate(none))).code).toBe(Code.UNAUTHENTICATED);
  });

  it("requires sub and exp, and roles to be strings", async () => {
    const key = new TextEncoder().encode(SECRET);
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(CUSTOMER).sign(key);
    expect(await rejection(authenticate(noExp))).toMatchObject({ code: Code.UNAUTHENTICATED, message: expect.stringMatching(/exp/) });
    const noSub = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(key);
    expect(await rejection(authenticate(noSub))).toMatchObject({ code: Code.UNAUTHENTICATED, message: expect.stringMatching(/sub/) });
    const badRoles = await new SignJWT({ roles: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject(CUSTOMER).setExpirationTime("1h").sign(key);
    expect(await rejection(authenticate(badRoles))).toMatchObject({ message: "invalid token: roles must be an array of strings" });
  });

  it("checks issuer and audience when configured", async () => {
    const strict = createAuthenticator({ secret: SECRET, issuer: "https://id.example", audience: "ordermesh" });
    const right = await signDevToken({ sub: CUSTOMER, secret: SECRET, issuer: "https://id.example", audience: "ordermesh" });
    await expect(strict(right)).resolves.toMatchObject({ sub: CUSTOMER });
    const wrong = await signDevToken({ sub: CUSTOMER, secret: SECRET, issuer: "https://evil.example", audience: "ordermesh" });
    expect(await rejection(strict(wrong))).toMatchObject({ code: Code.UNAUTHENTICATED, message: expect.stringMatching(/iss/) });
  });

  it("refuses garbage", async () => {
    expect((await rejection(authenticate("not.a.jwt"))).message).toBe("invalid token: malformed");
  });
});

describe("bearer header", () => {
  it("extracts the token and refuses other schemes", () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerToken("bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(() => bearerToken("Basic dXNlcjpwYXNz")).toThrow(/Bearer/);
    expect(() => bearerToken("Bearer")).toThrow(/Bearer/);
  });
});

describe("JWKS tokens (production)", () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  let requests = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("verifies RS256 tokens against the JWKS and refuses HS256 tokens", async () => {
    const authenticate = createAuthenticator({ jwksUrl });
    const token = await new SignJWT({ roles: ["admin"] })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setSubject("ops-1")
      .setExpirationTime("1h")
      .sign(privateKey);
    await expect(authenticate(token)).resolves.toEqual({ sub: "ops-1", roles: ["admin"], admin: true });
    expect(requests).toBeGreaterThan(0);
    // No secret is configured: an HS256 token (e.g. "signed" with the public key) is refused.
    const hs = await signDevToken({ sub: "x", secret: SECRET });
    expect((await rejection(authenticate(hs))).code).toBe(Code.UNAUTHENTICATED);
  });

  it("is UNAVAILABLE, not UNAUTHENTICATED, while the JWKS endpoint cannot be reached", async () => {
    const authenticate = createAuthenticator({ jwksUrl: "http://127.0.0.1:1/jwks.json" });
    const token = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject("x").setExpirationTime("1h").sign(privateKey);
    expect((await rejection(authenticate(token))).code).toBe(Code.UNAVAILABLE);
  });
});
