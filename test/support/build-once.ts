/**
 * Vitest global setup: compiles the project (incrementally) before the suites that run the built
 * simulator as a user would, so `npx vitest run` alone never tests stale JavaScript.
 */
import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
