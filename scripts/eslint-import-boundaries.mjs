// ESLint rule `house/import-boundaries`: the layering of the codebase, checked on every import
// (static, dynamic, `export ... from`) by resolving its relative path:
//   - a service never imports another service (services/a -> services/b): they talk over gRPC
//     and events, and share code through lib/ and the generated protos;
//   - lib/ never imports services/ or gateway/: it is the foundation both stand on;
//   - gateway/ never imports services/: it reaches them only through their gRPC APIs.
// Test helpers that need several services (test beds) live in test/, which may import anything.
import { dirname, relative, resolve, sep } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** ["services", "order"] for services/order/x.ts; ["lib"] for lib/x.ts; [] outside the layers. */
function layerOf(file) {
  const parts = relative(ROOT, file).split(sep);
  if (parts[0] === "services" && parts.length > 2) return ["services", parts[1]];
  if (parts[0] === "lib" || parts[0] === "gateway") return [parts[0]];
  return [];
}

function violation(from, to) {
  const [fromLayer, fromService] = layerOf(from);
  const [toLayer, toService] = layerOf(to);
  if (fromLayer === "services" && toLayer === "services" && fromService !== toService) {
    return `a service never imports another service (services/${fromService} -> services/${toService}); share through lib/ or the protos`;
  }
  if (fromLayer === "lib" && (toLayer === "services" || toLayer === "gateway")) return `lib/ never imports ${toLayer}/: it is what they build on`;
  if (fromLayer === "gateway" && toLayer === "services") return "gateway/ never imports services/: it calls them over gRPC";
  return undefined;
}

const importBoundaries = {
  meta: {
    type: "problem",
    docs: { description: "Keeps services, lib/ and gateway/ from importing across the house boundaries" },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    function check(node, source) {
      if (!source || source.type !== "Literal" || typeof source.value !== "string" || !source.value.startsWith(".")) return;
      const message = violation(file, resolve(dirname(file), source.value));
      if (message) context.report({ node: source, message: `${message} (import "${source.value}")` });
    }
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
    };
  },
};

export default { rules: { "import-boundaries": importBoundaries } };
