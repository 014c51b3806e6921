// The database: a pool over PostgreSQL or the embedded PGlite, its migrations, and what its failures mean.
import * as PgClient from "@effect/sql-pg/PgClient"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Migrator from "effect/sql/Migrator"
import type * as SqlClient from "effect/sql/SqlClient"
import { lookup } from "node:dns/promises"
import { fileURLToPath } from "node:url"
import { AppConfig } from "../AppConfig.ts"
import { describeFailure } from "./DatabaseFailure.ts"
import { fromSqlDirectory } from "./SqlMigrations.ts"

export const migrationsDirectory = fileURLToPath(new URL("../../../migrations", import.meta.url))

// PGlite is one backend. Its socket server interleaves the protocol messages
// of different connections, so two connections' statements can clobber each
// other's unnamed portal (seen: concurrent transactions failing with
// 'portal "" does not exist'). One connection, on which the driver pipelines
// concurrent statements, keeps each statement's messages together.
const embeddedPoolSize = 1

const runMigrations = Migrator.make({})({ loader: fromSqlDirectory(migrationsDirectory) })

/** Where the service's data lives, without credentials, for the logs. */
const describe = (url: string) => {
  const { hostname, pathname, port } = new URL(url)
  return `PostgreSQL at ${hostname}:${port || "5432"}${pathname}`
}

/**
 * A pool over `url`, migrated before anything uses it. Statements of
 * concurrent requests are pipelined on shared connections (`multiplex`): the
 * repository runs single statements only, and the driver still reserves a
 * connection for transactions (the migrator's). Measured: 1.3x the
 * throughput of GET by id, 1.5x of a list page.
 */
const pool = (
  url: Redacted.Redacted,
  target: string,
  options: {
    readonly connectTimeout: AppConfig["Service"]["databaseTimeout"]
    readonly connections: number
    /** Whether statements are prepared under names the connection keeps. */
    readonly named: boolean
  }
) => {
  const { hostname, pathname, port } = new URL(Redacted.value(url))
  const client = PgClient.layer({
    url,
    // Given again apart from the URL for the statements' spans, which name
    // the database and server from these (`db.namespace`, `server.address`).
    ...(hostname === "" ? {} : { host: hostname.replace(/^\[|\]$/g, "") }),
    ...(port === "" ? {} : { port: Number(port) }),
    ...(pathname.length > 1 ? { database: decodeURIComponent(pathname.slice(1)) } : {}),
    maxConnections: options.connections,
    connectTimeout: options.connectTimeout,
    applicationName: "task-api",
    multiplex: true,
    // The pool opens another connection only when one carries this many
    // statements; at the default (32) every write of 32 clients queued on one
    // backend behind each other's commits. At 8: POST 1.5x, PATCH 1.15x,
    // reads within 5% (measured).
    multiplexConcurrency: 8,
    prepare: options.named
  })
  // Migrating also proves the database answers; while it does not, start-up
  // waits (about 10 s) and then fails with a message naming the database.
  const migrated = Layer.effectDiscard(
    runMigrations.pipe(
      Effect.tapError((error) => Effect.logWarning(`Waiting for ${target}: ${describeFailure(error)}`)),
      Effect.retry({ schedule: Schedule.spaced("1 second"), times: 9 }),
      Effect.tap((applied) =>
        Effect.logInfo(
          `Using ${target}` +
            (applied.length > 0 ? `; applied migrations ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}` : "")
        )
      ),
      Effect.mapError((error) => new Error(`${target} does not answer: ${describeFailure(error)}`))
    )
  ).pipe(Layer.provide([NodeFileSystem.layer, NodePath.layer]))
  return migrated.pipe(Layer.provideMerge(client))
}

// Loaded only when used: a service on a real PostgreSQL never loads PGlite.
const embedded = (dataDir: string) =>
  Effect.promise(() => import("./EmbeddedPostgres.ts")).pipe(
    Effect.flatMap((EmbeddedPostgres) => EmbeddedPostgres.serve(dataDir, { maxConnections: embeddedPoolSize })),
    Effect.mapError((error) => new Error(error.message))
  )

