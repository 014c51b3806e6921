import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ServiceUnavailable } from "../../src/domain/TaskErrors.ts"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"

/** A repository whose every operation ends with `outcome`, and whose readiness is `ready`. */
export const repoThatAlways = (
  outcome: Effect.Effect<never, ServiceUnavailable>,
  ready: Effect.Effect<void, ServiceUnavailable> = outcome
) =>
  Layer.succeed(TaskRepo, TaskRepo.of({
    create: () => outcome,
    list: () => outcome,
    findById: () => outcome,
    update: () => outcome,
    remove: () => outcome,
    ready
  }))
