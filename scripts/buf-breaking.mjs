// Runs `buf breaking` against the proto/ of the main branch, so a change that would break
// deployed clients fails `npm run lint`. Skipped, with a message, where there is nothing to
// compare with yet (no main branch, or main has no proto/ yet, e.g. the first commit).
import { execFileSync } from "node:child_process";

function git(...args) {
  return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
}

let against;
for (const ref of ["origin/main", "main"]) {
  try {
    if (git("ls-tree", "-d", ref, "proto")) {
      against = ref;
      break;
    }
  } catch {
    // ref does not exist here
  }
}
if (!against) {
  console.log("buf breaking: no main branch with proto/ to compare with; skipped");
  process.exit(0);
}
try {
  execFileSync("npx", ["buf", "breaking", "--against", `.git#ref=${against}`], { stdio: "inherit" });
  console.log(`buf breaking: no breaking changes against ${against}`);
} catch {
  process.exit(1);
}
