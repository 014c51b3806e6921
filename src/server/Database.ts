import * as PgClient from "@effect/sql-pg/PgClient"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Migrator from "effect/sql/Migrator"
import type * as SqlClient from "effect/sql/SqlClient"
import { fileURLToPath } from "node:url"
import { AppConfig } from "./AppConfig.ts"
import { fromSqlDirectory } from "./SqlMigrations.ts"

export const migrationsDirectory = fileURLToPath(new URL("../../migrations", import.meta.url))

const runMigrations = Migrator.make({})({ loader: fromSqlDirectory(migrationsDirectory) })

/** Where the service's data lives, without credentials, for the logs. */
const describe = (url: string) => {
  const { hostname, port, pathname } = new URL(url)
  return `PostgreSQL at ${hostname}:${port || "5432"}${pathname}`
}

/**
 * The SqlClient the service runs on: a pool over `DATABASE_URL`, migrated
 * before the service takes traffic. Migrating also proves that the database
 * answers; while it does not, start-up waits (up to ~10 s) and then fails
 * with a clear message instead of serving 503s from the first request.
 */
export const layer: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, unknown, AppConfig> = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const url = config.databaseUrl ?? Redacted.make(AppConfig.defaultDatabaseUrl)
    const target = describe(Redacted.value(url))
    const client = PgClient.layer({
      url,
      maxConnections: 10,
      connectTimeout: config.databaseTimeout,
      applicationName: "task-api"
    })
    const migrated = Layer.effectDiscard(
      runMigrations.pipe(
        Effect.tapError((error) => Effect.logWarning(`Waiting for ${target}: ${error.message}`)),
        Effect.retry({ schedule: Schedule.spaced("1 second"), times: 9 }),
        Effect.tap((applied) =>
          Effect.logInfo(`Using ${target}` + (applied.length > 0 ? `; applied migrations ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}` : ""))
        ),
        Effect.mapError((error) => new Error(`Cannot start on ${target}: ${error.message}`))
      )
    ).pipe(Layer.provide([NodeFileSystem.layer, NodePath.layer]))
    return migrated.pipe(Layer.provideMerge(client))
  })
)
