// What the benchmarks share (bench/run.ts, bench/instructions.ts): the seeded
// database, the one user every request is made as, and the settings every
// server they start runs with, so that figures from both describe the same
// servers doing the same work.
import * as PgClient from "@effect/sql-pg/PgClient"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { SignJWT } from "jose"
import { writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppConfig } from "../src/server/AppConfig.ts"
import * as Database from "../src/server/database/Database.ts"
import { makeCursorCodec } from "../src/server/tasks/CursorCodec.ts"

export const root = new URL("..", import.meta.url).pathname
export const database = "task_api_bench"
export const cursorSecret = "benchmark-cursor-secret"
// Every request is one user's, with a token both servers verify; the rate
// limit is on, with a bucket too large for the load to empty.
export const owner = "bench"
export const jwtSecret = "benchmark-jwt-secret, at least 32 bytes"
export const rateLimit = "1000000000"
// All run with the flags `npm start` and the Dockerfile use.
export const nodeFlags: ReadonlyArray<string> = ["--max-semi-space-size=8", "--max-old-space-size=256"]

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres"

export const sql = async <A extends object>(url: string, statement: string) => {
  const runtime = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))
  try {
    return await runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (client) => client.unsafe<A>(statement)))
  } finally {
    await runtime.dispose()
  }
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

/**
 * What every server is started with. No HOST: run.ts binds its servers to
 * 127.0.0.1 itself, while under valgrind a HOST in the environment renames
 * the pipe callgrind_control looks for (the servers' default, 0.0.0.0, serves
 * 127.0.0.1 as well).
 */
export const serverEnv = (databaseUrl: string, port: number): Record<string, string | undefined> => ({
  PATH: process.env.PATH,
  DATABASE_URL: databaseUrl,
  PORT: String(port),
  CURSOR_SECRET: cursorSecret,
  JWT_SECRET: jwtSecret,
  RATE_LIMIT_REQUESTS: rateLimit,
  LOG_FORMAT: "json",
  MALLOC_ARENA_MAX: "2",
  // ACCEPT_SOCKETS=1 npm run bench -- --overload: what the 16 accepting sockets change under a storm.
  ACCEPT_SOCKETS: process.env.ACCEPT_SOCKETS
})

export interface Seeded {
  readonly databaseUrl: string
  /** 5,000 ids of seeded tasks, one a line, in random order. */
  readonly idsFile: string
  /** The cursor of the page 90% deep into the owner's tasks; every server signs with the same secret. */
  readonly deepCursor: string
  /** A bearer token for the owner, valid for a day. */
  readonly token: string
}

/** Makes the database anew, with the service's own migrations and `rows` tasks of the owner. */
export const seed = async (rows: number): Promise<Seeded> => {
  const token = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(owner).setExpirationTime("1d")
    .sign(new TextEncoder().encode(jwtSecret))
  const databaseUrl = (() => {
    const url = new URL(adminUrl)
    url.pathname = `/${database}`
    return url.href
  })()

  console.log(`Seeding ${rows.toLocaleString("en")} tasks in ${database}...`)
  await sql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await sql(adminUrl, `CREATE DATABASE ${database}`)
  // The service's own migrations, as it runs them at start-up.
  await Effect.runPromise(Effect.scoped(Layer.build(Database.layer.pipe(
    Layer.provide(AppConfig.layer),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ DATABASE_URL: databaseUrl, LOG_LEVEL: "warning" })))
  ))))
  await sql(
    databaseUrl,
    `INSERT INTO tasks (id, owner, title, description, status, created_at, updated_at)
     SELECT gen_random_uuid(), '${owner}', 'Task number ' || i,
            CASE WHEN i % 3 = 0 THEN 'Some details about task ' || i END,
            (ARRAY['pending', 'in_progress', 'completed'])[1 + i % 3],
            timestamptz '2026-01-01' + i * interval '1 millisecond',
            timestamptz '2026-01-01' + i * interval '1 millisecond'
     FROM generate_series(1, ${rows}) AS i`
  )
  await sql(databaseUrl, "VACUUM ANALYZE tasks")

  const idsFile = join(tmpdir(), "task-api-bench-ids.txt")
  const ids = await sql<{ id: string }>(databaseUrl, "SELECT id FROM tasks ORDER BY random() LIMIT 5000")
  writeFileSync(idsFile, ids.map((row) => row.id).join("\n") + "\n")
  const [deep] = await sql<{ created_at: string; id: string }>(
    databaseUrl,
    `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at, id
     FROM tasks ORDER BY created_at DESC, id DESC OFFSET ${Math.floor(rows * 0.9)} LIMIT 1`
  )
  const deepCursor = makeCursorCodec(Buffer.from(cursorSecret)).encode(owner, {
    createdAt: deep!.created_at,
    id: deep!.id as never
  })
  return { databaseUrl, idsFile, deepCursor, token }
}
