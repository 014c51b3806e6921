// The GraphQL contract (../shared/GRAPHQL.md) as a graphql-js schema: pure,
// importable alone by servers, clients and tests. Its root fields ask the
// request's `TaskGraphRoot` (the context value) for what they answer, so the
// schema holds no server code; its other fields derive from the domain Task.
import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLError,
  GraphQLID,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLNullableType,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLString,
  Kind,
  lexicographicSortSchema,
  printSchema
} from "graphql"
import { entityTagOf } from "../domain/EntityTag.ts"
import type { Task, TaskStatus } from "../domain/Task.ts"

/** What `extensions.code` of a GraphQL error can be. */
export type TaskGraphErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "PRECONDITION_FAILED"
  | "IDEMPOTENCY_KEY_REUSED"
  | "UNAVAILABLE"
  | "GRAPHQL_PARSE_FAILED"
  | "GRAPHQL_VALIDATION_FAILED"
  | "INTERNAL_SERVER_ERROR"

export interface TasksArgs {
  readonly first: number
  readonly after?: string | null | undefined
  readonly status?: TaskStatus | null | undefined
}

/** An input object as graphql-js gives it: a field left out is absent, one written as null is null. */
export interface TaskFieldsInput {
  readonly title?: string | null | undefined
  readonly description?: string | null | undefined
  readonly status?: TaskStatus | null | undefined
}

export interface CreateTaskArgs {
  readonly input: TaskFieldsInput
  readonly idempotencyKey?: string | null | undefined
}

export interface UpdateTaskArgs {
  readonly id: string
  readonly input: TaskFieldsInput
  readonly ifMatch?: string | null | undefined
}

export interface DeleteTaskArgs {
  readonly id: string
  readonly ifMatch?: string | null | undefined
}

/** One page of `tasks` as the server found it; edges, cursors and pageInfo derive from it. */
export interface TaskPageSource {
  readonly tasks: ReadonlyArray<Task>
  readonly hasNextPage: boolean
  /** The cursor that pages on after `task`; worked out only for the cursors a client selects. */
  readonly cursorOf: (task: Task) => string
}

/**
 * What the root fields run, bound by the server to one request (its caller,
 * its trace, its deadline) and given to graphql-js as the context value.
 */
export interface TaskGraphRoot {
  readonly task: (args: { readonly id: string }) => Promise<Task | null>
  readonly tasks: (args: TasksArgs) => Promise<TaskPageSource>
  readonly createTask: (args: CreateTaskArgs) => Promise<Task>
  readonly updateTask: (args: UpdateTaskArgs) => Promise<Task>
  readonly deleteTask: (args: DeleteTaskArgs) => Promise<string>
}

// What the `tasks` field takes, in one place for the schema and the server's limits.
export const taskPageLimits = { default: 20, maximum: 100 } as const

const nonNull = <T extends GraphQLNullableType>(type: T) => new GraphQLNonNull(type)

const rfc3339Millis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const dateTime = (value: unknown): string => {
  if (typeof value === "string" && rfc3339Millis.test(value) && !Number.isNaN(Date.parse(value))) return value
  throw new GraphQLError("DateTime is an RFC 3339 timestamp in UTC with milliseconds, such as 2026-11-24T10:15:30.123Z.")
}

const DateTime = new GraphQLScalarType<string, string>({
  name: "DateTime",
  description: "An RFC 3339 timestamp in UTC with millisecond precision, as REST's timestamps: 2026-11-24T10:15:30.123Z.",
  specifiedByURL: "https://www.rfc-editor.org/rfc/rfc3339",
  // What the service answers, the database has just rendered: its form is
  // checked, but not parsed again as a date (Date.parse was 5% of the CPU
  // of a 50-task page).
  coerceOutputValue: (value) => {
    if (typeof value === "string" && rfc3339Millis.test(value)) return value
    throw new GraphQLError("DateTime is an RFC 3339 timestamp in UTC with milliseconds, such as 2026-11-24T10:15:30.123Z.")
  },
  coerceInputValue: dateTime,
  coerceInputLiteral: (node) => dateTime(node.kind === Kind.STRING ? node.value : undefined)
})

