import * as Layer from "effect/Layer"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Database from "../../src/server/database/Database.ts"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"
import { bearer } from "../support/Auth.ts"
import type { TaskBody } from "../support/Http.ts"
import { configLayer, makeHandler } from "../support/Targets.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

describe("idempotency keys in the database", () => {
  let database: TestDatabase
  let web: ReturnType<typeof makeHandler>
  beforeAll(async () => {
    database = await createTestDatabase()
    web = makeHandler(TaskRepo.layer.pipe(
      Layer.provide(Database.layer),
      Layer.provide(configLayer(database.serviceEnv))
    ))
  })
  afterAll(async () => {
    await web.dispose()
    await database.drop()
  })

  const post = (key: string, title: string) =>
    web.handler(
      new Request("http://task-api.test/tasks", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key, ...bearer() },
        body: JSON.stringify({ title })
      })
    )

  it("expire after 24 hours: the key then makes a new task", async () => {
    const first = (await (await post("expiring", "before")).json()) as TaskBody
    await database.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    const again = await post("expiring", "after")
    expect(again.status).toBe(201)
    const second = (await again.json()) as TaskBody
    expect(second.id).not.toBe(first.id)
    expect(second.title).toBe("after")
    const keys = await database.query<{ key: string }>("SELECT key FROM idempotency_keys")
    expect(keys).toEqual([{ key: "expiring" }])
  })

  it("store the first answer, so a retry answers it even after the task changed", async () => {
    const created = (await (await post("kept", "as created")).json()) as TaskBody
    await database.query(`UPDATE tasks SET title = 'renamed' WHERE id = '${created.id}'`)
    expect(await (await post("kept", "as created")).json()).toEqual(created)
  })
})
