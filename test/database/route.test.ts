import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer } from "../support/ServerProcess.ts"
import { startTcpProxy, type TcpProxy } from "../support/TcpProxy.ts"
import { createTestDatabase, type TestDatabase, testDatabaseKind } from "../support/TestDatabase.ts"

const unnamed = "a pooler or proxy stands between, so statements go unnamed"

// Named statements where the service reaches PostgreSQL directly, unnamed
// where something stands between (a pooler in transaction mode loses named
// ones: the cluster test runs the service through PgBouncer).
describe.skipIf((await testDatabaseKind) !== "postgres")("how the service reaches PostgreSQL", () => {
  let database: TestDatabase
  let proxy: TcpProxy
  beforeAll(async () => {
    database = await createTestDatabase()
    const url = new URL(database.url)
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
  })
  afterAll(async () => {
    await proxy?.close()
    await database?.drop()
  })

  it("prepares named statements when it reaches PostgreSQL directly", async () => {
    const server = await startServer({ ...database.serviceEnv, LOG_LEVEL: "info" })
    await server.stop()
    expect(server.output.some((line) => line.includes(unnamed))).toBe(false)
  })

  it("sends statements unnamed when PostgreSQL answers from elsewhere than the URL names, and says so", async () => {
    const url = new URL(database.url)
    url.port = String(proxy.port)
    const server = await startServer({ ...database.serviceEnv, DATABASE_URL: url.href })
    try {
      expect((await fetch(`${server.url}/ready`)).status).toBe(200)
    } finally {
      await server.stop()
    }
    const line = server.output.find((line) => line.includes(unnamed))
    expect(line).toContain(`answers from 127.0.0.1:${new URL(database.url).port || 5432}`)
  })
})
