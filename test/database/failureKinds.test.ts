import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import { describe, expect, it } from "vitest"
import { unavailability } from "../../src/server/database/DatabaseFailure.ts"
import { adminUrl, testDatabaseKind } from "../support/TestDatabase.ts"

/** How `statement` fails through the real driver, at `url`. */
const failureOf = (url: string, statement = "SELECT 1") =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
      Effect.flip,
      Effect.provide(Layer.fresh(PgClient.layer({ url: Redacted.make(url), connectTimeout: "1 second" })))
    )
  ).then((error) => {
    expect(isSqlError(error)).toBe(true)
    return error as SqlError
  })

const withUrl = (change: (url: URL) => void) => {
  const url = new URL(adminUrl)
  change(url)
  return url.href
}

// The boundary's judgement of the failures the driver really produces: which
// are an outage (503, logged as one) and which are bugs (500).
describe.skipIf((await testDatabaseKind) !== "postgres")("what a database failure means", () => {
  it.each([
    ["a database that does not exist", withUrl((url) => (url.pathname = "/no_such_database")), "3D000"],
    ["a host name that does not resolve", withUrl((url) => (url.hostname = "no-such-host.invalid")), "ENOTFOUND"],
    ["a port where nothing listens", withUrl((url) => (url.port = "1")), "ECONNREFUSED"],
    ["a server that refuses TLS when it is required", withUrl((url) => url.searchParams.set("sslmode", "require")), ""],
    ["a role that does not exist", withUrl((url) => (url.username = "no_such_role")), "28000"]
  ])("a connection that cannot be made is an outage: %s", async (_, url, kind) => {
    const outage = unavailability(await failureOf(url))
    expect(outage).toBeDefined()
    expect(outage!.kind).toContain(kind)
    expect(outage!.description).toMatch(/^Cannot connect to the database: /)
    expect(outage!.description).toContain(kind)
  })

  it("a connection that does not answer in time is an outage", async () => {
    // A listener that accepts and never answers: the connect timeout fires.
    const net = await import("node:net")
    const silent = net.createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()))
    const { port } = silent.address() as { port: number }
    try {
      const outage = unavailability(await failureOf(withUrl((url) => (url.hostname = "127.0.0.1", url.port = String(port)))))
      expect(outage?.description).toMatch(/^Cannot connect to the database: .*timed out/)
    } finally {
      silent.close()
    }
  })

  it.each([
    ["a syntax error", "SELEC 1"],
    ["an unknown column", "SELECT no_such_column FROM pg_class"],
    ["a value of the wrong type", "SELECT 'x'::int"],
    ["a division by zero", "SELECT 1 / 0"]
  ])("a statement the database rejects for its content is a bug: %s", async (_, statement) => {
    expect(unavailability(await failureOf(adminUrl, statement))).toBeUndefined()
  })

  it.each([
    ["a backend terminated under the statement", "SELECT pg_terminate_backend(pg_backend_pid())", /57P01|Lost the connection/],
    ["a statement cancelled (statement timeout)", "DO $$ BEGIN RAISE SQLSTATE '57014'; END $$", /57014/],
    ["too many connections, raised by the server mid-session", "DO $$ BEGIN RAISE SQLSTATE '53300'; END $$", /53300/]
  ])("a statement lost to the server's state is an outage: %s", async (_, statement, expected) => {
    const outage = unavailability(await failureOf(adminUrl, statement))
    expect(outage?.description).toMatch(expected)
  })
})
