import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiError from "effect/http-api/HttpApiError"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as HttpApiSchema from "effect/http-api/HttpApiSchema"
import * as OpenApi from "effect/http-api/OpenApi"
import { CreateTask, PageLimit, Task, TaskId, TaskPage, TaskStatus, UpdateTask } from "../domain/Task.ts"
import { ServiceUnavailable, TaskNotFound } from "../domain/TaskErrors.ts"
import { JsonBody } from "./JsonBody.ts"

const taskPath = { id: TaskId }

export const ListTasksQuery = {
  // Digits only: "1e1" or " 5" are not limits a client means to send.
  limit: Schema.String.check(Schema.isPattern(/^[0-9]{1,3}$/)).pipe(
    Schema.decodeTo(PageLimit, SchemaTransformation.numberFromString),
    Schema.withDecodingDefaultKey(Effect.succeed("50"))
  ),
  status: Schema.optionalKey(TaskStatus),
  cursor: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(512)))
}

const TaskCreated = HttpApiSchema.WithHeaders(Task.pipe(HttpApiSchema.status(201)), {
  location: Schema.String
})

export class TasksApi extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("create", "/tasks", {
      payload: CreateTask,
      success: TaskCreated,
      error: ServiceUnavailable
    }).middleware(JsonBody).annotateMerge(OpenApi.annotations({
      summary: "Create a task",
      description: "Answers 201 with the task and its `Location`."
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
      success: Task,
      error: [TaskNotFound, ServiceUnavailable]
    }).annotateMerge(OpenApi.annotations({ summary: "Read a task" })),
    HttpApiEndpoint.patch("update", "/tasks/:id", {
      params: taskPath,
      payload: UpdateTask,
      success: Task,
      error: [TaskNotFound, ServiceUnavailable]
    }).middleware(JsonBody).annotateMerge(OpenApi.annotations({
      summary: "Update a task",
      description: "Changes only the fields given. An update that changes nothing leaves `updated_at` as it was."
    })),
    HttpApiEndpoint.delete("delete", "/tasks/:id", {
      params: taskPath,
      success: HttpApiSchema.NoContent,
      error: [TaskNotFound, ServiceUnavailable]
    }).annotateMerge(OpenApi.annotations({ summary: "Delete a task" }))
  )
  .annotateMerge(OpenApi.annotations({ title: "Tasks", description: "Create, list, read, update and delete tasks." }))
{}
