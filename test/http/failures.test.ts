import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ServiceUnavailable } from "../../src/domain/TaskErrors.ts"
import * as Database from "../../src/server/database/Database.ts"
import { RequestTimeout } from "../../src/server/http/RequestTimeout.ts"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"
import { repoThatAlways } from "../support/FailingRepo.ts"
import { createTask, expectProblem, send } from "../support/Http.ts"
import { withToken } from "../support/Auth.ts"
import { asUsers, configLayer, makeHandler, type Target } from "../support/Targets.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

const secret = "SELECT password FROM users -- hunter2"

/** A handler whose log lines are kept, to check what is logged and what is answered. */
const makeTarget = (repo: Layer.Layer<TaskRepo, unknown>) => {
  const logs: Array<string> = []
  const capture = Logger.make(({ cause, message }) => {
    logs.push(`${String(message)} ${String(cause)}`)
  })
  const web = makeHandler(repo, Logger.layer([capture]))
  const target: Target = {
    ...asUsers((path, init) => web.handler(new Request(new URL(path, "http://task-api.test"), init))),
    reset: async () => {},
    close: () => web.dispose()
  }
  return { target, logs }
}

const expectNothingLeaked = async (response: Response, status: number) => {
  const text = await response.clone().text()
  for (const leak of ["hunter2", "SELECT", "password", "    at ", ".ts:", ".js:", "SqlError", "PgConnection"]) {
    expect(text).not.toContain(leak)
  }
  return expectProblem(response, status)
}

describe("an unexpected failure", () => {
  const failing = repoThatAlways(Effect.die(new Error(secret)), Effect.void)

  it("answers a 500 problem that says only that, and logs the cause", async () => {
    const { logs, target } = makeTarget(failing)
    const responses = [
      await send(target, "POST", "/tasks", { title: "t" }),
      await target.fetch("/tasks"),
      await target.fetch("/tasks/0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d"),
      await send(target, "PATCH", "/tasks/0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d", {}),
      await target.fetch("/tasks/0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d", { method: "DELETE" })
    ]
    for (const response of responses) {
      const problem = await expectNothingLeaked(response, 500)
      expect(problem.title).toBe("Internal Server Error")
    }
    expect(logs.filter((line) => line.includes(secret))).toHaveLength(responses.length)
    await target.close()
  })
})

describe("a database that cannot answer", () => {
  const unavailable = Effect.fail(new ServiceUnavailable({ detail: "The database cannot be reached; try again shortly." }))
  const down = repoThatAlways(unavailable)

  it("answers 503 problems on every endpoint and on /ready, while /health stays 200", async () => {
    const { target } = makeTarget(down)
    await expectNothingLeaked(await send(target, "POST", "/tasks", { title: "t" }), 503)
    await expectNothingLeaked(await target.fetch("/tasks"), 503)
    await expectNothingLeaked(await target.fetch("/tasks/0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d"), 503)
    await expectNothingLeaked(await target.fetch("/ready"), 503)
    expect((await target.fetch("/health")).status).toBe(200)
    await target.close()
  })
})

describe("a request that takes too long", () => {
  it("is answered 503 at the request deadline, and the others are not held up", async () => {
    const hanging = Layer.succeed(TaskRepo, TaskRepo.of({
      create: () => Effect.never,
      list: () => Effect.succeed([]),
      findById: () => Effect.never,
      update: () => Effect.never,
      remove: () => Effect.never,
      ready: Effect.never
    }))
    const web = makeHandler(hanging, Layer.succeed(RequestTimeout, Duration.millis(300)))
    const fetch = (path: string) => web.handler(new Request(new URL(path, "http://task-api.test"), withToken()))
    const started = performance.now()
    const [stuck, ready, list] = await Promise.all([
      fetch("/tasks/0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d"),
      fetch("/ready"),
      fetch("/tasks")
    ])
    expect(list.status).toBe(200)
    expect((await expectProblem(stuck, 503)).detail).toBe("The request took longer than 300ms; try again shortly.")
    await expectProblem(ready, 503)
    expect(performance.now() - started).toBeLessThan(3_000)
    await web.dispose()
  })
})

describe("SQL failures at the repository boundary (PostgreSQL)", () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database.drop())

  it("are a logged 500 with no SQL or driver message in the body", async () => {
    const { logs, target } = makeTarget(TaskRepo.layer.pipe(
      Layer.provide(Database.layer),
      Layer.provide(configLayer(database.serviceEnv))
    ))
    const task = await createTask(target)
    // A schema the code does not expect: the query fails with a SQL error.
    await database.query("ALTER TABLE tasks RENAME COLUMN title TO name")
    const response = await target.fetch(`/tasks/${task.id}`)
    const text = await response.clone().text()
    expect(text).not.toMatch(/column|"title" does|relation|tasks WHERE|42703|SqlError|PgConnection/i)
    await expectProblem(response, 500)
    expect(logs.some((line) => /column/i.test(line))).toBe(true)
    await target.close()
  })
})
