import { execFile } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withToken } from "../support/Auth.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { adminUrl, createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"
import { waitFor } from "../support/Wait.ts"

// Restarting the machine's own PostgreSQL takes it from every test: this
// file is in the reliability suite, which runs one file at a time.
const cluster = existsSync("/etc/postgresql") ? readdirSync("/etc/postgresql")[0] : undefined
const isLocal = ["127.0.0.1", "localhost"].includes(new URL(adminUrl).hostname)

describe.skipIf(cluster === undefined || !isLocal)("the server while PostgreSQL restarts under load", () => {
  let database: TestDatabase
  let server: ServerProcess
  beforeAll(async () => {
    database = await createTestDatabase()
    server = await startServer({ ...database.serviceEnv, LOG_LEVEL: "warning" })
  })
  afterAll(async () => {
    await server?.stop()
    await database?.drop()
  })

  it("answers only successes and 503s, loses no acknowledged write, and recovers by itself", async () => {
    const statuses = new Map<number, number>()
    const acknowledged: Array<string> = []
    let failedWithoutAnswer = 0
    let running = true
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1)
    const writer = async (n: number) => {
      for (let i = 0; running; i++) {
        try {
          const response = await fetch(`${server.url}/tasks`, withToken({
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ title: `writer ${n} task ${i}` })
          }))
          count(response.status)
          if (response.status === 201) acknowledged.push(((await response.json()) as { id: string }).id)
          else await response.body?.cancel()
        } catch {
          failedWithoutAnswer++
        }
      }
    }
    const reader = async () => {
      while (running) {
        try {
          const response = await fetch(`${server.url}/tasks?limit=10`, withToken())
          count(response.status)
          await response.body?.cancel()
        } catch {
          failedWithoutAnswer++
        }
      }
    }
    const clients = [...Array.from({ length: 8 }, (_, n) => writer(n)), ...Array.from({ length: 8 }, reader)]
    await new Promise((resolve) => setTimeout(resolve, 1_000))

    const restartStarted = performance.now()
    // Not execFileSync: the clients in this process must keep running meanwhile.
    await promisify(execFile)("pg_ctlcluster", ["--skip-systemctl-redirect", cluster!, "main", "restart", "-m", "fast"])
    const restartMs = performance.now() - restartStarted
    const recoveredMs = await waitFor(async () => (await fetch(`${server.url}/ready`)).status === 200, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    running = false
    await Promise.all(clients)

    expect(failedWithoutAnswer).toBe(0)
    expect([...statuses.keys()].filter((status) => ![200, 201, 503].includes(status))).toEqual([])
    const stored = await database.query<{ id: string }>("SELECT id FROM tasks")
    const storedIds = new Set(stored.map((row) => row.id))
    expect(acknowledged.filter((id) => !storedIds.has(id))).toEqual([])

    const outageLines = server.output.filter((line) => line.includes("answering 503"))
    expect(outageLines.length).toBeGreaterThan(0)
    expect(outageLines.length).toBeLessThan(10)
    expect(server.output.some((line) => line.includes("answers again"))).toBe(true)
    console.log(
      `restart: pg_ctlcluster took ${restartMs.toFixed(0)} ms; answers ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `${acknowledged.length} writes acknowledged, all stored; ready ${recoveredMs.toFixed(0)} ms after the restart returned; ` +
        `log:\n${outageLines.join("\n")}`
    )
  })
})
