import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Task, TaskPage } from "../../src/domain/Task.ts"
import * as Database from "../../src/server/database/Database.ts"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"
import { configLayer } from "../support/Targets.ts"
import { createTestDatabase, type TestDatabase, testDatabaseKind } from "../support/TestDatabase.ts"

// Tasks and pages of tasks are answered as plain JSON, without running their
// schemas' encoders (src/server/tasks/PlainJson.ts). That answers what the encoder
// would, byte for byte, only while encoding leaves every task a repository
// returns as it is, its fields in the schema's order.
const tasksOfEveryKind = Effect.gen(function*() {
  const repo = yield* TaskRepo
  const created = [
    yield* repo.create("alice", { title: "plain" }),
    yield* repo.create("alice", { title: "with \"quotes\", \\ and ünïcödé ✓", description: "line one\nline two" }),
    yield* repo.create("alice", { title: "started", description: null, status: "in_progress" }),
    yield* repo.create("alice", { title: "done", status: "completed" }, "key"),
    // A retry answered from what the first create stored.
    yield* repo.create("alice", { title: "done", status: "completed" }, "key")
  ]
  const found = yield* repo.findById("alice", created[0]!.id)
  const updated = yield* repo.update("alice", created[1]!.id, { description: null, status: "completed" })
  const page = yield* repo.list("alice", { limit: 10 })
  return { tasks: [...created, found, updated], page }
})

const expectSelfEncoding = ({ page, tasks }: { tasks: ReadonlyArray<Task>; page: ReadonlyArray<Task> }) => {
  expect(page).toHaveLength(4)
  for (const task of [...tasks, ...page]) {
    expect(JSON.stringify(Schema.encodeSync(Task)(task))).toBe(JSON.stringify(task))
  }
  for (const value of [{ items: page, next_cursor: null }, { items: page, next_cursor: "an opaque cursor" }]) {
    expect(JSON.stringify(Schema.encodeSync(TaskPage)(value))).toBe(JSON.stringify(value))
  }
}

const databaseKind = await testDatabaseKind

describe("a task, and a page of tasks, is its own encoding", () => {
  let database: TestDatabase
  beforeAll(async () => void (database = await createTestDatabase()))
  afterAll(() => database.drop())

  it("from the in-memory TaskRepo", async () => {
    expectSelfEncoding(await Effect.runPromise(tasksOfEveryKind.pipe(Effect.provide(Layer.fresh(TaskRepo.layerMemory)))))
  })

  it(`from the SQL TaskRepo on ${databaseKind}`, async () => {
    const repo = TaskRepo.layer.pipe(Layer.provide(Database.layer), Layer.provide(configLayer(database.serviceEnv)))
    expectSelfEncoding(await Effect.runPromise(tasksOfEveryKind.pipe(Effect.provide(repo))))
  })
})
