import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
// Imported as a consumer would: through the package's "./client" export.
import { makeClient } from "task-api/client"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"
import { defaultUser, tokenFor } from "../support/Auth.ts"
import { makeHandler } from "../support/Targets.ts"

// The typed client, wired to the in-process handler in place of the network.
const clientWith = (token: string | undefined) => Effect.gen(function*() {
  const web = makeHandler(TaskRepo.layerMemory)
  yield* Effect.addFinalizer(() => Effect.promise(() => web.dispose()))
  return yield* makeClient("http://task-api.test", { token }).pipe(
    Effect.provideService(FetchHttpClient.Fetch, ((input: string | URL | Request, init?: RequestInit) =>
      web.handler(new Request(input, init))) as typeof fetch)
  )
})
const client = clientWith(tokenFor(defaultUser))

describe("the typed client", () => {
  it.live("creates, reads, pages, updates and deletes tasks", () =>
    Effect.gen(function*() {
      const tasks = (yield* client).tasks
      const created = yield* tasks.create({ headers: {}, payload: { title: "First" } })
      const first = created.body
      assert.strictEqual(created.headers.location, `/tasks/${first.id}`)
      const second = (yield* tasks.create({ headers: {}, payload: { title: "Second", status: "in_progress" } })).body
      assert.strictEqual(first.title, "First")
      assert.strictEqual(first.status, "pending")
      const read = yield* tasks.get({ params: { id: first.id }, headers: {} })
      assert.deepStrictEqual(read.body, first)
      assert.strictEqual(read.headers.etag, created.headers.etag)

      const page = yield* tasks.list({ query: { limit: 1 } })
      assert.deepStrictEqual(page.items, [second])
      assert.isNotNull(page.next_cursor)
      const rest = yield* tasks.list({ query: { limit: 1, cursor: page.next_cursor! } })
      assert.deepStrictEqual(rest, { items: [first], next_cursor: null })

      const updated = yield* tasks.update({
        params: { id: first.id },
        headers: { "if-match": read.headers.etag },
        payload: { description: "details" }
      })
      assert.strictEqual(updated.body.description, "details")
      const stale = yield* Effect.flip(
        tasks.delete({ params: { id: first.id }, headers: { "if-match": read.headers.etag } })
      )
      assert.strictEqual(stale._tag, "PreconditionFailed")
      yield* tasks.delete({ params: { id: first.id }, headers: {} })
      const missing = yield* Effect.flip(tasks.get({ params: { id: first.id }, headers: {} }))
      assert.strictEqual(missing._tag, "TaskNotFound")
    }).pipe(Effect.scoped))

  it.live("receives the problems of the contract as typed failures", () =>
    Effect.gen(function*() {
      const { tasks } = yield* client
      const invalidCursor = yield* Effect.flip(tasks.list({ query: { limit: 10, cursor: "forged" } }))
      assert.strictEqual(invalidCursor._tag, "BadRequestProblem")
      assert.deepStrictEqual(
        invalidCursor._tag === "BadRequestProblem" ? invalidCursor.errors?.map((error) => error.path) : [],
        [["query", "cursor"]]
      )
      // The client validates what it sends, so a bad payload fails before the request.
      const refused = yield* Effect.flip(tasks.create({ headers: {}, payload: { title: "" } }))
      assert.include(String(refused), "code points")

      const anonymous = (yield* clientWith(undefined)).tasks
      const unauthorized = yield* Effect.flip(anonymous.list({ query: { limit: 10 } }))
      assert.strictEqual(unauthorized._tag, "Unauthorized")
    }).pipe(Effect.scoped))
})
