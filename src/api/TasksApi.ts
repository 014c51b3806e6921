import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiError from "effect/http-api/HttpApiError"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as OpenApi from "effect/http-api/OpenApi"
import { CreateTask, IdempotencyKey, PageLimit, pageLimits, Task, TaskId, TaskPage, TaskStatus, UpdateTask } from "../domain/Task.ts"
import { IdempotencyKeyReused, PreconditionFailed, ServiceUnavailable, TaskNotFound } from "../domain/TaskErrors.ts"
import { Authorization } from "./Authorization.ts"
import { JsonBody } from "./JsonBody.ts"

const taskPath = { id: TaskId }

export const ListTasksQuery = {
  // Declared as the integer it is: HttpApi decodes it from the query string,
  // and the OpenAPI document shows its real type and bounds.
  limit: PageLimit.pipe(Schema.withDecodingDefaultKey(Effect.succeed(pageLimits.default))),
  status: Schema.optionalKey(TaskStatus),
  cursor: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(512)))
}

const etag = Schema.String.annotate({ description: "The task's version; send it back in If-Match or If-None-Match." })

const TaskCreated = HttpApiSchema.WithHeaders(Task.pipe(HttpApiSchema.status(201)), { location: Schema.String, etag })
const TaskVersion = HttpApiSchema.WithHeaders(Task, { etag })
const NotModified = HttpApiSchema.WithHeaders(HttpApiSchema.Empty(304), { etag }).annotate({
  description: "The task has not changed since the version named in If-None-Match."
})

const idempotencyKey = {
  "idempotency-key": Schema.optionalKey(
    IdempotencyKey.annotate({
      description: "Makes the create safe to retry: one task per key for 24 hours. The same key with another body is a 422."
    })
  )
}

const ifMatch = {
  "if-match": Schema.optionalKey(Schema.String.annotate({
    description: "Apply only if the task is still at one of these versions (ETags), or `*`; otherwise 412."
  }))
}
const ifNoneMatch = {
  "if-none-match": Schema.optionalKey(Schema.String.annotate({
    description: "Answer 304 if the task is still at one of these versions (ETags)."
  }))
}

export class TasksApi extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("create", "/tasks", {
      headers: idempotencyKey,
      payload: CreateTask,
      success: TaskCreated,
      error: [IdempotencyKeyReused, ServiceUnavailable]
    }).middleware(JsonBody).annotateMerge(OpenApi.annotations({
      summary: "Create a task",
      description: "Answers 201 with the task and its `Location`. With an Idempotency-Key, a retry answers " +
        "the same 201 body and creates nothing."
    })),
    HttpApiEndpoint.get("list", "/tasks", {
      query: ListTasksQuery,
      success: TaskPage,
      error: [HttpApiError.BadRequestProblem, ServiceUnavailable]
    }).annotateMerge(OpenApi.annotations({
      summary: "List tasks",
      description: "Newest first. Pass `next_cursor` back as `cursor` for the next page; it is `null` on the last page."
    })),
    HttpApiEndpoint.get("get", "/tasks/:id", {
      params: taskPath,
      headers: ifNoneMatch,
      success: [TaskVersion, NotModified],
      error: [TaskNotFound, ServiceUnavailable]
    }).annotateMerge(OpenApi.annotations({ summary: "Read a task", description: "Answers the task and its ETag." })),
    HttpApiEndpoint.patch("update", "/tasks/:id", {
      params: taskPath,
      headers: ifMatch,
      payload: UpdateTask,
      success: TaskVersion,
      error: [TaskNotFound, PreconditionFailed, ServiceUnavailable]
    }).middleware(JsonBody).annotateMerge(OpenApi.annotations({
      summary: "Update a task",
      description: "Changes only the fields given. An update that changes nothing leaves `updated_at` as it was. " +
        "With If-Match, applies only if the task is still at that version (412 otherwise)."
    })),
    HttpApiEndpoint.delete("delete", "/tasks/:id", {
      params: taskPath,
      headers: ifMatch,
      success: HttpApiSchema.NoContent,
      error: [TaskNotFound, PreconditionFailed, ServiceUnavailable]
    }).annotateMerge(OpenApi.annotations({
      summary: "Delete a task",
      description: "With If-Match, deletes only if the task is still at that version (412 otherwise)."
    }))
  )
  // Every task endpoint serves one caller's own tasks, within their rate limit.
  .middleware(Authorization)
  .annotateMerge(OpenApi.annotations({
    title: "Tasks",
    description: "Create, list, read, update and delete your own tasks: another user's task answers 404, " +
      "as a missing one does. Each caller has a rate limit (429 with Retry-After); every answer carries " +
      "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy."
  }))
{}

/**
 * Query values travel as strings, so HttpApi documents `limit` as one; this
 * puts its real type and bounds, from the same constants, in the document.
 */
export const documentQueryTypes = (spec: Record<string, any>) => {
  for (const parameter of spec.paths?.["/tasks"]?.get?.parameters ?? []) {
    if (parameter.name === "limit") {
      parameter.schema = { type: "integer", ...pageLimits }
      parameter.description = "How many tasks a page holds."
    }
    if (parameter.name === "cursor") parameter.description = "The `next_cursor` of the previous page."
    if (parameter.name === "status") parameter.description = "Only tasks with this status."
  }
  return spec
}
