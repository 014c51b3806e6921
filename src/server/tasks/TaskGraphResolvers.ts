import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { CurrentOwner } from "../../api/Authorization.ts"
import type {
  CreateTaskArgs,
  DeleteTaskArgs,
  TaskGraphErrorCode,
  TaskGraphRoot,
  TaskPageSource,
  TasksArgs,
  UpdateTaskArgs
} from "../../api/TaskGraph.ts"
import { parseVersions } from "../../domain/EntityTag.ts"
import { CreateTask, IdempotencyKey, PageLimit, type Task, TaskId, UpdateTask } from "../../domain/Task.ts"
import {
  IdempotencyKeyReused,
  PreconditionFailed,
  ServiceUnavailable,
  TaskNotFound
} from "../../domain/TaskErrors.ts"
import { PageCursor } from "./PageCursor.ts"
import { cursorAfter, readPage } from "./TaskPages.ts"
import { TaskRepo } from "./TaskRepo.ts"

// The GraphQL operations over the same repository, cursors, idempotency and
// versions as REST's handlers (TasksHttp), so that the two APIs cannot
// drift: each argument is checked by the domain schema REST decodes with.

/** Where an argument is (`["input", "title"]`) and what is wrong with it. */
export interface ArgumentProblem {
  readonly field: ReadonlyArray<string | number>
  readonly message: string
}

/** Arguments that break the domain's rules: REST's 400. */
class InvalidArguments extends Error {
  readonly _tag = "InvalidArguments"
  readonly problems: ReadonlyArray<ArgumentProblem>
  constructor(problems: ReadonlyArray<ArgumentProblem>) {
    super("Invalid arguments")
    this.problems = problems
  }
}

/**
 * An error as the GraphQL contract words it. graphql-js answers a resolver's
 * error with its message and copies its `extensions`; errors of any other
 * class are not the client's to read (see GraphqlErrors in the http room).
 */
