import { createHash } from "node:crypto"
import type { CreateTask, TaskId } from "../../domain/Task.ts"
import { IdempotencyKeyReused, PreconditionFailed, TaskNotFound } from "../../domain/TaskErrors.ts"

// What either repository answers, word for word the same: clients cannot
// tell which one serves them.

export const notFound = (id: TaskId) => new TaskNotFound({ detail: `No task has the id ${id}.` })

export const changedSince = (id: TaskId) =>
  new PreconditionFailed({ detail: `Task ${id} has changed since the version named in If-Match.` })

export const keyReused = new IdempotencyKeyReused({
  detail: "This Idempotency-Key was used for a different request; use a new key for a new task."
})

/** How long an idempotency key holds its task. */
export const idempotencyWindowMs = 24 * 60 * 60 * 1000

/** What a create asks for, hashed: the decoded body, defaults filled in. */
export const fingerprintOf = (input: CreateTask) =>
  createHash("sha256")
    .update(JSON.stringify([input.title, input.description ?? null, input.status ?? "pending"]))
    .digest("base64url")
