import * as Effect from "effect/Effect"
import type { Task } from "../../domain/Task.ts"
import type { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import type { PageCursor } from "./PageCursor.ts"
import type { ListRequest, TaskRepo } from "./TaskRepo.ts"

// Paging as both APIs do it, so a cursor from one pages the other: REST's
// `next_cursor` is GraphQL's `endCursor`.

/** Up to `limit` of the owner's tasks, newest first, and whether another page follows. */
export const readPage = (
  repo: TaskRepo["Service"],
  owner: string,
  request: ListRequest
): Effect.Effect<{ readonly tasks: ReadonlyArray<Task>; readonly hasNextPage: boolean }, ServiceUnavailable> =>
  // One row more than asked tells whether another page exists, so a last
  // page that is exactly full still says there is none after it.
  Effect.map(repo.list(owner, { ...request, limit: request.limit + 1 }), (rows) => ({
    tasks: rows.slice(0, request.limit),
    hasNextPage: rows.length > request.limit
  }))

/** The cursor of the page that follows `task`, signed for its owner. */
export const cursorAfter = (cursors: PageCursor["Service"], owner: string, task: Task): string =>
  cursors.encode(owner, { createdAt: task.created_at, id: task.id })