export class TaskGraphFailure extends Error {
  readonly extensions: {
    readonly code: TaskGraphErrorCode
    readonly field?: ReadonlyArray<string | number>
    readonly errors?: ReadonlyArray<ArgumentProblem>
  }
  constructor(code: TaskGraphErrorCode, message: string, details?: Omit<TaskGraphFailure["extensions"], "code">) {
    super(message)
    this.extensions = { code, ...details }
  }
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** Decodes `value` with a domain schema, or records why not, under `field`. */
const checked = <S extends Schema.ConstraintDecoder<unknown>>(
  problems: Array<ArgumentProblem>,
  schema: S,
  value: unknown,
  field: ReadonlyArray<string>
): S["Type"] | undefined => {
  const exit = Schema.decodeUnknownExit(schema)(value, { errors: "all" })
  if (Exit.isSuccess(exit)) return exit.value
  const error = Cause.findErrorOption(exit.cause)
  const issues = Option.isSome(error) ? formatIssues(error.value.issue).issues : [{ path: [], message: "Invalid value" }]
  for (const issue of issues) {
    const path = (issue.path ?? []).map((segment) => {
      const key = typeof segment === "object" ? segment.key : segment
      return typeof key === "number" ? key : String(key)
    })
    problems.push({ field: [...field, ...path], message: issue.message })
  }
  return undefined
}

const invalidCursor: ArgumentProblem = {
  field: ["after"],
  message: "Expected an endCursor or edge cursor from a previous page"
}

// graphql-js gives an argument written as null as null, and leaves one left out absent.
const present = <A>(value: A | null | undefined): value is A => value !== null && value !== undefined

type Expected = InvalidArguments | TaskNotFound | PreconditionFailed | IdempotencyKeyReused | ServiceUnavailable

const internalError = new TaskGraphFailure("INTERNAL_SERVER_ERROR", "Internal server error")

/** A failure as the contract words it; REST's details name headers, GraphQL's name arguments. */
const failureOf = (error: Expected): TaskGraphFailure => {
  if (error instanceof InvalidArguments) {
    const [first, ...others] = error.problems
    const more = others.length === 0 ? "" : ` (${others.length} more problem${others.length > 1 ? "s" : ""})`
    return new TaskGraphFailure("BAD_USER_INPUT", `Invalid ${first!.field.join(".")}: ${first!.message}.${more}`, {
      field: first!.field,
      ...(others.length === 0 ? {} : { errors: error.problems })
    })
  }
  if (error instanceof TaskNotFound) return new TaskGraphFailure("NOT_FOUND", error.detail ?? "No task has this id.")
  if (error instanceof PreconditionFailed) {
    return new TaskGraphFailure(
      "PRECONDITION_FAILED",
      "The task has changed since the version named in ifMatch; read it again for its current etag."
    )
  }
  if (error instanceof IdempotencyKeyReused) {
    return new TaskGraphFailure(
      "IDEMPOTENCY_KEY_REUSED",
      "This idempotencyKey was used with a different input; use a new key for a new task."
    )
  }
  return new TaskGraphFailure("UNAVAILABLE", error.detail ?? "The service is unavailable; try again shortly.")
}

/**
 * The contract's failures as TaskGraphFailure; anything else is a bug,
 * logged with its cause as REST's 500s are, and answered without detail.
 */
const settled = <A, R>(effect: Effect.Effect<A, Expected, R>): Effect.Effect<A, TaskGraphFailure, R> =>
  Effect.catchCause(effect, (cause) => {
    const error = Cause.findErrorOption(cause)
    if (Option.isSome(error)) return Effect.fail(failureOf(error.value))
    if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    return Effect.andThen(Effect.logError("Request failed", cause), Effect.fail(internalError))
  })

/**
 * The resolvers of the schema's root fields, over the TaskRepo and
 * PageCursor in context. `bind` gives them to one request: each field runs
 * as an Effect in the request's context (its owner, its span, its Exchange),
 * and is interrupted when `signal` aborts (the request's deadline, a
 * shutdown), so nothing outlives its request.
 */
export const makeTaskGraphResolvers = Effect.gen(function*() {
  const repo = yield* TaskRepo
  const cursors = yield* PageCursor

  const task = ({ id }: { readonly id: string }) =>
    CurrentOwner.use((owner): Effect.Effect<Task | null, Expected> => {
      const problems: Array<ArgumentProblem> = []
      const taskId = checked(problems, TaskId, id, ["id"])
      if (taskId === undefined) return Effect.fail(new InvalidArguments(problems))
      // Another owner's task is missing too: the same null.
      return Effect.catchTag(repo.findById(owner, taskId), "TaskNotFound", () => Effect.succeed(null))
    })

  const tasks = (args: TasksArgs) =>
    CurrentOwner.use((owner): Effect.Effect<TaskPageSource, Expected> => {
      const problems: Array<ArgumentProblem> = []
      const first = checked(problems, PageLimit, args.first, ["first"])
      const after = present(args.after) ? cursors.decode(owner, args.after) : undefined
      if (present(args.after) && after === undefined) problems.push(invalidCursor)
      if (first === undefined || problems.length > 0) return Effect.fail(new InvalidArguments(problems))
      const status = present(args.status) ? args.status : undefined
      return Effect.map(readPage(repo, owner, { limit: first, status, after }), (page) => ({
        ...page,
        cursorOf: (task: Task) => cursorAfter(cursors, owner, task)
      }))
    })

  const createTask = ({ idempotencyKey, input }: CreateTaskArgs) =>
    CurrentOwner.use((owner): Effect.Effect<Task, Expected> => {
      const problems: Array<ArgumentProblem> = []
      const create = checked(problems, CreateTask, input, ["input"])
      const key = present(idempotencyKey) ? checked(problems, IdempotencyKey, idempotencyKey, ["idempotencyKey"]) : undefined
      if (create === undefined || problems.length > 0) return Effect.fail(new InvalidArguments(problems))
      return repo.create(owner, create, key)
    })

  const updateTask = ({ id, ifMatch, input }: UpdateTaskArgs) =>
    CurrentOwner.use((owner): Effect.Effect<Task, Expected> => {
      const problems: Array<ArgumentProblem> = []
      const taskId = checked(problems, TaskId, id, ["id"])
      const changes = checked(problems, UpdateTask, input, ["input"])
      if (taskId === undefined || changes === undefined) return Effect.fail(new InvalidArguments(problems))
      return repo.update(owner, taskId, changes, present(ifMatch) ? parseVersions(ifMatch, "strong") : undefined)
    })

  const deleteTask = ({ id, ifMatch }: DeleteTaskArgs) =>
    CurrentOwner.use((owner): Effect.Effect<string, Expected> => {
      const problems: Array<ArgumentProblem> = []
      const taskId = checked(problems, TaskId, id, ["id"])
      if (taskId === undefined) return Effect.fail(new InvalidArguments(problems))
      return Effect.as(repo.remove(owner, taskId, present(ifMatch) ? parseVersions(ifMatch, "strong") : undefined), taskId)
    })

  return {
    bind: (context: Context.Context<CurrentOwner>, signal: AbortSignal): TaskGraphRoot => {
      const run = Effect.runPromiseWith(context)
      const options = { signal }
      return {
        task: (args) => run(settled(task(args)), options),
        tasks: (args) => run(settled(tasks(args)), options),
        createTask: (args) => run(settled(createTask(args)), options),
        updateTask: (args) => run(settled(updateTask(args)), options),
        deleteTask: (args) => run(settled(deleteTask(args)), options)
      }
    }
  }
})
