// Jest loads global setup outside its module system, so this file is plain ESM that registers
// tsx and then imports the TypeScript harness. Infrastructure starts once per `jest` run; the
// URLs reach every test worker through process.env.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register } from "tsx/esm/api";

export default async function globalSetup() {
  register();
  const { startInfra } = await import("../../dev/infra.ts");
  const root = await mkdtemp(join(tmpdir(), "ordermesh-test-"));
  const infra = await startInfra({ root });
  globalThis.__ORDERMESH_INFRA__ = { infra, root };
  process.env.ORDERMESH_TEST_DATABASE_URL = infra.databaseUrl;
  process.env.ORDERMESH_TEST_NATS_URL = infra.natsUrl;
  process.env.ORDERMESH_TEST_S3_ENDPOINT = infra.s3Endpoint;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
}
