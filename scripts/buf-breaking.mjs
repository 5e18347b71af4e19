// Runs `buf breaking` against proto/baseline.binpb: a committed image of the protos as last
// released, so a change that would break deployed clients fails `npm run lint` (and CI) even
// when it is itself committed. The baseline moves only on purpose:
//
//   npm run proto:baseline     # after a release: the current protos become the new baseline
//
// and that commit is the place to review what the release promised clients.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const BASELINE = "proto/baseline.binpb";

if (!existsSync(BASELINE)) {
  console.error(`buf breaking: ${BASELINE} is missing; build it from the last released protos (npm run proto:baseline) and commit it`);
  process.exit(1);
}
try {
  execFileSync("npx", ["buf", "breaking", "--against", BASELINE], { stdio: "inherit" });
  console.log(`buf breaking: no breaking changes against ${BASELINE}`);
} catch {
  console.error(`buf breaking: the protos break clients of the released API (${BASELINE}); make the change additive`);
  process.exit(1);
}
