import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Task } from "../../src/domain/Task.ts"
import { ServiceUnavailable } from "../../src/domain/TaskErrors.ts"
import * as Database from "../../src/server/database/Database.ts"
import { RequestTimeout } from "../../src/server/http/RequestTimeout.ts"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"
import { repoThatAlways } from "../support/FailingRepo.ts"
import { expectProblem } from "../support/Http.ts"
import { startServer } from "../support/ServerProcess.ts"
import { asUsers, configLayer, makeHandler } from "../support/Targets.ts"
import { startTcpProxy, type TcpProxy } from "../support/TcpProxy.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"
import { createGraphqlTask, expectError, graphql, type GraphqlAnswer, graphqlResponse } from "./GraphqlRequests.ts"

// What GraphQL clients see when the service fails: the contract's codes,
// and never SQL, a driver's words, a stack or a secret. What operators see:
// the cause, in the log.

const secret = "SELECT password FROM users -- hunter2"
const someId = "0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d"

/** An in-process service over `repo`, whose log lines are kept. */
const makeService = (repo: Layer.Layer<TaskRepo, unknown>, services: Layer.Layer<never> = Layer.empty) => {
  const logs: Array<string> = []
  const capture = Logger.make(({ cause, message }) => {
    logs.push(`${String(message)} ${String(cause)}`)
  })
  const web = makeHandler(repo, Layer.merge(Logger.layer([capture]), services))
  return {
    ...asUsers((path, init) => web.handler(new Request(new URL(path, "http://task-api.test"), init))),
    logs,
    close: () => web.dispose()
  }
}

const expectNothingLeaked = (answer: GraphqlAnswer) => {
  const text = JSON.stringify(answer)
  for (const leak of ["hunter2", "SELECT", "password", "    at ", ".ts:", ".js:", "SqlError", "PgConnection", "ECONN", "does not exist"]) {
    expect(text).not.toContain(leak)
  }
}

const everyOperation = [
  [`{ task(id: "${someId}") { id } }`, "task"],
  [`{ node(id: "${someId}") { id } }`, "node"],
  ["{ tasks { nodes { id } } }", "tasks"],
  [`mutation { createTask(input: { title: "t" }) { id } }`, "createTask"],
  [`mutation { updateTask(id: "${someId}", input: {}) { id } }`, "updateTask"],
  [`mutation { deleteTask(id: "${someId}") }`, "deleteTask"]
] as const

describe("an unexpected failure", () => {
  it("is INTERNAL_SERVER_ERROR with no detail, on every field, and its cause is logged", async () => {
    const service = makeService(repoThatAlways(Effect.die(new Error(secret)), Effect.void))
    try {
      for (const [query, field] of everyOperation) {
        const answer = await graphql(service, query)
        expect(answer.status).toBe(200)
        expect(expectError(answer, "INTERNAL_SERVER_ERROR").message).toBe("Internal server error")
        expect(answer.errors?.[0]?.path).toEqual([field])
        expectNothingLeaked(answer)
      }
      expect(service.logs.filter((line) => line.includes("Request failed") && line.includes(secret)))
        .toHaveLength(everyOperation.length)
    } finally {
      await service.close()
    }
  })
})

describe("a value the schema cannot answer (a bug below the resolvers)", () => {
  it("is INTERNAL_SERVER_ERROR with no detail, and its cause is logged", async () => {
    const stored = {
      id: someId,
      title: secret,
      description: null,
      status: "pending",
      created_at: "not a timestamp",
      updated_at: "not a timestamp"
    } as unknown as Task
    const repo = Layer.succeed(TaskRepo, TaskRepo.of({
      create: () => Effect.succeed(stored),
      list: () => Effect.succeed([stored]),
      findById: () => Effect.succeed(stored),
      update: () => Effect.succeed(stored),
      remove: () => Effect.void,
      ready: Effect.void
    }))
    const service = makeService(repo)
    try {
      const answer = await graphql(service, `{ task(id: "${someId}") { id createdAt } }`)
      expect(answer.data).toEqual({ task: null })
      expect(expectError(answer, "INTERNAL_SERVER_ERROR").message).toBe("Internal server error")
      expect(answer.errors?.[0]?.path).toEqual(["task", "createdAt"])
      expectNothingLeaked(answer)
      expect(service.logs.some((line) => line.startsWith("Request failed") && line.includes("DateTime"))).toBe(true)
    } finally {
      await service.close()
    }
  })
})

describe("a database that cannot answer", () => {
  it("is UNAVAILABLE on every field, with Retry-After", async () => {
    const down = Effect.fail(new ServiceUnavailable({ detail: "The database cannot be reached; try again shortly." }))
    const service = makeService(repoThatAlways(down, Effect.void))
    try {
      for (const [query] of everyOperation) {
        const answer = await graphql(service, query)
        expect(answer.status).toBe(200)
        expect(expectError(answer, "UNAVAILABLE").message).toBe("The database cannot be reached; try again shortly.")
        expect(answer.headers.get("retry-after")).toBe("5")
        expectNothingLeaked(answer)
      }
    } finally {
      await service.close()
    }
  })
})

