import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import { createHash, randomUUID } from "node:crypto"
import type { CreateTask, Task, TaskId, TaskStatus, UpdateTask } from "../domain/Task.ts"
import { matches, type Versions } from "../domain/EntityTag.ts"
import { IdempotencyKeyReused, PreconditionFailed, ServiceUnavailable, TaskNotFound } from "../domain/TaskErrors.ts"
import { unavailability } from "./DatabaseFailure.ts"
import { makeOutageLog } from "./DatabaseOutage.ts"
import type { PagePosition } from "./PageCursor.ts"

export interface ListRequest {
  readonly limit: number
  readonly status?: TaskStatus | undefined
  readonly after?: PagePosition | undefined
}

const notFound = (id: TaskId) => new TaskNotFound({ detail: `No task has the id ${id}.` })
const keyReused = new IdempotencyKeyReused({
  detail: "This Idempotency-Key was used for a different request; use a new key for a new task."
})
const idempotencyWindowMs = 24 * 60 * 60 * 1000

/** What a create asks for, hashed: the decoded body, defaults filled in. */
const fingerprintOf = (input: CreateTask) =>
  createHash("sha256")
    .update(JSON.stringify([input.title, input.description ?? null, input.status ?? "pending"]))
    .digest("base64url")

const changedSince = (id: TaskId) =>
  new PreconditionFailed({ detail: `Task ${id} has changed since the version named in If-Match.` })
const unavailable = new ServiceUnavailable({ detail: "The database cannot be reached; try again shortly." })
const readyTimeout = Duration.seconds(2)
const notReady = new ServiceUnavailable({
  detail: `The database did not answer within ${Duration.format(readyTimeout)}; try again shortly.`
})

// Timestamps are rendered by PostgreSQL in the wire format, so rows need no
// Date round trip in JavaScript. The output names shadow the columns, so
// ORDER BY must qualify them (`tasks.created_at`) to sort by the indexed
// timestamp rather than the formatted string.
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const taskColumns = `id, title, description, status, ${iso("created_at")} AS created_at, ${iso("updated_at")} AS updated_at`

// jsonb stores an object's keys in an order of its own; a replayed task is
// answered with its fields in the order of the first answer, byte for byte.
const inTaskOrder = ({ created_at, description, id, status, title, updated_at }: Task): Task => ({
  id,
  title,
  description,
  status,
  created_at,
  updated_at
})

