import type { Task } from "../../domain/Task.ts"
import type { TaskEvent } from "./TaskEvents.ts"

// How task events travel between instances: as NOTIFY payloads on one
// channel, several events to a payload. PostgreSQL takes a lock for the
// whole commit of every transaction that notifies, WAL flush included, so
// notifying transactions commit one at a time: a trigger that notified in
// each write cut the database's writes to a third (pgbench, 16 clients:
// UPDATE 9,239 -> 3,008 tps, INSERT 12,551 -> 3,836). Each instance
// instead sends what its writes committed in batches, one statement at a
// time: under load a batch holds every event of the statement before.

/** One event as it travels: who it is for, which instance sent it, and the task when it fits. */
export interface Announcement {
  readonly from: string
  readonly owner: string
  readonly kind: TaskEvent["kind"]
  readonly id: string
  /** Left out when it would not fit a notification: the listener reads it back. */
  readonly task?: Task | null
}

// PostgreSQL refuses payloads of 8000 bytes or more.
const payloadLimit = 7_900

/** The announcements as few payloads as fit: JSON arrays of at most `payloadLimit` bytes. */
export const toPayloads = (announcements: ReadonlyArray<Announcement>): Array<string> => {
  const payloads: Array<string> = []
  let batch: Array<string> = []
  let bytes = 2
  for (const { from, owner, kind, id, task } of announcements) {
    // `from` first, for `sentBy`.
    let json = JSON.stringify({ from, owner, kind, id, task })
    if (Buffer.byteLength(json) + 2 > payloadLimit) json = JSON.stringify({ from, owner, kind, id })
    const size = Buffer.byteLength(json) + 1
    if (batch.length > 0 && bytes + size > payloadLimit) {
      payloads.push(`[${batch.join(",")}]`)
      batch = []
      bytes = 2
    }
    batch.push(json)
    bytes += size
  }
  if (batch.length > 0) payloads.push(`[${batch.join(",")}]`)
  return payloads
}

/** The announcements of one payload; none if it is not ours (the start-up probe). */
export const fromPayload = (payload: string): ReadonlyArray<Announcement> =>
  payload.startsWith("[") ? JSON.parse(payload) as ReadonlyArray<Announcement> : []

/**
 * Whether `instance` sent the payload, told without parsing it: an instance
 * hears its own notifications too, and a batch holds one instance's events,
 * whose first one names it first.
 */
export const sentBy = (payload: string, instance: string): boolean => payload.startsWith(`[{"from":"${instance}"`)
