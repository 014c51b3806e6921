import * as PgClient from "@effect/sql-pg/PgClient"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { randomBytes } from "node:crypto"
import { isReachable } from "./Reachable.ts"

/** The server tests create their databases on: `TEST_DATABASE_URL`, `DATABASE_URL` or the local one. */
export const adminUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres"

const isReachableUrl = (url: string) => {
  const { hostname, port } = new URL(url)
  return isReachable(hostname, Number(port || 5432))
}

/**
 * `TEST_DATABASE=postgres` or `embedded` chooses; by default the tests use
 * PostgreSQL when one answers at `adminUrl`, and the embedded PGlite when not,
 * so `npm test` passes on a machine without PostgreSQL.
 */
export const testDatabaseKind: Promise<"postgres" | "embedded"> = (async () => {
  const chosen = process.env.TEST_DATABASE
  if (chosen === "postgres" || chosen === "embedded") return chosen
  if (chosen !== undefined && chosen !== "") throw new Error(`TEST_DATABASE must be postgres or embedded, not ${chosen}`)
  return (await isReachableUrl(adminUrl)) ? "postgres" : "embedded"
})()

const connect = (url: string) => ManagedRuntime.make(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))

const run = (url: string, statement: string) => {
  const runtime = connect(url)
  return runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)))
    .finally(() => runtime.dispose())
}

export interface TestDatabase {
  readonly url: string
  /** What a service needs to run on this database. */
  readonly serviceEnv: Record<string, string>
  /** Runs one statement on this database. */
  readonly query: <A extends object = Record<string, unknown>>(statement: string) => Promise<ReadonlyArray<A>>
  readonly drop: () => Promise<void>
}

const withClient = (url: string, drop: () => Promise<void>, serviceEnv: Record<string, string> = {}): TestDatabase => {
  const runtime = connect(url)
  return {
    url,
    serviceEnv: { DATABASE_URL: url, ...serviceEnv },
    query: <A extends object>(statement: string) =>
      runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(statement))),
    drop: async () => {
      await runtime.dispose()
      await drop()
    }
  }
}

/** A PostgreSQL database of its own on the server at `adminUrl`. */
const createPostgresDatabase = async () => {
  const name = `task_api_test_${randomBytes(6).toString("hex")}`
  await run(adminUrl, `CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return withClient(url.href, () => run(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => {}))
}

/**
 * A PostgreSQL database owned by a login role of its own (not a superuser,
 * so connection limits apply to it), for tests that close the database or
 * the role to connections. The service connects as that role, with a
 * password in its URL that the server never asks for (trust) and that must
 * never appear in what the service says; `query` runs as the administrator.
 */
export const createOwnedPostgresDatabase = async () => {
  const name = `task_api_test_${randomBytes(6).toString("hex")}`
  await run(adminUrl, `CREATE ROLE ${name} LOGIN`)
  await run(adminUrl, `CREATE DATABASE ${name} OWNER ${name}`)
  const adminOnDatabase = new URL(adminUrl)
  adminOnDatabase.pathname = `/${name}`
  const serviceUrl = new URL(adminOnDatabase)
  serviceUrl.username = name
  serviceUrl.password = `pw-${randomBytes(8).toString("hex")}`
  const database = withClient(adminOnDatabase.href, async () => {
    await run(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await run(adminUrl, `DROP ROLE IF EXISTS ${name}`)
  })
  return {
    ...database,
    serviceEnv: { DATABASE_URL: serviceUrl.href },
    role: name,
    name,
    password: serviceUrl.password,
    /** Runs one statement as the administrator, on another database: this one may be closed. */
    admin: (statement: string) => run(adminUrl, statement).then(() => {}),
    /** Ends every session the service has open, so its pool must connect again. */
    terminateServiceSessions: () =>
      run(adminUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${name}'`)
  }
}

/** An in-memory PGlite of its own, behind a socket, as the service runs it. */
const createEmbeddedDatabase = async () => {
  const db = await PGlite.create()
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 16 })
  await server.start()
  // One connection, as the service uses on its own embedded database: PGlite
  // interleaves the messages of several connections.
  return withClient(`postgres://postgres@${server.getServerConn()}/postgres`, async () => {
    await server.stop()
    await db.close()
  }, { DATABASE_POOL_SIZE: "1" })
}

/** A fresh, empty database, so test files never see each other's rows. */
export const createTestDatabase = async (): Promise<TestDatabase> =>
  (await testDatabaseKind) === "postgres" ? createPostgresDatabase() : createEmbeddedDatabase()