/** The next `updated_at`: now, but always after the previous one, so every change moves it. */
const nextUpdatedAt = (previous: string, now: number): string =>
  new Date(Math.max(now, Date.parse(previous) + 1)).toISOString()

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
  static readonly layer = Layer.effect(
    TaskRepo,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient

      const reportOutage = yield* makeOutageLog(sql`SELECT 1`)

      // The repository boundary: a database that cannot answer is a 503 the
      // client may retry, logged as an outage; any other SQL failure is a bug.
      // (One that answers too slowly meets the request's own deadline: see
      // RequestTimeout.)
      const boundary = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, Exclude<E, SqlError> | ServiceUnavailable> =>
        effect.pipe(
          Effect.catch((error): Effect.Effect<never, Exclude<E, SqlError> | ServiceUnavailable> => {
            if (!isSqlError(error)) return Effect.fail(error as Exclude<E, SqlError>)
            const outage = unavailability(error)
            return outage === undefined ? Effect.die(error) : Effect.andThen(reportOutage(outage), Effect.fail(unavailable))
          })
        )

      const one = (rows: ReadonlyArray<Task>, id: TaskId) =>
        rows.length === 0 ? Effect.fail(notFound(id)) : Effect.succeed(rows[0]!)

      // The version check is part of the write's own WHERE, so a concurrent
      // change between a client's read and its write is always seen.
      // (`sql.or` of nothing is "1=1": an If-Match naming no version must match none.)
      const atVersion = (ifVersion: Versions | undefined) =>
        ifVersion === undefined || ifVersion === "any"
          ? sql.literal("TRUE")
          : ifVersion.length === 0
          ? sql.literal("FALSE")
          : sql.or(ifVersion.map((version) => sql`updated_at = ${version}::timestamptz`))

      // Nothing written: the task is gone, or (under If-Match) at another version.
      const explainMiss = (owner: string, id: TaskId, ifVersion: Versions | undefined) =>
        ifVersion === undefined
          ? Effect.fail(notFound(id))
          : Effect.flatMap(
            sql`SELECT 1 FROM tasks WHERE id = ${id} AND owner = ${owner}`,
            (rows) => Effect.fail(rows.length === 0 ? notFound(id) : changedSince(id))
          )

      const insert = (owner: string, input: CreateTask) =>
        Effect.map(
          sql<Task>`
            INSERT INTO tasks (id, owner, title, description, status)
            VALUES (${randomUUID()}, ${owner}, ${input.title}, ${input.description ?? null}, ${input.status ?? "pending"})
            RETURNING ${sql.literal(taskColumns)}`,
          (rows) => rows[0]!
        )

      // One transaction claims the key and creates the task. A concurrent
      // request with the same key waits on the key's row, then finds it taken
      // and answers with the task the first one stored. An expired key is
      // claimed again as if new.
      const createOnce = (owner: string, input: CreateTask, key: string) =>
        Effect.gen(function*() {
          const fingerprint = fingerprintOf(input)
          const claimed = yield* sql`
            INSERT INTO idempotency_keys (owner, key, fingerprint) VALUES (${owner}, ${key}, ${fingerprint})
            ON CONFLICT (owner, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, task = NULL, created_at = now()
              WHERE idempotency_keys.created_at < now() - interval '24 hours'
            RETURNING key`
          if (claimed.length === 0) {
            const [first] = yield* sql<{ fingerprint: string; task: Task }>`
              SELECT fingerprint, task FROM idempotency_keys WHERE owner = ${owner} AND key = ${key}`
            if (first === undefined) return yield* Effect.fail(unavailable)
            return first.fingerprint === fingerprint ? inTaskOrder(first.task) : yield* Effect.fail(keyReused)
          }
          const task = yield* insert(owner, input)
          yield* sql`UPDATE idempotency_keys SET task = ${JSON.stringify(task)}::jsonb WHERE owner = ${owner} AND key = ${key}`
          return task
        })

      const create = (owner: string, input: CreateTask, idempotencyKey?: string) =>
        boundary(
          idempotencyKey === undefined
            ? insert(owner, input)
            : sql.withTransaction(createOnce(owner, input, idempotencyKey))
        )

      // Expired keys only take room; they are purged hourly.
      yield* sql`DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'`.pipe(
        Effect.ignore,
        Effect.repeat(Schedule.spaced("1 hour")),
        Effect.forkScoped
      )

      const list = (owner: string, { after, limit, status }: ListRequest) =>
        boundary(sql<Task>`
          SELECT ${sql.literal(taskColumns)} FROM tasks
          WHERE ${
          sql.and([
            sql`owner = ${owner}`,
            ...(status === undefined ? [] : [sql`status = ${status}`]),
            ...(after === undefined ? [] : [sql`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`])
          ])
        }
          ORDER BY tasks.created_at DESC, tasks.id DESC
          LIMIT ${limit}`)

      const findById = (owner: string, id: TaskId) =>
        sql<Task>`SELECT ${sql.literal(taskColumns)} FROM tasks WHERE id = ${id} AND owner = ${owner}`.pipe(
          Effect.flatMap((rows) => one(rows, id)),
          boundary
        )

      // One statement: fields left out keep their value, and `updated_at`
      // moves only when a value really changes.
      const update = (owner: string, id: TaskId, changes: UpdateTask, ifVersion?: Versions) => {
        const title = changes.title ?? null
        const setDescription = changes.description !== undefined
        const description = changes.description ?? null
        const status = changes.status ?? null
        return sql<Task>`
          UPDATE tasks SET
            title = COALESCE(${title}::text, title),
            description = CASE WHEN ${setDescription} THEN ${description}::text ELSE description END,
            status = COALESCE(${status}::text, status),
            updated_at = CASE
              WHEN (COALESCE(${title}::text, title),
                    CASE WHEN ${setDescription} THEN ${description}::text ELSE description END,
                    COALESCE(${status}::text, status))
                   IS DISTINCT FROM (title, description, status)
              THEN GREATEST(clock_timestamp(), updated_at + interval '1 millisecond')
              ELSE updated_at
            END
          WHERE id = ${id} AND owner = ${owner} AND ${atVersion(ifVersion)}
          RETURNING ${sql.literal(taskColumns)}`.pipe(
            Effect.flatMap((rows) => rows.length === 0 ? explainMiss(owner, id, ifVersion) : Effect.succeed(rows[0]!)),
            boundary
          )
      }

      const remove = (owner: string, id: TaskId, ifVersion?: Versions) =>
        sql<{ id: string }>`
          DELETE FROM tasks WHERE id = ${id} AND owner = ${owner} AND ${atVersion(ifVersion)} RETURNING id`.pipe(
          Effect.flatMap((rows) => rows.length === 0 ? explainMiss(owner, id, ifVersion) : Effect.void),
          boundary
        )

      // A probe must answer quickly either way, however long a connection
      // attempt may take: a balancer waits for it.
      const ready = boundary(Effect.asVoid(sql`SELECT 1`)).pipe(
        Effect.timeoutOrElse({ duration: readyTimeout, orElse: () => Effect.fail(notReady) })
      )

      return TaskRepo.of({ create, list, findById, update, remove, ready })
    })
  )

  /** Tasks in a Map: for fast tests of everything above the database. */
  static readonly layerMemory = Layer.sync(TaskRepo, () => {
    const tasks = new Map<string, { readonly owner: string; readonly task: Task }>()
    const keys = new Map<string, { readonly fingerprint: string; readonly task: Task; readonly at: number }>()
    let lastCreatedAt = 0

    const newestFirst = (a: Task, b: Task) =>
      a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : (a.created_at < b.created_at ? 1 : -1)
    const isAfter = (task: Task, position: PagePosition) =>
      task.created_at < position.createdAt || (task.created_at === position.createdAt && task.id < position.id)

    const visible = (owner: string, id: TaskId): Task | undefined => {
      const stored = tasks.get(id)
      return stored?.owner === owner ? stored.task : undefined
    }
    // A write looks the task up, checks its version and changes it in one
    // synchronous step, when the effect runs. Looked up when the effect was
    // made, or in a step of its own, another write could land in between and
    // be lost under If-Match (test/memoryRepo.test.ts).
    const atVersion = <A>(
      owner: string,
      id: TaskId,
      ifVersion: Versions | undefined,
      write: (task: Task) => A
    ): Effect.Effect<A, TaskNotFound | PreconditionFailed> =>
      Effect.suspend((): Effect.Effect<A, TaskNotFound | PreconditionFailed> => {
        const task = visible(owner, id)
        if (task === undefined) return Effect.fail(notFound(id))
        if (ifVersion !== undefined && !matches(ifVersion, task)) return Effect.fail(changedSince(id))
        return Effect.succeed(write(task))
      })

    return TaskRepo.of({
      create: (owner, input, idempotencyKey) =>
        Effect.suspend(() => {
          const keyOf = idempotencyKey === undefined ? undefined : JSON.stringify([owner, idempotencyKey])
          const fingerprint = keyOf === undefined ? undefined : fingerprintOf(input)
          const first = keyOf === undefined ? undefined : keys.get(keyOf)
          if (first !== undefined && Date.now() - first.at < idempotencyWindowMs) {
            return first.fingerprint === fingerprint ? Effect.succeed(first.task) : Effect.fail(keyReused)
          }
          // Real wall-clock time, kept strictly increasing so the order of
          // creation is the order of listing, as in PostgreSQL.
          lastCreatedAt = Math.max(Date.now(), lastCreatedAt + 1)
          const now = new Date(lastCreatedAt).toISOString()
          const task: Task = {
            id: randomUUID() as TaskId,
            title: input.title,
            description: input.description ?? null,
            status: input.status ?? "pending",
            created_at: now,
            updated_at: now
          }
          tasks.set(task.id, { owner, task })
          if (keyOf !== undefined) keys.set(keyOf, { fingerprint: fingerprint!, task, at: Date.now() })
          return Effect.succeed(task)
        }),
      list: (owner, { after, limit, status }) =>
        Effect.sync(() =>
          Array.from(tasks.values())
            .filter((stored) => stored.owner === owner)
            .map((stored) => stored.task)
            .filter((task) => (status === undefined || task.status === status) && (after === undefined || isAfter(task, after)))
            .sort(newestFirst)
            .slice(0, limit)
        ),
      findById: (owner, id) =>
        Effect.suspend(() => {
          const task = visible(owner, id)
          return task === undefined ? Effect.fail(notFound(id)) : Effect.succeed(task)
        }),
      update: (owner, id, changes, ifVersion) =>
        atVersion(owner, id, ifVersion, (task) => {
          const changed: Task = { ...task, ...changes }
          if (changed.title === task.title && changed.description === task.description && changed.status === task.status) {
            return task
          }
          const updated = { ...changed, updated_at: nextUpdatedAt(task.updated_at, Date.now()) }
          tasks.set(id, { owner, task: updated })
          return updated
        }),
      remove: (owner, id, ifVersion) => atVersion(owner, id, ifVersion, () => void tasks.delete(id)),
      ready: Effect.void
    })
  })
}

