import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { createTask, listTasks, send } from "../support/Http.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { asUsers, type Target } from "../support/Targets.ts"

const overHttp = (server: ServerProcess): Target => ({
  ...asUsers((path, init) => fetch(server.url + path, init)),
  reset: async () => {},
  close: async () => {}
})

// With no DATABASE_URL the server runs PGlite in DATA_DIR, in its own process.
describe("the server on its embedded database", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "task-api-data-"))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it("says so at start, keeps tasks across a restart, and serves a full pool at once", async () => {
    const first = await startServer({ DATA_DIR: dataDir })
    expect(first.output.some((line) => line.includes(`the embedded PostgreSQL (PGlite) in ${dataDir}`))).toBe(true)
    const target = overHttp(first)
    const kept = await createTask(target, { title: "kept", description: "across restarts" })
    // More requests at once than the pool has connections: the socket server
    // must admit the whole pool (its default of one connection fails most).
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) => send(target, "POST", "/tasks", { title: `burst ${i}` }))
    )
    expect(burst.map((response) => response.status)).toEqual(burst.map(() => 201))
    expect(await first.stop()).toBe(0)

    const second = await startServer({ DATA_DIR: dataDir })
    const again = overHttp(second)
    expect(await (await again.fetch(`/tasks/${kept.id}`)).json()).toEqual(kept)
    expect((await listTasks(again, "?limit=100")).items).toHaveLength(41)
    await second.stop()
  })

  it("refuses a second process on the same DATA_DIR with a clear error", async () => {
    const running = await startServer({ DATA_DIR: dataDir })
    const result = spawnSync(process.execPath, [fileURLToPath(new URL("../../dist/start.js", import.meta.url))], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: "0", LOG_FORMAT: "json" },
      encoding: "utf8",
      timeout: 30_000
    })
    expect(result.status).toBe(1)
    expect(result.stdout + result.stderr).toContain(`DATA_DIR ${dataDir} is in use by another task-api process`)
    // The running one is untouched.
    expect((await fetch(`${running.url}/ready`)).status).toBe(200)
    await running.stop()
  })

  it("takes over the lock of a process that was killed", async () => {
    const killed = await startServer({ DATA_DIR: dataDir })
    const task = await createTask(overHttp(killed), { title: "acknowledged before the crash" })
    await killed.stop("SIGKILL")
    const restarted = await startServer({ DATA_DIR: dataDir })
    expect(await (await fetch(`${restarted.url}/tasks/${task.id}`)).json()).toEqual(task)
    await restarted.stop()
  })
})
