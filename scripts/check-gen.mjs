// Fails when gen/ differs from what `buf generate` produces from proto/: generated code is
// committed, so a stale gen/ would ship contracts that do not match the .proto files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "ordermesh-gen-"));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

try {
  execFileSync("npx", ["buf", "generate", "--output", out], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const expected = new Map(files(join(out, "gen")).map((f) => [relative(join(out, "gen"), f), readFileSync(f, "utf8")]));
  const actual = new Map(files(join(root, "gen")).map((f) => [relative(join(root, "gen"), f), readFileSync(f, "utf8")]));
  const stale = [...new Set([...expected.keys(), ...actual.keys()])].filter((f) => expected.get(f) !== actual.get(f));
  if (stale.length > 0) {
    console.error(`gen/ is stale; run \`npm run gen\` and commit. Differing files:\n  ${stale.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`gen/ is up to date (${expected.size} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
