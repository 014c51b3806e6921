import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { randomBytes } from "node:crypto"

/** The server tests create their databases on: `TEST_DATABASE_URL`, `DATABASE_URL` or the local one. */
export const adminUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres"

const connect = (url: string) => ManagedRuntime.make(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 }))

const run = (url: string, statement: string) => {
  const runtime = connect(url)
  return runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)))
    .finally(() => runtime.dispose())
}

export interface TestDatabase {
  readonly url: string
  /** Runs one statement on this database. */
  readonly query: <A extends object = Record<string, unknown>>(statement: string) => Promise<ReadonlyArray<A>>
  readonly drop: () => Promise<void>
}

/** A fresh, empty database of its own, so test files never see each other's rows. */
export const createTestDatabase = async (): Promise<TestDatabase> => {
  const name = `task_api_test_${randomBytes(6).toString("hex")}`
  await run(adminUrl, `CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const runtime = connect(url.href)
  return {
    url: url.href,
    query: <A extends object>(statement: string) =>
      runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(statement))),
    drop: async () => {
      await runtime.dispose()
      await run(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    }
  }
}
