import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Task, TaskPage } from "../src/domain/Task.ts"
import * as Database from "../src/server/Database.ts"
import { TaskRepo } from "../src/server/TaskRepo.ts"
import { configLayer } from "./support/Targets.ts"
import { createTestDatabase, type TestDatabase, testDatabaseKind } from "./support/TestDatabase.ts"

// A page of tasks is answered as plain JSON, without running TaskPage's
// encoder (src/server/PlainJson.ts). That answers what the encoder would only
// while encoding leaves the tasks the repositories return as they are.
const pageOfEveryKind = Effect.gen(function*() {
  const repo = yield* TaskRepo
  yield* repo.create("alice", { title: "plain" })
  yield* repo.create("alice", { title: "with \"quotes\", \\ and ünïcödé ✓", description: "line one\nline two" })
  yield* repo.create("alice", { title: "started", description: null, status: "in_progress" })
  yield* repo.create("alice", { title: "done", status: "completed" })
  return yield* repo.list("alice", { limit: 10 })
})

const expectSelfEncoding = (items: ReadonlyArray<Task>) => {
  expect(items).toHaveLength(4)
  for (const page of [{ items, next_cursor: null }, { items, next_cursor: "an opaque cursor" }]) {
    expect(Schema.encodeSync(TaskPage)(page)).toStrictEqual(page)
  }
}

const databaseKind = await testDatabaseKind

describe("a page of tasks is its own encoding", () => {
  let database: TestDatabase
  beforeAll(async () => void (database = await createTestDatabase()))
  afterAll(() => database.drop())

  it("from the in-memory TaskRepo", async () => {
    expectSelfEncoding(await Effect.runPromise(pageOfEveryKind.pipe(Effect.provide(Layer.fresh(TaskRepo.layerMemory)))))
  })

  it(`from the SQL TaskRepo on ${databaseKind}`, async () => {
    const repo = TaskRepo.layer.pipe(Layer.provide(Database.layer), Layer.provide(configLayer(database.serviceEnv)))
    expectSelfEncoding(await Effect.runPromise(pageOfEveryKind.pipe(Effect.provide(repo))))
  })
})
