// The task feature: the repository that stores tasks, its handlers, page cursors and answers.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { CreateTask, Task, TaskId, TaskStatus, UpdateTask } from "../../domain/Task.ts"
import type { Versions } from "../../domain/EntityTag.ts"
import type {
  IdempotencyKeyReused,
  PreconditionFailed,
  ServiceUnavailable,
  TaskNotFound
} from "../../domain/TaskErrors.ts"
import type { PagePosition } from "./PageCursor.ts"
import { TaskEvents } from "./TaskEvents.ts"
import { makeMemoryTaskRepo } from "./TaskRepoMemory.ts"
import { makeSqlTaskRepo } from "./TaskRepoSql.ts"

export interface ListRequest {
  readonly limit: number
  readonly status?: TaskStatus | undefined
  readonly after?: PagePosition | undefined
}

/**
 * Tasks, each visible only to its owner: another owner's task is "not found",
 * exactly like a missing one.
 */
export class TaskRepo extends Context.Service<TaskRepo, {
  /** With an idempotency key, creates at most one task per owner and key (for 24 hours), and answers retries with it. */
  create(
    owner: string,
    input: CreateTask,
    idempotencyKey?: string
  ): Effect.Effect<Task, IdempotencyKeyReused | ServiceUnavailable>
  /** Up to `limit` of the owner's tasks, newest first, strictly after `after` when given. */
  list(owner: string, request: ListRequest): Effect.Effect<ReadonlyArray<Task>, ServiceUnavailable>
  findById(owner: string, id: TaskId): Effect.Effect<Task, TaskNotFound | ServiceUnavailable>
  /** With `ifVersion`, changes the task only while it is at one of those versions. */
  update(
    owner: string,
    id: TaskId,
    changes: UpdateTask,
    ifVersion?: Versions
  ): Effect.Effect<Task, TaskNotFound | PreconditionFailed | ServiceUnavailable>
  remove(
    owner: string,
    id: TaskId,
    ifVersion?: Versions
  ): Effect.Effect<void, TaskNotFound | PreconditionFailed | ServiceUnavailable>
  /** Succeeds while the store can serve requests. */
  readonly ready: Effect.Effect<void, ServiceUnavailable>
}>()("task-api/server/TaskRepo") {
  /** On the SqlClient: PostgreSQL, or the embedded PGlite (TaskRepoSql.ts). */
  static readonly layer = Layer.effect(TaskRepo, makeSqlTaskRepo)

  /** Tasks in a Map: for fast tests of everything above the database (TaskRepoMemory.ts). */
  static readonly layerMemory = Layer.effect(
    TaskRepo,
    Effect.map(Effect.serviceOption(TaskEvents), (events) => makeMemoryTaskRepo(Option.getOrUndefined(events)?.committed))
  )
}
