import { defineConfig } from "vitest/config"

// The deployment of deploy/compose.yaml on this machine (HAProxy, three
// instances, PgBouncer, Redis), under restarts, kills and races. One file at
// a time: each file's cluster takes ports, processes and load of its own.
export default defineConfig({
  test: {
    include: ["test/cluster/**/*.test.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false
  }
})
