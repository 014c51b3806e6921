import * as Effect from "effect/Effect"
import { readdirSync } from "node:fs"
import * as Layer from "effect/Layer"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Database from "../../src/server/database/Database.ts"
import { splitStatements } from "../../src/server/database/SqlMigrations.ts"
import { configLayer } from "../support/Targets.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

describe("splitting a migration into statements", () => {
  it("splits on the semicolons that end statements, and drops comments-only pieces", () => {
    expect(splitStatements("-- header\nCREATE TABLE a (x int);\n\nCREATE INDEX b ON a (x);\n-- trailer\n")).toEqual([
      "-- header\nCREATE TABLE a (x int)",
      "CREATE INDEX b ON a (x)"
    ])
  })

  it("leaves semicolons in strings, quoted names, comments and dollar-quoted bodies alone", () => {
    const sql = [
      "INSERT INTO t VALUES ('a;b', 'it''s;')",
      "CREATE TABLE \"we;ird\" (x int) /* a; comment */",
      "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; SELECT 2; $body$ LANGUAGE sql",
      "DO $$ BEGIN PERFORM 1; END $$"
    ]
    expect(splitStatements(sql.join(";\n") + ";")).toEqual(sql)
  })
})

describe("migrating at start-up", () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database.drop())

  it("is safe when two instances start on the same empty database at once", async () => {
    const start = Effect.scoped(Layer.build(Database.layer.pipe(Layer.provide(configLayer(database.serviceEnv)))))
    await Effect.runPromise(Effect.all([start, start], { concurrency: 2 }))
    const applied = await database.query<{ name: string }>("SELECT name FROM effect_sql_migrations")
    const files = readdirSync(Database.migrationsDirectory).filter((file) => file.endsWith(".sql")).sort()
    expect(applied.map((row) => row.name)).toEqual(files.map((file) => file.replace(/^\d+_|\.sql$/g, "")))
    const columns = await database.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'tasks' ORDER BY ordinal_position"
    )
    expect(columns.map((row) => row.column_name)).toEqual(
      ["id", "title", "description", "status", "created_at", "updated_at", "owner"]
    )
  })

  it("keeps the database's rules as a backstop behind the API's", async () => {
    await expect(database.query("INSERT INTO tasks (id, title) VALUES (gen_random_uuid(), '')")).rejects.toThrow()
    await expect(database.query("INSERT INTO tasks (id, title, status) VALUES (gen_random_uuid(), 't', 'done')")).rejects
      .toThrow()
  })
})