// The enum's values are the REST strings inside the service: resolvers and
// the domain schemas see `in_progress`, clients `IN_PROGRESS`.
const TaskStatusEnum = new GraphQLEnumType({
  name: "TaskStatus",
  values: {
    PENDING: { value: "pending" satisfies TaskStatus },
    IN_PROGRESS: { value: "in_progress" satisfies TaskStatus },
    COMPLETED: { value: "completed" satisfies TaskStatus }
  }
})

const NodeInterface: GraphQLInterfaceType = new GraphQLInterfaceType({
  name: "Node",
  description: "An object with a global id, for Relay clients: here, a task.",
  fields: () => ({ id: { type: nonNull(GraphQLID) } }),
  resolveType: () => "Task"
})

const TaskType = new GraphQLObjectType<Task, TaskGraphRoot>({
  name: "Task",
  description: "A task, the same as REST's: what one API writes the other reads.",
  interfaces: [NodeInterface],
  fields: {
    id: { type: nonNull(GraphQLID), description: "The task's UUID, the same id as REST's." },
    title: { type: nonNull(GraphQLString) },
    description: { type: GraphQLString },
    status: { type: nonNull(TaskStatusEnum) },
    createdAt: { type: nonNull(DateTime), resolve: (task) => task.created_at },
    updatedAt: { type: nonNull(DateTime), resolve: (task) => task.updated_at },
    etag: {
      type: nonNull(GraphQLString),
      description: "REST's ETag value for this version, quotes included: pass it as ifMatch.",
      resolve: entityTagOf
    }
  }
})

const PageInfo = new GraphQLObjectType<TaskPageSource>({
  name: "PageInfo",
  description: "Pages go forward only: hasPreviousPage is always false.",
  fields: {
    hasNextPage: { type: nonNull(GraphQLBoolean) },
    endCursor: {
      type: GraphQLString,
      description: "Pass it as `after` for the next page (or as REST's `cursor`); null on the last page.",
      resolve: (page) => {
        const last = page.tasks.at(-1)
        return page.hasNextPage && last !== undefined ? page.cursorOf(last) : null
      }
    },
    hasPreviousPage: { type: nonNull(GraphQLBoolean), resolve: () => false },
    startCursor: {
      type: GraphQLString,
      description: "The first edge's cursor; null on an empty page.",
      resolve: (page) => {
        const first = page.tasks[0]
        return first === undefined ? null : page.cursorOf(first)
      }
    }
  }
})

interface EdgeSource {
  readonly task: Task
  readonly page: TaskPageSource
}

const TaskEdge = new GraphQLObjectType<EdgeSource>({
  name: "TaskEdge",
  fields: {
    cursor: {
      type: nonNull(GraphQLString),
      description: "Pass it as `after` to page on from this task.",
      resolve: ({ page, task }) => page.cursorOf(task)
    },
    node: { type: nonNull(TaskType), resolve: (edge) => edge.task }
  }
})

const TaskConnection = new GraphQLObjectType<TaskPageSource>({
  name: "TaskConnection",
  fields: {
    edges: {
      type: nonNull(new GraphQLList(nonNull(TaskEdge))),
      resolve: (page): ReadonlyArray<EdgeSource> => page.tasks.map((task) => ({ task, page }))
    },
    nodes: { type: nonNull(new GraphQLList(nonNull(TaskType))), resolve: (page) => page.tasks },
    pageInfo: { type: nonNull(PageInfo), resolve: (page) => page }
  }
})

