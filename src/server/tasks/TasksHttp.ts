import * as Effect from "effect/Effect"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiError from "effect/http-api/HttpApiError"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Api } from "../../api/Api.ts"
import { CurrentOwner } from "../../api/Authorization.ts"
import { Task, TaskPage, type TaskStatus } from "../../domain/Task.ts"
import type { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import { entityTagOf, matches, parseVersions } from "../../domain/EntityTag.ts"
import { PageCursor } from "./PageCursor.ts"
import { plainJson } from "./PlainJson.ts"
import { cursorAfter, readPage } from "./TaskPages.ts"
import { TaskRepo } from "./TaskRepo.ts"

const ifVersion = (header: string | undefined) => header === undefined ? undefined : parseVersions(header, "strong")

const invalidCursor = new HttpApiError.BadRequestProblem({
  detail: "The cursor was not issued by this service.",
  errors: [{ path: ["query", "cursor"], message: "Expected a next_cursor value from a previous page" }]
})

export interface ListQuery {
  readonly limit: number
  readonly status?: TaskStatus | undefined
  readonly cursor?: string | undefined
}

/** A page of the owner's tasks, newest first, and the cursor of the next page. */
export const listPage = (
  repo: TaskRepo["Service"],
  cursors: PageCursor["Service"],
  owner: string,
  query: ListQuery
): Effect.Effect<HttpServerResponse.HttpServerResponse, HttpApiError.BadRequestProblem | ServiceUnavailable> => {
  const after = query.cursor === undefined ? undefined : cursors.decode(owner, query.cursor)
  if (query.cursor !== undefined && after === undefined) return Effect.fail(invalidCursor)
  return Effect.map(readPage(repo, owner, { limit: query.limit, status: query.status, after }), ({ hasNextPage, tasks }) => {
    const last = tasks.at(-1)
    return plainJson(TaskPage, {
      items: tasks,
      next_cursor: hasNextPage && last !== undefined ? cursorAfter(cursors, owner, last) : null
    })
  })
}

export const TasksHttp = HttpApiBuilder.group(
  Api,
  "tasks",
  Effect.fnUntraced(function*(handlers) {
    const repo = yield* TaskRepo
    const cursors = yield* PageCursor

    return handlers
      .handle("create", ({ headers, payload }) =>
        CurrentOwner.use((owner) =>
          Effect.map(repo.create(owner, payload, headers["idempotency-key"]), (task) =>
            plainJson(Task, task, {
              status: 201,
              headers: { location: `/tasks/${task.id}`, etag: entityTagOf(task) }
            }))
        ))
      .handle("list", ({ query }) => CurrentOwner.use((owner) => listPage(repo, cursors, owner, query)))
      .handle("get", ({ headers, params }) =>
        CurrentOwner.use((owner) => Effect.map(repo.findById(owner, params.id), (task) => {
          const etag = entityTagOf(task)
          const notModified = headers["if-none-match"] !== undefined &&
            matches(parseVersions(headers["if-none-match"], "weak"), task)
          return notModified
            ? HttpServerResponse.empty({ status: 304, headers: { etag } })
            : plainJson(Task, task, { headers: { etag } })
        })))
      .handle("update", ({ headers, params, payload }) =>
        CurrentOwner.use((owner) =>
          Effect.map(
            repo.update(owner, params.id, payload, ifVersion(headers["if-match"])),
            (task) => plainJson(Task, task, { headers: { etag: entityTagOf(task) } })
          )
        ))
      .handle("delete", ({ headers, params }) =>
        CurrentOwner.use((owner) => repo.remove(owner, params.id, ifVersion(headers["if-match"]))))
  })
)
