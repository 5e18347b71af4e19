import { resolve } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { Linter } from "eslint";
import house from "./eslint-import-boundaries.mjs";

const ROOT = resolve(import.meta.dirname, "..");

/** The rule's messages for `code` as if it were the file at `path` (relative to the repository). */
function lint(path: string, code: string): string[] {
  const linter = new Linter({ configType: "flat" });
  const config = [{ files: ["**/*.js"], plugins: { house }, rules: { "house/import-boundaries": "error" as const } }];
  return linter.verify(code, config, { filename: resolve(ROOT, path) }).map((m) => m.message);
}

describe("house/import-boundaries", () => {
  it("refuses a service importing another service, however the path is written", () => {
    expect(lint("services/order/x.js", 'import { start } from "../inventory/service.js";')).toEqual([
      expect.stringMatching(/^a service never imports another service \(services\/order -> services\/inventory\)/),
    ]);
    expect(lint("services/order/domain/x.js", 'export * from "../../../services/payment/card.js";')).toHaveLength(1);
    expect(lint("services/order/x.js", 'const m = await import("../delivery/rpc.js");')).toHaveLength(1);
  });

  it("refuses lib/ importing services/ or gateway/, and gateway/ importing services/", () => {
    expect(lint("lib/grpc/x.js", 'import "../../services/order/orders.js";')).toEqual([expect.stringMatching(/^lib\/ never imports services\//)]);
    expect(lint("lib/x.js", 'import { x } from "../gateway/auth.js";')).toEqual([expect.stringMatching(/^lib\/ never imports gateway\//)]);
    expect(lint("gateway/api/x.js", 'import { x } from "../../services/order/rpc.js";')).toEqual([
      expect.stringMatching(/^gateway\/ never imports services\//),
    ]);
  });

  it("allows the layers the house allows", () => {
    expect(lint("services/order/x.js", 'import "./domain/order-status.js"; import "../../lib/ids.js"; import "../../gen/shop/file/v1/file_pb.js";')).toEqual(
      [],
    );
    expect(lint("gateway/x.js", 'import "../lib/errors.js"; import "@bufbuild/protobuf";')).toEqual([]);
    expect(lint("test/harness/x.js", 'import "../../services/order/service.js"; import "../../services/inventory/service.js";')).toEqual([]);
  });
});
