import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withToken } from "../support/Auth.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { createTestDatabase, type TestDatabase, testDatabaseKind } from "../support/TestDatabase.ts"

interface Page {
  readonly items: ReadonlyArray<{ readonly id: string }>
  readonly next_cursor: string | null
}

const page = async (server: ServerProcess, query: string) => {
  const response = await fetch(`${server.url}/tasks${query}`, withToken())
  expect(response.status).toBe(200)
  return (await response.json()) as Page
}

// Several instances on one database, as behind a balancer: each answers
// every request the same, with nothing to configure.
describe("several instances of the service on one database", () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database?.drop())

  it("page with each other's cursors, and after a restart, with no CURSOR_SECRET", async () => {
    // At once on PostgreSQL, as a rollout starts them. The embedded PGlite
    // behind its test socket has one backend for every connection, and
    // interleaves two instances' start-up statements (a CI run failed with
    // "Query failed"): there, one after the other.
    const [first, second] = (await testDatabaseKind) === "embedded"
      ? [await startServer(database.serviceEnv), await startServer(database.serviceEnv)]
      : await Promise.all([startServer(database.serviceEnv), startServer(database.serviceEnv)])
    const created: Array<string> = []
    for (let i = 0; i < 7; i++) {
      const response = await fetch(`${first.url}/tasks`, withToken({
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ title: `task ${i}` })
      }))
      created.push(((await response.json()) as { id: string }).id)
    }
    // Pages alternate between the instances, as round robin would send them.
    const seen: Array<string> = []
    const servers = [first, second]
    let cursor: string | null = null
    for (let turn = 0; turn === 0 || cursor !== null; turn++) {
      const answer: Page = await page(servers[turn % 2]!, `?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`)
      seen.push(...answer.items.map((item) => item.id))
      cursor = answer.next_cursor
    }
    expect(seen).toEqual([...created].reverse())

    // A cursor outlives the instance that issued it.
    const kept = (await page(first, "?limit=3")).next_cursor!
    await first.stop()
    await second.stop()
    const restarted = await startServer(database.serviceEnv)
    try {
      expect((await page(restarted, `?limit=3&cursor=${encodeURIComponent(kept)}`)).items.map((item) => item.id))
        .toEqual([...created].reverse().slice(3, 6))
    } finally {
      await restarted.stop()
    }
  })

  it("still sign with CURSOR_SECRET when it is set, and refuse the shared key's cursors then", async () => {
    const shared = await startServer(database.serviceEnv)
    const own = await startServer({ ...database.serviceEnv, CURSOR_SECRET: "a key of this deployment's own choosing" })
    try {
      const cursor = (await page(shared, "?limit=1")).next_cursor!
      const refused = await fetch(`${own.url}/tasks?cursor=${encodeURIComponent(cursor)}`, withToken())
      expect(refused.status).toBe(400)
    } finally {
      await shared.stop()
      await own.stop()
    }
  })

  it("warn at start-up that rate limits are per instance without REDIS_URL, and only then", async () => {
    const alone = await startServer(database.serviceEnv)
    const unlimited = await startServer({ ...database.serviceEnv, RATE_LIMIT_REQUESTS: "0" })
    await alone.stop()
    await unlimited.stop()
    const warning = alone.output.find((line) => line.includes("Rate limits are kept in this process"))
    expect(JSON.parse(warning!)).toMatchObject({ level: "WARN", message: expect.stringContaining("Set REDIS_URL") })
    expect(unlimited.output.some((line) => line.includes("Rate limits are kept in this process"))).toBe(false)
  })
})
