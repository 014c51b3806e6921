import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import type { Task, TaskId } from "../../domain/Task.ts"
import { matches, type Versions } from "../../domain/EntityTag.ts"
import type { PreconditionFailed, TaskNotFound } from "../../domain/TaskErrors.ts"
import { changedSince, fingerprintOf, idempotencyWindowMs, keyReused, notFound } from "./TaskAnswers.ts"
import type { PagePosition } from "./PageCursor.ts"
import type { TaskEvents } from "./TaskEvents.ts"
import type { TaskRepo } from "./TaskRepo.ts"

/** The next `updated_at`: now, but always after the previous one, so every change moves it. */
const nextUpdatedAt = (previous: string, now: number): string =>
  new Date(Math.max(now, Date.parse(previous) + 1)).toISOString()

/** TaskRepo in a Map: for fast tests of everything above the database. Each write is told to `committed`. */
export const makeMemoryTaskRepo = (committed: TaskEvents["Service"]["committed"] = () => {}): TaskRepo["Service"] => {
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
  // be lost under If-Match (test/tasks/memoryRepo.test.ts).
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

  return {
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
        committed(owner, { kind: "CREATED", id: task.id, task })
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
        // A change to nothing is still an update, announced as PostgreSQL's trigger announces it.
        const unchanged = changed.title === task.title && changed.description === task.description &&
          changed.status === task.status
        const updated = unchanged ? task : { ...changed, updated_at: nextUpdatedAt(task.updated_at, Date.now()) }
        tasks.set(id, { owner, task: updated })
        committed(owner, { kind: "UPDATED", id, task: updated })
        return updated
      }),
    remove: (owner, id, ifVersion) =>
      atVersion(owner, id, ifVersion, () => {
        tasks.delete(id)
        committed(owner, { kind: "DELETED", id, task: null })
      }),
    ready: Effect.void
  }
}
