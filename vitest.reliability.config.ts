import { defineConfig } from "vitest/config"

// The real server against a real database, under faults and load; slower
// than the main suite, and one file at a time so the loads do not overlap.
export default defineConfig({
  test: {
    include: ["test/reliability/**/*.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    fileParallelism: false
  }
})