/**
 * The SqlClient the service runs on: PostgreSQL at `DATABASE_URL`, or, when
 * it is unset, an embedded PostgreSQL (PGlite) kept in `DATA_DIR`, reached
 * over a local socket by the same client, so one code path serves both.
 */
/**
 * How the service reaches its database: PostgreSQL directly, or through
 * something between (a pooler); or PGlite, embedded or behind a socket, whose
 * one backend serves every connection.
 */
export class DatabaseRoute extends Context.Service<DatabaseRoute, {
  readonly embedded: boolean
  readonly direct: boolean
}>()("task-api/server/DatabaseRoute") {}

export const layer: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient | DatabaseRoute, Error, AppConfig> = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* AppConfig
    if (config.databaseUrl !== undefined) {
      const target = describe(Redacted.value(config.databaseUrl))
      const route = yield* routeTo(config.databaseUrl, config.databaseTimeout).pipe(
        Effect.tapError((error) => Effect.logWarning(`Waiting for ${target}: ${describeFailure(error)}`)),
        Effect.retry({ schedule: Schedule.spaced("1 second"), times: 9 }),
        Effect.mapError((error) => new Error(`${target} does not answer: ${describeFailure(error)}`))
      )
      if (!route.direct) {
        yield* Effect.logInfo(
          `${target} answers from ${route.answersFrom}: a pooler or proxy stands between, so statements go unnamed`
        )
      }
      return pool(config.databaseUrl, target, {
        connectTimeout: config.databaseTimeout,
        connections: config.databasePoolSize,
        named: route.direct
      }).pipe(Layer.merge(Layer.succeed(DatabaseRoute, { embedded: route.embedded, direct: route.direct })))
    }
    const { directory, url } = yield* embedded(config.dataDir)
    // PGlite parses every unnamed statement again, slowly (start-up on a new
    // DATA_DIR took 18 s instead of 8), and no pooler stands before it.
    return pool(Redacted.make(url), `the embedded PostgreSQL (PGlite) in ${directory}`, {
      connectTimeout: config.databaseTimeout,
      connections: embeddedPoolSize,
      named: true
    }).pipe(Layer.merge(Layer.succeed(DatabaseRoute, { embedded: true, direct: true })))
  })
)

/**
 * Whether the service reaches PostgreSQL directly, or through something
 * that stands between, such as PgBouncer: the server's own address (as its
 * backend sees it) against the one the URL names. Named prepared statements
 * are faster (PATCH 1.4x against unnamed, the same SQL; see the README's
 * Performance), but a pooler in transaction mode loses them between
 * transactions (PgBouncer before 1.21: 'prepared statement "effect_..."
 * does not exist'), so behind one they go unnamed. Nothing to configure.
 */
const routeTo = (url: Redacted.Redacted, connectTimeout: AppConfig["Service"]["databaseTimeout"]) =>
  Effect.gen(function*() {
    const named = new URL(Redacted.value(url))
    const probe = yield* PgClient.make({ url, prepare: false, connectTimeout })
    const [server] = yield* probe<{ address: string | null; port: number | null; version: string }>`
      SELECT host(inet_server_addr()) AS address, inet_server_port() AS port, version() AS version`
    // PGlite behind a socket (as tests serve it): one backend for every connection.
    const embedded = server?.version.includes("PGlite") ?? false
    // A Unix socket has no address: nothing to compare, so taken as direct.
    if (server?.address === null || server?.address === undefined || named.hostname === "") {
      return { direct: true, embedded, answersFrom: "a Unix socket" }
    }
    const port = Number(named.port || 5432)
    const addresses = yield* Effect.promise(() =>
      lookup(named.hostname.replace(/^\[|\]$/g, ""), { all: true }).then(
        (found) => found.map(({ address }) => address),
        () => [] as Array<string>
      )
    )
    const isLoopback = (address: string) => address === "::1" || address.startsWith("127.")
    const sameHost = addresses.includes(server.address) ||
      (isLoopback(server.address) && addresses.some(isLoopback))
    return { direct: sameHost && server.port === port, embedded, answersFrom: `${server.address}:${server.port}` }
  }).pipe(Effect.scoped, Effect.provide(Reactivity.layer))
