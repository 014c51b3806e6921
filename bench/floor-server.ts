// The floor of the stack, for `npm run bench -- --floor`: the service's own
// request schemas, repository, database layer and plain-JSON answers behind a
// bare Effect HttpApi, with nothing else: no authentication, rate limit,
// deadline, problem documents, ETags, security headers or access log. Its
// ratio to a bare node:http + pg server doing the same SQL (the baseline with
// FLOOR=1) is what the stack itself (HttpApi and @effect/sql-pg) costs or
// saves here: the most any service built on it can reach. Not shipped.
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiError from "effect/http-api/HttpApiError"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import { createServer } from "node:http"
import { ListTasksQuery } from "../src/api/TasksApi.ts"
import { CreateTask, Task, TaskId, TaskPage, UpdateTask } from "../src/domain/Task.ts"
import { IdempotencyKeyReused, PreconditionFailed, ServiceUnavailable, TaskNotFound } from "../src/domain/TaskErrors.ts"
import { AppConfig } from "../src/server/AppConfig.ts"
import * as Database from "../src/server/database/Database.ts"
import { PageCursor } from "../src/server/tasks/PageCursor.ts"
import { plainJson } from "../src/server/tasks/PlainJson.ts"
import { TaskRepo } from "../src/server/tasks/TaskRepo.ts"
import { listPage } from "../src/server/tasks/TasksHttp.ts"

const owner = "bench"
const params = { id: TaskId }

const Api = HttpApi.make("floor").add(
  HttpApiGroup.make("tasks", { topLevel: true }).add(
    HttpApiEndpoint.get("health", "/health", { success: Schema.Struct({ status: Schema.String }) }),
    HttpApiEndpoint.get("list", "/tasks", {
      query: ListTasksQuery,
      success: TaskPage,
      error: [HttpApiError.BadRequestProblem, ServiceUnavailable]
    }),
    HttpApiEndpoint.get("get", "/tasks/:id", { params, success: Task, error: [TaskNotFound, ServiceUnavailable] }),
    HttpApiEndpoint.post("create", "/tasks", {
      payload: CreateTask,
      success: Task,
      error: [IdempotencyKeyReused, ServiceUnavailable]
    }),
    HttpApiEndpoint.patch("update", "/tasks/:id", {
      params,
      payload: UpdateTask,
      success: Task,
      error: [TaskNotFound, PreconditionFailed, ServiceUnavailable]
    })
  )
)

const Handlers = HttpApiBuilder.group(Api, "tasks", (handlers) =>
  Effect.gen(function*() {
    const repo = yield* TaskRepo
    const cursors = yield* PageCursor
    return handlers
      .handle("health", () => Effect.succeed({ status: "ok" }))
      .handle("list", ({ query }) => listPage(repo, cursors, owner, query))
      .handle("get", ({ params }) => Effect.map(repo.findById(owner, params.id), (task) => plainJson(Task, task)))
      .handle("create", ({ payload }) =>
        Effect.map(repo.create(owner, payload), (task) => plainJson(Task, task, { status: 201 })))
      .handle("update", ({ params, payload }) =>
        Effect.map(repo.update(owner, params.id, payload), (task) => plainJson(Task, task)))
  }))

HttpRouter.serve(HttpApiBuilder.layer(Api).pipe(Layer.provide(Handlers)), { disableLogger: true }).pipe(
  Layer.provide(Layer.unwrap(Effect.map(AppConfig, ({ host, port }) => NodeHttpServer.layer(createServer, { host, port })))),
  Layer.provide([TaskRepo.layer, PageCursor.layer]),
  Layer.provide(Database.layer),
  Layer.provide(Layer.succeed(References.TracerEnabled, false)),
  Layer.provide(AppConfig.layer),
  Layer.launch,
  NodeRuntime.runMain
)
