// A typed GraphQL client of the Task API on Effect's own `effect/graphql`:
// an example to copy. Each operation declares its document and the Schemas
// of its variables and result; `GraphQLClient.make` turns the group into a
// service with one method per operation, sent over GraphQL over HTTP.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { GraphQL, GraphQLClient, GraphQLGroup, GraphQLMiddleware, GraphQLProtocol } from "effect/graphql"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"

const taskFields = "id title description status createdAt updatedAt etag"

export const TaskStatus = Schema.Literals(["PENDING", "IN_PROGRESS", "COMPLETED"])

export const Task = Schema.Struct({
  id: Schema.String,
  title: Schema.String,
  description: Schema.NullOr(Schema.String),
  status: TaskStatus,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  /** The version: pass it back as `ifMatch`. */
  etag: Schema.String
})
export interface Task extends Schema.Struct.Type<typeof Task.fields> {}

export const TaskById = GraphQL.query("TaskById", {
  document: `query TaskById($id: ID!) { task(id: $id) { ${taskFields} } }`,
  variables: { id: Schema.String },
  result: Schema.Struct({ task: Schema.NullOr(Task) })
})

export const Tasks = GraphQL.query("Tasks", {
  document: `query Tasks($first: Int, $after: String, $status: TaskStatus) {
    tasks(first: $first, after: $after, status: $status) { nodes { ${taskFields} } pageInfo { hasNextPage endCursor } }
  }`,
  variables: {
    first: Schema.optional(Schema.Int),
    after: Schema.optional(Schema.NullOr(Schema.String)),
    status: Schema.optional(TaskStatus)
  },
  result: Schema.Struct({
    tasks: Schema.Struct({
      nodes: Schema.Array(Task),
      pageInfo: Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) })
    })
  })
})

export const CreateTask = GraphQL.mutation("CreateTask", {
  document: `mutation CreateTask($input: CreateTaskInput!, $idempotencyKey: String) {
    createTask(input: $input, idempotencyKey: $idempotencyKey) { ${taskFields} }
  }`,
  variables: {
    input: Schema.Struct({
      title: Schema.String,
      description: Schema.optional(Schema.NullOr(Schema.String)),
      status: Schema.optional(TaskStatus)
    }),
    idempotencyKey: Schema.optional(Schema.String)
  },
  result: Schema.Struct({ createTask: Task })
})

export const UpdateTask = GraphQL.mutation("UpdateTask", {
  document: `mutation UpdateTask($id: ID!, $input: UpdateTaskInput!, $ifMatch: String) {
    updateTask(id: $id, input: $input, ifMatch: $ifMatch) { ${taskFields} }
  }`,
  variables: {
    id: Schema.String,
    // A field left out stays as it is; `description: null` clears it.
    input: Schema.Struct({
      title: Schema.optional(Schema.String),
      description: Schema.optional(Schema.NullOr(Schema.String)),
      status: Schema.optional(TaskStatus)
    }),
    ifMatch: Schema.optional(Schema.String)
  },
  result: Schema.Struct({ updateTask: Task })
})

export const DeleteTask = GraphQL.mutation("DeleteTask", {
  document: `mutation DeleteTask($id: ID!, $ifMatch: String) { deleteTask(id: $id, ifMatch: $ifMatch) }`,
  variables: { id: Schema.String, ifMatch: Schema.optional(Schema.String) },
  result: Schema.Struct({ deleteTask: Schema.String })
})

export const TaskEventKind = Schema.Literals(["CREATED", "UPDATED", "DELETED"])

/** Every change to the caller's tasks, from any instance, as it is committed; `task` is null for DELETED. */
export const TaskEvents = GraphQL.subscription("TaskEvents", {
  document: `subscription TaskEvents { taskEvents { kind id task { ${taskFields} } } }`,
  result: Schema.Struct({
    taskEvents: Schema.Struct({ kind: TaskEventKind, id: Schema.String, task: Schema.NullOr(Task) })
  })
})

/** Sends the caller's bearer token with every operation. */
export class BearerToken extends GraphQLMiddleware.Service<BearerToken>()("task-api/example/BearerToken") {
  static readonly layer = (token: Redacted.Redacted<string>) =>
    Layer.succeed(
      BearerToken,
      GraphQLMiddleware.mapRequest((request) =>
        Effect.succeed({
          ...request,
          headers: Headers.set(request.headers, "authorization", `Bearer ${Redacted.value(token)}`)
        })
      )
    )
}

export const TaskGraphGroup = GraphQLGroup.make(TaskById, Tasks, CreateTask, UpdateTask, DeleteTask, TaskEvents)
  .middleware(BearerToken)

/**
 * The Task API over GraphQL: `TaskById`, `Tasks`, `CreateTask`, `UpdateTask`,
 * `DeleteTask`, and the `TaskEvents` subscription (graphql-sse: a stream that
 * subscribes again by itself when its server goes away).
 */
export class TaskGraph extends Context.Service<TaskGraph, GraphQLClient.FromGroup<typeof TaskGraphGroup>>()(
  "task-api/example/TaskGraph"
) {
  /** The client of the service at `url` (its /graphql), as the owner of `token`, over the global `fetch`. */
  static readonly layer = (options: { readonly url: string; readonly token: Redacted.Redacted<string> }) =>
    Layer.effect(TaskGraph, GraphQLClient.make(TaskGraphGroup)).pipe(
      Layer.provide(BearerToken.layer(options.token)),
      Layer.provide(GraphQLProtocol.layerHttp({ url: `${options.url}/graphql` })),
      Layer.provide(FetchHttpClient.layer)
    )
}

/** Every task of the caller with this status (or all), newest first, a page of `pageSize` at a time, as it is read. */
export const allTasks = (options: { readonly pageSize: number; readonly status?: typeof TaskStatus.Type }) =>
  Stream.unwrap(TaskGraph.use((client) => Effect.succeed(
    GraphQLClient.items(client.Tasks, {
      variables: { first: options.pageSize, ...(options.status === undefined ? {} : { status: options.status }) },
      connection: (result) => result.tasks
    }))))
