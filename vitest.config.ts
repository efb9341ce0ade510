import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/build-once.ts"],
    testTimeout: 30_000,
    // Two test files at a time. Vitest's default on 2 cores is one (CPUs - 1), and most files spend
    // their time waiting on the processes, brokers and databases they start; one at a time took
    // 17 minutes of the 20 CI has (2026-12-02).
    maxWorkers: 2,
    hookTimeout: 60_000,
  },
});
