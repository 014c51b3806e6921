import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withToken } from "../support/Auth.ts"
import { startServer } from "../support/ServerProcess.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

let database: TestDatabase
beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(() => database.drop())

const refusesConnections = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = net.connect(Number(port), hostname)
    socket.once("connect", () => (socket.destroy(), resolve(false)))
    socket.once("error", () => resolve(true))
  })

describe("SIGTERM under load", () => {
  it("finishes every request it accepted, refuses new connections, and exits 0 within the deadline", async () => {
    const server = await startServer({ ...database.serviceEnv, LOG_LEVEL: "warning", SHUTDOWN_TIMEOUT: "10 seconds" })
    const acknowledged: Array<string> = []
    let failedWithoutAnswer = 0
    let other = 0
    let stopping = false
    // 200 clients, each creating tasks one after another until the server goes.
    const client = async (n: number) => {
      for (let i = 0; !stopping || i === 0; i++) {
        try {
          const response = await fetch(`${server.url}/tasks`, withToken({
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ title: `client ${n} task ${i}` })
          }))
          if (response.status === 201) acknowledged.push(((await response.json()) as { id: string }).id)
          else other++
        } catch {
          failedWithoutAnswer++
          return
        }
      }
    }
    const clients = Array.from({ length: 200 }, (_, n) => client(n))
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const signalled = performance.now()
    server.child.kill("SIGTERM")
    stopping = true
    await new Promise((resolve) => setTimeout(resolve, 50))
    const refused = await refusesConnections(server.url)
    const code = await server.exited
    const drainedIn = performance.now() - signalled
    await Promise.all(clients)

    expect(code).toBe(0)
    expect(drainedIn).toBeLessThan(10_000)
    expect(refused).toBe(true)
    expect(other).toBe(0)
    expect(acknowledged.length).toBeGreaterThan(200)
    // Nothing was done that was not answered, and nothing answered was lost:
    // the tasks stored are exactly the ones acknowledged.
    const stored = await database.query<{ id: string }>("SELECT id FROM tasks")
    expect(new Set(stored.map((row) => row.id))).toEqual(new Set(acknowledged))
    console.log(
      `shutdown under load: ${acknowledged.length} acknowledged, ${failedWithoutAnswer} refused after the signal, ` +
        `drained in ${drainedIn.toFixed(0)} ms`
    )
  })
})
