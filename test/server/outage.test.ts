import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTask, expectProblem, send } from "../support/Http.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { startTcpProxy, type TcpProxy } from "../support/TcpProxy.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"
import type { Target } from "../support/Targets.ts"

const timed = async <A>(f: () => Promise<A>) => {
  const started = performance.now()
  const value = await f()
  return { value, ms: performance.now() - started }
}

/** Polls until `check` holds, and says how long that took. */
const waitFor = async (check: () => Promise<boolean>, limitMs: number) => {
  const started = performance.now()
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`Not within ${limitMs} ms`)
}

describe("the server while its database goes away and comes back", () => {
  let database: TestDatabase
  let proxy: TcpProxy
  let server: ServerProcess
  let target: Target

  beforeAll(async () => {
    database = await createTestDatabase()
    const url = new URL(database.url)
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
    url.port = String(proxy.port)
    server = await startServer({ ...database.serviceEnv, DATABASE_URL: url.href })
    target = {
      fetch: (path, init) => fetch(new URL(path, server.url), init),
      reset: async () => {},
      close: async () => {}
    }
  })
  afterAll(async () => {
    await server?.stop()
    await proxy?.close()
    await database?.drop()
  })

  it("answers 503 within 5 s, keeps running, and recovers by itself within 10 s", async () => {
    const task = await createTask(target, { title: "survives the outage" })

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
  })
})