const Query = new GraphQLObjectType<unknown, TaskGraphRoot>({
  name: "Query",
  fields: {
    task: {
      type: TaskType,
      description: "The caller's task with this id; null when there is none, or it is another owner's.",
      args: { id: { type: nonNull(GraphQLID) } },
      resolve: (_, args: { id: string }, root) => root.task(args)
    },
    node: {
      type: NodeInterface,
      description: "The same as `task`, for Relay clients.",
      args: { id: { type: nonNull(GraphQLID) } },
      resolve: (_, args: { id: string }, root) => root.task(args)
    },
    tasks: {
      type: nonNull(TaskConnection),
      description: `The caller's tasks, newest first; \`first\` from 1 to ${taskPageLimits.maximum}.`,
      args: {
        first: { type: GraphQLInt, default: { value: taskPageLimits.default } },
        after: { type: GraphQLString, description: "An `endCursor` or edge cursor, or REST's `next_cursor`." },
        status: { type: TaskStatusEnum, description: "Only tasks with this status." }
      },
      resolve: (_, args: TasksArgs, root) => root.tasks(args)
    }
  }
})

const CreateTaskInput = new GraphQLInputObjectType({
  name: "CreateTaskInput",
  description: "`status` is PENDING when left out.",
  fields: {
    title: { type: nonNull(GraphQLString), description: "Trimmed; 1 to 255 characters after trimming." },
    description: { type: GraphQLString, description: "At most 10,000 characters, stored as given." },
    status: { type: TaskStatusEnum }
  }
})

const UpdateTaskInput = new GraphQLInputObjectType({
  name: "UpdateTaskInput",
  description: "A field left out stays as it is; `description: null` clears it. `title` and `status` cannot be null.",
  fields: {
    title: { type: GraphQLString },
    description: { type: GraphQLString },
    status: { type: TaskStatusEnum }
  }
})

const ifMatch = {
  type: GraphQLString,
  description: "Apply only if the task is still at this version (its `etag`, or REST's ETag)."
}

const Mutation = new GraphQLObjectType<unknown, TaskGraphRoot>({
  name: "Mutation",
  fields: {
    createTask: {
      type: nonNull(TaskType),
      args: {
        input: { type: nonNull(CreateTaskInput) },
        idempotencyKey: {
          type: GraphQLString,
          description: "Makes the create safe to retry: one task per key for 24 hours; the same key with another input fails."
        }
      },
      resolve: (_, args: CreateTaskArgs, root) => root.createTask(args)
    },
    updateTask: {
      type: nonNull(TaskType),
      args: { id: { type: nonNull(GraphQLID) }, input: { type: nonNull(UpdateTaskInput) }, ifMatch },
      resolve: (_, args: UpdateTaskArgs, root) => root.updateTask(args)
    },
    deleteTask: {
      type: nonNull(GraphQLID),
      description: "Answers the deleted task's id.",
      args: { id: { type: nonNull(GraphQLID) }, ifMatch },
      resolve: (_, args: DeleteTaskArgs, root) => root.deleteTask(args)
    }
  }
})

const TaskEventKind = new GraphQLEnumType({
  name: "TaskEventKind",
  values: { CREATED: {}, UPDATED: {}, DELETED: {} }
})

const TaskEvent = new GraphQLObjectType({
  name: "TaskEvent",
  fields: {
    kind: { type: nonNull(TaskEventKind) },
    id: { type: nonNull(GraphQLID) },
    task: { type: TaskType, description: "Null for DELETED." }
  }
})

// In the contract, served later (over Server-Sent Events); declared now so
// the schema is the contract's, and refused by this transport for the time being.
const Subscription = new GraphQLObjectType({
  name: "Subscription",
  fields: {
    taskEvents: {
      type: nonNull(TaskEvent),
      description: "Every change to the subscriber's own tasks, made through any instance."
    }
  }
})

/** The Task API's GraphQL schema. */
export const taskGraphSchema = new GraphQLSchema({
  query: Query,
  mutation: Mutation,
  subscription: Subscription,
  types: [TaskType]
})

/** The schema as SDL, sorted by name: what `npm run graphql` writes to schema.graphql. */
export const taskGraphSdl = (schema: GraphQLSchema = taskGraphSchema) => printSchema(lexicographicSortSchema(schema)) + "\n"
