import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withToken } from "../support/Auth.ts"
import { startServer } from "../support/ServerProcess.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

let database: TestDatabase
beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(() => database.drop())

interface Known {
  acknowledged: { title: string; status: string }
  inFlight?: { title: string; status: string }
}

describe("kill -9 while writing", () => {
  it("keeps every task and change whose 201 or 200 the client received", async () => {
    const server = await startServer({ ...database.serviceEnv, LOG_LEVEL: "warning" })
    const known = new Map<string, Known>()
    let dead = false
    const post = (path: string, method: string, body: unknown) =>
      fetch(`${server.url}${path}`, withToken({
        method,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body)
      }))
    // Each writer creates a task, then changes it again and again.
    const writer = async (n: number) => {
      for (let round = 0; !dead; round++) {
        let id: string
        try {
          const created = await post("/tasks", "POST", { title: `w${n} r${round} v0`, status: "pending" })
          if (created.status !== 201) continue
          id = ((await created.json()) as { id: string }).id
          known.set(id, { acknowledged: { title: `w${n} r${round} v0`, status: "pending" } })
        } catch {
          return
        }
        for (let version = 1; version <= 5 && !dead; version++) {
          const change = { title: `w${n} r${round} v${version}`, status: version % 2 === 0 ? "completed" : "in_progress" }
          known.get(id)!.inFlight = change
          try {
            const updated = await post(`/tasks/${id}`, "PATCH", change)
            if (updated.status === 200) known.set(id, { acknowledged: change })
          } catch {
            return
          }
        }
      }
    }
    const writers = Array.from({ length: 32 }, (_, n) => writer(n))
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    dead = true
    await server.stop("SIGKILL")
    await Promise.all(writers)

    const restarted = await startServer({ ...database.serviceEnv, LOG_LEVEL: "warning" })
    try {
      expect(known.size).toBeGreaterThan(50)
      for (const [id, { acknowledged, inFlight }] of known) {
        const response = await fetch(`${restarted.url}/tasks/${id}`, withToken())
        expect(response.status).toBe(200)
        const { status, title } = (await response.json()) as { title: string; status: string }
        // The last acknowledged change, or one sent after it whose answer the kill cut off.
        expect([acknowledged, inFlight]).toContainEqual({ title, status })
      }
      console.log(`crash durability: ${known.size} acknowledged tasks checked after kill -9`)
    } finally {
      await restarted.stop()
    }
  })
})
