import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { tokenFor } from "../support/Auth.ts"
import { memoryService } from "../support/Targets.ts"
import { allTasks, TaskGraph } from "./TaskGraphClient.ts"

// The service driven by Effect's own GraphQL client (effect/graphql), as a
// program of a client's would be: TaskGraphClient.ts, over HTTP, into the
// in-process service.

const url = "http://task-api.test"

describe("the Task API through effect/graphql's typed client", () => {
  let service: ReturnType<typeof memoryService>
  beforeAll(() => {
    service = memoryService()
  })
  afterAll(() => service?.dispose())

  /** The example client as `user`, its fetch answered by the in-process service. */
  const clientAs = (user: string) =>
    TaskGraph.layer({ url, token: Redacted.make(tokenFor(user)) }).pipe(
      Layer.provide(Layer.succeed(FetchHttpClient.Fetch, (input, init) =>
        service.send(input instanceof Request ? input.url : String(input), init)))
    )

  const run = <A, E>(program: Effect.Effect<A, E, TaskGraph>, user = "alice") =>
    Effect.runPromiseExit(Effect.provide(program, clientAs(user)))

  it("creates, reads, pages, updates and deletes, typed end to end", async () => {
    const exit = await run(Effect.gen(function*() {
      const client = yield* TaskGraph
      const { createTask } = yield* client.CreateTask({ input: { title: "  Write the report " } })
      expect(createTask).toMatchObject({ title: "Write the report", status: "PENDING", description: null })
      for (let index = 0; index < 4; index++) yield* client.CreateTask({ input: { title: `t${index}`, status: "COMPLETED" } })

      expect((yield* client.TaskById({ id: createTask.id })).task).toEqual(createTask)
      // Every task, two to a page, as the stream is pulled.
      const titles = yield* allTasks({ pageSize: 2 }).pipe(Stream.map((task) => task.title), Stream.runCollect)
      expect(titles).toEqual(["t3", "t2", "t1", "t0", "Write the report"])
      const completed = yield* allTasks({ pageSize: 3, status: "COMPLETED" }).pipe(Stream.runCollect)
      expect(completed).toHaveLength(4)

      const { updateTask } = yield* client.UpdateTask({
        id: createTask.id,
        input: { status: "IN_PROGRESS", description: "Numbers first" },
        ifMatch: createTask.etag
      })
      expect(updateTask).toMatchObject({ status: "IN_PROGRESS", description: "Numbers first" })
      const { deleteTask } = yield* client.DeleteTask({ id: createTask.id, ifMatch: updateTask.etag })
      expect(deleteTask).toBe(createTask.id)
      expect((yield* client.TaskById({ id: createTask.id })).task).toBeNull()
    }))
    expect(exit).toEqual(Exit.void)
  })

  it("fails with the contract's code in a typed error: a stale version, another owner's task", async () => {
    const exit = await run(Effect.gen(function*() {
      const client = yield* TaskGraph
      const { createTask } = yield* client.CreateTask({ input: { title: "mine" } })
      yield* client.UpdateTask({ id: createTask.id, input: { title: "changed" } })
      const stale = yield* Effect.flip(client.UpdateTask({ id: createTask.id, input: { title: "lost" }, ifMatch: createTask.etag }))
      expect(stale.reason._tag).toBe("ResponseError")
      expect(stale.reason._tag === "ResponseError" && stale.reason.errors[0].extensions?.code).toBe("PRECONDITION_FAILED")
      expect(stale.isRetryable).toBe(false)
      return createTask.id
    }))
    expect(Exit.isSuccess(exit)).toBe(true)
    const id = Exit.isSuccess(exit) ? exit.value : ""
    const asBob = await run(Effect.gen(function*() {
      const client = yield* TaskGraph
      expect((yield* client.TaskById({ id })).task).toBeNull()
      const missing = yield* Effect.flip(client.DeleteTask({ id }))
      return missing.reason._tag === "ResponseError" ? missing.reason.errors[0].extensions?.code : missing.reason._tag
    }), "bob")
    expect(asBob).toEqual(Exit.succeed("NOT_FOUND"))
  })

  it("hears the caller's changes through the TaskEvents subscription (graphql-sse)", async () => {
    const exit = await run(Effect.gen(function*() {
      const client = yield* TaskGraph
      const heard = yield* client.TaskEvents().pipe(Stream.take(3), Stream.runCollect, Effect.forkScoped)
      // The stream opens in its own fiber: tasks are made until it has heard three.
      const made: Array<string> = []
      while (heard.pollUnsafe() === undefined && made.length < 50) {
        const { createTask } = yield* client.CreateTask({ input: { title: `t${made.length}` } })
        made.push(createTask.id)
        yield* Effect.sleep("50 millis")
      }
      const events = (yield* Fiber.join(heard)).map(({ taskEvents }) => taskEvents)
      expect(events.map(({ kind }) => kind)).toEqual(["CREATED", "CREATED", "CREATED"])
      // Three consecutive creates, in order, each with its task as the mutation answered it.
      const first = made.indexOf(events[0]!.id)
      expect(events.map(({ id }) => id)).toEqual(made.slice(first, first + 3))
      expect(events[0]!.task).toMatchObject({ id: events[0]!.id, status: "PENDING" })
    }).pipe(Effect.scoped))
    expect(exit).toEqual(Exit.void)
  })
})
