import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTask, expectProblem, send, type TaskBody } from "../support/Http.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { asUsers, type Target } from "../support/Targets.ts"
import { createOwnedPostgresDatabase, testDatabaseKind } from "../support/TestDatabase.ts"
import { waitFor } from "../support/Wait.ts"

type OwnedDatabase = Awaited<ReturnType<typeof createOwnedPostgresDatabase>>

interface LogLine {
  readonly message: string
  readonly level: string
}
const logLines = (server: ServerProcess): Array<LogLine> =>
  server.output.flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine]
    } catch {
      return []
    }
  })

/** A 503 problem that says only that, with Retry-After, and that leaks nothing of the failure. */
const expectUnavailable = async (response: Response, password: string) => {
  const text = await response.clone().text()
  for (const leak of [password, "SQLSTATE", "PgConnection", "SqlError", "too many", "does not allow", "terminating"]) {
    expect(text).not.toContain(leak)
  }
  await expectProblem(response, 503)
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0)
}

// The service on a database and role of its own, closed to it in turn in
// every way PostgreSQL refuses a connection, and opened again: what clients
// see, what operators read, and that it recovers by itself.
describe.skipIf((await testDatabaseKind) !== "postgres")("the server while PostgreSQL refuses it", () => {
  let database: OwnedDatabase
  let server: ServerProcess
  let target: Target
  let task: TaskBody
  beforeAll(async () => {
    database = await createOwnedPostgresDatabase()
    server = await startServer(database.serviceEnv)
    target = { ...asUsers((path, init) => fetch(server.url + path, init)), reset: async () => {}, close: async () => {} }
    task = await createTask(target, { title: "outlives every outage" })
  })
  afterAll(async () => {
    await server?.stop()
    expect(server.output.join("\n")).not.toContain(database.password)
    await database?.drop()
  })

  const every = () => [
    () => target.fetch("/tasks"),
    () => target.fetch(`/tasks/${task.id}`),
    () => send(target, "POST", "/tasks", { title: "not now" }),
    () => send(target, "PATCH", `/tasks/${task.id}`, { title: "not now" }),
    () => target.fetch(`/tasks/${task.id}`, { method: "DELETE" }),
    () => target.fetch("/ready")
  ]

  for (
    const [kind, sqlState, message, close, open] of [
      [
        "the role's connection limit is 0",
        "53300",
        "too many connections",
        (db: OwnedDatabase) => db.admin(`ALTER ROLE ${db.role} CONNECTION LIMIT 0`),
        (db: OwnedDatabase) => db.admin(`ALTER ROLE ${db.role} CONNECTION LIMIT -1`)
      ],
      [
        "the database does not allow connections",
        "55000",
        "is not currently accepting connections",
        (db: OwnedDatabase) => db.admin(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`),
        (db: OwnedDatabase) => db.admin(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`)
      ]
    ] as const
  ) {
    it(`answers 503 while ${kind}, logs SQLSTATE ${sqlState} without flooding, and recovers`, async () => {
      const linesBefore = server.output.length
      await close(database)
      await database.terminateServiceSessions()

      const started = performance.now()
      for (let round = 0; round < 5; round++) {
        for (const request of every()) await expectUnavailable(await request(), database.password)
      }
      expect(performance.now() - started).toBeLessThan(5_000)
      expect((await target.fetch("/health")).status).toBe(200)

      await open(database)
      const recoveredIn = await waitFor(async () => (await target.fetch("/ready")).status === 200, 10_000)
      expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(task)
      await waitFor(async () => server.output.slice(linesBefore).some((line) => line.includes("answers again")), 3_000)

      // 30 failed requests, one line about them; none of them a 500's "Request failed".
      const lines = logLines({ ...server, output: server.output.slice(linesBefore) })
      const outage = lines.filter((line) => line.level === "WARN" && line.message.includes(`SQLSTATE ${sqlState}`))
      expect(outage).toHaveLength(1)
      expect(outage[0]!.message).toContain(message)
      expect(lines.filter((line) => line.level === "ERROR")).toEqual([])
      const recovery = lines.filter((line) => line.message.includes("answers again"))
      expect(recovery).toHaveLength(1)
      console.log(`${kind}: "${outage[0]!.message}"; then "${recovery[0]!.message}" (ready ${recoveredIn.toFixed(0)} ms after)`)
    })
  }

  it("answers 503 to a statement whose connection is cut under it, writes nothing, and recovers", async () => {
    const linesBefore = server.output.length
    // Hold the task's row, so the service's UPDATE waits on it; then end
    // that backend while the statement runs.
    const holder = new pg.Client({ connectionString: database.url })
    await holder.connect()
    try {
      await holder.query("BEGIN")
      await holder.query("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", [task.id])
      const patch = send(target, "PATCH", `/tasks/${task.id}`, { title: "cut short" })
      await waitFor(async () => {
        const waiting = await database.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE usename = '${database.role}' AND wait_event_type = 'Lock'`
        )
        return waiting.length > 0
      }, 5_000)
      await database.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${database.role}' AND wait_event_type = 'Lock'`
      )
      await expectUnavailable(await patch, database.password)
    } finally {
      await holder.query("ROLLBACK")
      await holder.end()
    }
    await waitFor(async () => (await target.fetch(`/tasks/${task.id}`)).status === 200, 10_000)
    expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(task)
    const lines = logLines({ ...server, output: server.output.slice(linesBefore) })
    expect(lines.some((line) => line.level === "WARN" && /SQLSTATE 57P01|Lost the connection/.test(line.message))).toBe(true)
    expect(lines.filter((line) => line.level === "ERROR")).toEqual([])
  })

  it("still answers a statement the database rejects for its content with a logged 500", async () => {
    await database.query("ALTER TABLE tasks RENAME COLUMN title TO name")
    try {
      const response = await target.fetch(`/tasks/${task.id}`)
      const text = await response.clone().text()
      expect(text).not.toMatch(/column|42703|SqlError|PgConnection|SQLSTATE/)
      await expectProblem(response, 500)
      expect(response.headers.get("retry-after")).toBeNull()
    } finally {
      await database.query("ALTER TABLE tasks RENAME COLUMN name TO title")
    }
    await waitFor(async () => logLines(server).some((line) => line.level === "ERROR" && /column/.test(line.message + JSON.stringify(line))), 2_000)
  })
})
