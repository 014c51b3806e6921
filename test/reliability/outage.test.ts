import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTask, expectProblem, send } from "../support/Http.ts"
import { startServer } from "../support/ServerProcess.ts"
import { startTcpProxy } from "../support/TcpProxy.ts"
import { createTestDatabase } from "../support/TestDatabase.ts"
import { asUsers, type Target } from "../support/Targets.ts"
import { waitFor } from "../support/Wait.ts"

const timed = async <A>(f: () => Promise<A>) => {
  const started = performance.now()
  const value = await f()
  return { value, ms: performance.now() - started }
}

/** The built server, reaching a fresh database through a proxy the test controls. */
const behindProxy = async (env: Record<string, string> = {}) => {
  const database = await createTestDatabase()
  const url = new URL(database.url)
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
  url.port = String(proxy.port)
  const server = await startServer({ ...database.serviceEnv, DATABASE_URL: url.href, ...env })
  const target: Target = {
    ...asUsers((path, init) => fetch(server.url + path, init)),
    reset: async () => {},
    close: async () => {}
  }
  const close = async () => {
    await server.stop()
    await proxy.close()
    await database.drop()
  }
  return { proxy, server, target, close }
}

describe("the server while its database goes away and comes back", () => {
  let setup: Awaited<ReturnType<typeof behindProxy>>
  beforeAll(async () => {
    setup = await behindProxy()
  })
  afterAll(() => setup?.close())

  it("answers 503 within 5 s, keeps running, and recovers by itself within 10 s", async () => {
    const { proxy, server, target } = setup
    const task = await createTask(target, { title: "survives the outage" })

    // Clients keep reading all along: no request may hang, and each gets a
    // success or a 503.
    let flowing = true
    const seen = new Map<number, number>()
    let slowestMs = 0
    const reader = async () => {
      while (flowing) {
        const { ms, value } = await timed(() => target.fetch(`/tasks/${task.id}`))
        slowestMs = Math.max(slowestMs, ms)
        seen.set(value.status, (seen.get(value.status) ?? 0) + 1)
        await value.body?.cancel()
      }
    }
    const readers = Array.from({ length: 8 }, reader)
    await new Promise((resolve) => setTimeout(resolve, 300))

    await proxy.cut()
    for (const request of [
      () => target.fetch("/ready"),
      () => target.fetch(`/tasks/${task.id}`),
      () => target.fetch("/tasks"),
      () => send(target, "POST", "/tasks", { title: "not now" })
    ]) {
      const { ms, value } = await timed(request)
      await expectProblem(value, 503)
      expect(ms).toBeLessThan(5_000)
    }
    expect((await target.fetch("/health")).status).toBe(200)
    expect(server.child.exitCode).toBeNull()

    await proxy.restore()
    const recoveredIn = await waitFor(async () => (await target.fetch("/ready")).status === 200, 10_000)
    expect(recoveredIn).toBeLessThan(10_000)
    expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(task)
    const tasks = (await (await target.fetch("/tasks")).json()) as { items: Array<{ title: string }> }
    expect(tasks.items.map((item) => item.title)).toEqual(["survives the outage"])

    flowing = false
    await Promise.all(readers)
    expect([...seen.keys()].sort()).toEqual([200, 503])
    expect(slowestMs).toBeLessThan(5_500)
    console.log(`outage: answers seen ${JSON.stringify(Object.fromEntries(seen))}, slowest ${slowestMs.toFixed(0)} ms, ` +
      `recovered ${recoveredIn.toFixed(0)} ms after the database came back`)
  })
})

describe("the server while its database stops answering (packets dropped)", () => {
  let setup: Awaited<ReturnType<typeof behindProxy>>
  beforeAll(async () => {
    setup = await behindProxy({ REQUEST_TIMEOUT: "4 seconds" })
  })
  afterAll(() => setup?.close())

  it("answers 503 at REQUEST_TIMEOUT (/ready at its own 2 s) instead of hanging, and recovers", async () => {
    const { proxy, server, target } = setup
    const task = await createTask(target, { title: "behind a silent network" })
    proxy.freeze()
    const requests = [
      [() => target.fetch(`/tasks/${task.id}`), 4_000],
      [() => target.fetch("/ready"), 2_000],
      [() => send(target, "POST", "/tasks", { title: "not now" }), 4_000]
    ] as const
    const answers = await Promise.all(requests.map(([request]) => timed(request)))
    for (const [i, { ms, value }] of answers.entries()) {
      await expectProblem(value, 503)
      expect(ms).toBeGreaterThan(requests[i]![1] - 500)
      expect(ms).toBeLessThan(requests[i]![1] + 1_500)
    }
    expect(server.child.exitCode).toBeNull()
    await proxy.restore()
    const recoveredIn = await waitFor(async () => (await target.fetch("/ready")).status === 200, 10_000)
    expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(task)
    console.log(`silent database: 503 after ${answers.map(({ ms }) => ms.toFixed(0)).join(", ")} ms; ` +
      `recovered ${recoveredIn.toFixed(0)} ms after it answered again`)
  })
})
