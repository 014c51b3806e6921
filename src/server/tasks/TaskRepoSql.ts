import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import { randomUUID } from "node:crypto"
import type { CreateTask, Task, TaskId, UpdateTask } from "../../domain/Task.ts"
import type { Versions } from "../../domain/EntityTag.ts"
import { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import { unavailability } from "../database/DatabaseFailure.ts"
import { makeOutageLog } from "../database/DatabaseOutage.ts"
import { makeStatementSpans } from "../database/StatementSpans.ts"
import {
  countReplay,
  countTaskCreated,
  countTaskDeleted,
  countTaskUpdated,
  countUnavailable,
  recordDatabaseOperation
} from "../observability/Metrics.ts"
import { RequestTelemetry } from "../observability/Telemetry.ts"
import { childSpan } from "../observability/Tracing.ts"
import { changedSince, fingerprintOf, keyReused, notFound } from "./TaskAnswers.ts"
import { taskColumns } from "./TaskColumns.ts"
import { TaskEvents } from "./TaskEvents.ts"
import type { ListRequest, TaskRepo } from "./TaskRepo.ts"

const unavailable = new ServiceUnavailable({ detail: "The database cannot be reached; try again shortly." })
const readyTimeout = Duration.seconds(2)
const notReady = new ServiceUnavailable({
  detail: `The database did not answer within ${Duration.format(readyTimeout)}; try again shortly.`
})


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

/** TaskRepo on the SqlClient: PostgreSQL, or the embedded PGlite. */
export const makeSqlTaskRepo = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Subscribers hear of each committed write (without TaskEvents, as in tests of the repository alone, nobody listens).
  const { committed } = Option.getOrElse(yield* Effect.serviceOption(TaskEvents), () => ({ committed: () => {} }))

  const reportOutage = yield* makeOutageLog(sql`SELECT 1`)

  const { metrics, tracing } = yield* RequestTelemetry
  // Each statement a request runs is a CLIENT span of its trace, when it is recorded.
  const run: <A>(statement: Statement.Statement<A>) => Effect.Effect<ReadonlyArray<A>, SqlError> = tracing
    ? yield* makeStatementSpans
    : (statement) => statement

  // The repository boundary: a database that cannot answer is a 503 the
  // client may retry, logged as an outage; any other SQL failure is a bug.
  // (One that answers too slowly meets the request's own deadline: see
  // RequestTimeout.) Each operation is timed, by the SQL operation it
  // performs, and traced as `TaskRepo.<name>`, when metrics and tracing are
  // on; they cost nothing when off.
  const boundary = (name: keyof TaskRepo["Service"], sqlOperation: string) =>
  <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, Exclude<E, SqlError> | ServiceUnavailable> => {
    const bounded = metrics ? timed(sqlOperation, effect) : Effect.catchCause(effect, onFailure<E>)
    return tracing ? childSpan(bounded, `TaskRepo.${name}`) : bounded
  }

  const onFailure = <E>(cause: Cause.Cause<E>): Effect.Effect<never, Exclude<E, SqlError> | ServiceUnavailable> => {
    const error = Cause.findErrorOption(cause)
    if (Option.isNone(error) || !isSqlError(error.value)) return Effect.failCause(cause as Cause.Cause<Exclude<E, SqlError>>)
    const outage = unavailability(error.value)
    if (outage === undefined) return Effect.die(error.value)
    countUnavailable("database")
    return Effect.andThen(reportOutage(outage), Effect.fail(unavailable))
  }

  // Timed in the same step that judges failures, so a timed operation costs
  // one more step than an untimed one, not three.
  const timed = <A, E>(operation: string, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      const started = performance.now()
      const record = () => recordDatabaseOperation(operation, (performance.now() - started) / 1000)
      return Effect.matchCauseEffect(effect, {
        onSuccess: (value) => (record(), Effect.succeed(value)),
        onFailure: (cause) => (record(), onFailure(cause))
      })
    })

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
        run(sql`SELECT 1 FROM tasks WHERE id = ${id} AND owner = ${owner}`),
        (rows) => Effect.fail(rows.length === 0 ? notFound(id) : changedSince(id))
      )

  const insert = (owner: string, input: CreateTask) =>
    Effect.map(
      run(sql<Task>`
        INSERT INTO tasks (id, owner, title, description, status)
        VALUES (${randomUUID()}, ${owner}, ${input.title}, ${input.description ?? null}, ${input.status ?? "pending"})
        RETURNING ${sql.literal(taskColumns)}`),
      (rows) => rows[0]!
    )

  // One transaction claims the key and creates the task. A concurrent
  // request with the same key waits on the key's row, then finds it taken
  // and answers with the task the first one stored. An expired key is
  // claimed again as if new.
  const createOnce = (owner: string, input: CreateTask, key: string) =>
    Effect.gen(function*() {
      const fingerprint = fingerprintOf(input)
      const claimed = yield* run(sql`
        INSERT INTO idempotency_keys (owner, key, fingerprint) VALUES (${owner}, ${key}, ${fingerprint})
        ON CONFLICT (owner, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, task = NULL, created_at = now()
          WHERE idempotency_keys.created_at < now() - interval '24 hours'
        RETURNING key`)
      if (claimed.length === 0) {
        const [first] = yield* run(sql<{ fingerprint: string; task: Task }>`
          SELECT fingerprint, task FROM idempotency_keys WHERE owner = ${owner} AND key = ${key}`)
        if (first === undefined) return yield* Effect.fail(unavailable)
        if (first.fingerprint !== fingerprint) return yield* Effect.fail(keyReused)
        return { task: inTaskOrder(first.task), replayed: true }
      }
      const task = yield* insert(owner, input)
      yield* run(
        sql`UPDATE idempotency_keys SET task = ${JSON.stringify(task)}::jsonb WHERE owner = ${owner} AND key = ${key}`
      )
      return { task, replayed: false }
    })

  const create = (owner: string, input: CreateTask, idempotencyKey?: string) =>
    Effect.map(
      boundary("create", "INSERT")(
        idempotencyKey === undefined
          ? Effect.map(insert(owner, input), (task) => ({ task, replayed: false }))
          : sql.withTransaction(createOnce(owner, input, idempotencyKey))
      ),
      ({ replayed, task }) => {
        // Counted and announced once committed, so a rolled-back create does neither.
        if (replayed) countReplay()
        else {
          countTaskCreated()
          committed(owner, { kind: "CREATED", id: task.id, task })
        }
        return task
      }
    )

  // Expired keys only take room; they are purged hourly.
  yield* sql`DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'`.pipe(
    Effect.ignore,
    Effect.repeat(Schedule.spaced("1 hour")),
    Effect.forkScoped
  )

  const list = (owner: string, { after, limit, status }: ListRequest) =>
    boundary("list", "SELECT")(run(sql<Task>`
      SELECT ${sql.literal(taskColumns)} FROM tasks
      WHERE ${
      sql.and([
        sql`owner = ${owner}`,
        ...(status === undefined ? [] : [sql`status = ${status}`]),
        ...(after === undefined ? [] : [sql`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`])
      ])
    }
      ORDER BY tasks.created_at DESC, tasks.id DESC
      LIMIT ${limit}`))

  const findById = (owner: string, id: TaskId) =>
    run(sql<Task>`SELECT ${sql.literal(taskColumns)} FROM tasks WHERE id = ${id} AND owner = ${owner}`).pipe(
      Effect.flatMap((rows) => one(rows, id)),
      boundary("findById", "SELECT")
    )

  // One statement: fields left out keep their value, and `updated_at`
  // moves only when a value really changes.
  const update = (owner: string, id: TaskId, changes: UpdateTask, ifVersion?: Versions) => {
    const title = changes.title ?? null
    const setDescription = changes.description !== undefined
    const description = changes.description ?? null
    const status = changes.status ?? null
    return run(sql<Task>`
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
      RETURNING ${sql.literal(taskColumns)}`).pipe(
        Effect.flatMap((rows) => rows.length === 0 ? explainMiss(owner, id, ifVersion) : Effect.succeed(rows[0]!)),
        boundary("update", "UPDATE"),
        Effect.map((task) => {
          countTaskUpdated()
          committed(owner, { kind: "UPDATED", id: task.id, task })
          return task
        })
      )
  }

  const remove = (owner: string, id: TaskId, ifVersion?: Versions) =>
    run(sql<{ id: string }>`
      DELETE FROM tasks WHERE id = ${id} AND owner = ${owner} AND ${atVersion(ifVersion)} RETURNING id`).pipe(
      Effect.flatMap((rows) => rows.length === 0 ? explainMiss(owner, id, ifVersion) : Effect.void),
      boundary("remove", "DELETE"),
      Effect.map(() => {
        countTaskDeleted()
        committed(owner, { kind: "DELETED", id, task: null })
      })
    )

  // A probe must answer quickly either way, however long a connection
  // attempt may take: a balancer waits for it.
  const ready = boundary("ready", "SELECT")(Effect.asVoid(run(sql`SELECT 1`))).pipe(
    Effect.timeoutOrElse({ duration: readyTimeout, orElse: () => Effect.fail(notReady) })
  )

  return { create, list, findById, update, remove, ready } satisfies TaskRepo["Service"]
})