describe("an operation that takes too long", () => {
  it("is REST's 503 at the request deadline, and its resolvers are interrupted", async () => {
    let interrupted = 0
    const hanging = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted++)))
    const repo = Layer.succeed(TaskRepo, TaskRepo.of({
      create: () => hanging,
      list: () => hanging,
      findById: () => hanging,
      update: () => hanging,
      remove: () => hanging,
      ready: Effect.void
    }))
    const service = makeService(repo, Layer.succeed(RequestTimeout, Duration.millis(300)))
    try {
      const response = await service.fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", accept: graphqlResponse },
        body: JSON.stringify({ query: `{ a: task(id: "${someId}") { id } b: tasks { nodes { id } } }` })
      })
      expect((await expectProblem(response, 503)).detail).toBe("The request took longer than 300ms; try again shortly.")
      expect(response.headers.get("retry-after")).toBe("5")
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(interrupted).toBe(2)
    } finally {
      await service.close()
    }
  })
})

describe("PostgreSQL behind the service", () => {
  let database: TestDatabase
  let proxy: TcpProxy
  beforeAll(async () => {
    database = await createTestDatabase()
    const url = new URL(database.url)
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
  })
  afterAll(async () => {
    await proxy?.close()
    await database?.drop()
  })

  const serviceOnProxy = () => {
    const url = new URL(database.url)
    url.port = String(proxy.port)
    return makeService(TaskRepo.layer.pipe(
      Layer.provide(Database.layer),
      Layer.provide(configLayer({ ...database.serviceEnv, DATABASE_URL: url.href }))
    ))
  }

  it("gone: UNAVAILABLE, with nothing of the driver's words; and served again once back", async () => {
    const service = serviceOnProxy()
    try {
      const task = await createGraphqlTask(service)
      await proxy.cut()
      try {
        for (const [query] of everyOperation) {
          const answer = await graphql(service, query.replace(someId, task.id))
          expectError(answer, "UNAVAILABLE")
          expectNothingLeaked(answer)
        }
      } finally {
        await proxy.restore()
      }
      let answer: GraphqlAnswer = await graphql(service, `{ task(id: "${task.id}") { title } }`)
      for (let attempt = 0; answer.errors !== undefined && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        answer = await graphql(service, `{ task(id: "${task.id}") { title } }`)
      }
      expect(answer.data).toEqual({ task: { title: "A task" } })
    } finally {
      await service.close()
    }
  })

  it("refusing a statement it did not expect: INTERNAL_SERVER_ERROR, with the SQL error in the log only", async () => {
    const service = serviceOnProxy()
    try {
      const task = await createGraphqlTask(service)
      await database.query("ALTER TABLE tasks RENAME COLUMN title TO name")
      try {
        const answer = await graphql(service, `{ task(id: "${task.id}") { title } }`)
        expectError(answer, "INTERNAL_SERVER_ERROR")
        expectNothingLeaked(answer)
        expect(service.logs.some((line) => /column/i.test(line))).toBe(true)
      } finally {
        await database.query("ALTER TABLE tasks RENAME COLUMN name TO title")
      }
    } finally {
      await service.close()
    }
  })
})

describe("the built server, its database behind a proxy", () => {
  it("answers UNAVAILABLE while the database is gone and INTERNAL_SERVER_ERROR for a statement it rejects, logging the cause under the request's id", async () => {
    const database = await createTestDatabase()
    const url = new URL(database.url)
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
    url.port = String(proxy.port)
    const server = await startServer({ ...database.serviceEnv, DATABASE_URL: url.href })
    const client = asUsers((path, init) => fetch(server.url + path, init))
    try {
      const task = await createGraphqlTask(client)
      await proxy.cut()
      const gone = await graphql(client, `{ task(id: "${task.id}") { title } }`)
      await proxy.restore()
      expectError(gone, "UNAVAILABLE")
      expect(gone.headers.get("retry-after")).toBe("5")
      expectNothingLeaked(gone)

      await database.query("ALTER TABLE tasks RENAME COLUMN title TO name")
      // The pool reconnects by itself: until it has, the answer is UNAVAILABLE.
      let broken = await graphql(client, `{ task(id: "${task.id}") { title } }`)
      for (let attempt = 0; broken.errors?.[0]?.extensions.code === "UNAVAILABLE" && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        broken = await graphql(client, `{ task(id: "${task.id}") { title } }`)
      }
      expectError(broken, "INTERNAL_SERVER_ERROR")
      expectNothingLeaked(broken)
      const requestId = broken.headers.get("x-request-id")
      const logged = server.output.map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.level === "ERROR" && line.request_id === requestId)
      expect(logged).toMatchObject({ message: expect.stringContaining("Request failed") })
      expect(JSON.stringify(logged)).toMatch(/column/)
    } finally {
      await server.stop()
      await proxy.close()
      await database.drop()
    }
  })
})
