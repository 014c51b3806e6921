import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe, expect, it } from "vitest"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"

// The in-memory repository stands in for PostgreSQL in the fast tests, so it
// must keep the same guarantees: a write under If-Match is checked against
// the task as it is when the write runs, not when the effect was made.
describe("the in-memory TaskRepo", () => {
  it("checks If-Match when a write runs, so two writes at one version cannot both apply", async () => {
    const outcome = await Effect.runPromise(Effect.gen(function*() {
      const repo = yield* TaskRepo
      const task = yield* repo.create("alice", { title: "counter" })
      // Both made before either runs, as two requests that read the same version.
      const first = repo.update("alice", task.id, { title: "first" }, [task.updated_at])
      const second = repo.update("alice", task.id, { title: "second" }, [task.updated_at])
      const removal = repo.remove("alice", task.id, [task.updated_at])
      yield* first
      return {
        second: yield* Effect.flip(second),
        removal: yield* Effect.flip(removal),
        stored: yield* repo.findById("alice", task.id)
      }
    }).pipe(Effect.provide(Layer.fresh(TaskRepo.layerMemory))))
    expect(outcome.second._tag).toBe("PreconditionFailed")
    expect(outcome.removal._tag).toBe("PreconditionFailed")
    expect(outcome.stored.title).toBe("first")
  })
})
