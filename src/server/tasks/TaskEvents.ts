import * as PgClient from "@effect/sql-pg/PgClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import type { Task } from "../../domain/Task.ts"
import { AppConfig } from "../AppConfig.ts"
import { DatabaseRoute } from "../database/Database.ts"
import { type Announcement, fromPayload, sentBy, toPayloads } from "./TaskAnnouncements.ts"
import { taskColumns } from "./TaskColumns.ts"

/** A change to one of an owner's tasks, once committed. `task` is null for a deletion. */
export interface TaskEvent {
  readonly kind: "CREATED" | "UPDATED" | "DELETED"
  readonly id: string
  readonly task: Task | null
}

/** A subscriber fell so far behind its events that its buffer is full: it is cut off. */
export class SubscriberTooSlow extends Data.TaggedError("SubscriberTooSlow") {}

/** Events a subscriber may have waiting before it is cut off: a slow reader must not grow memory. */
export const subscriberBuffer = 64

// The channel every instance notifies and listens on.
const channel = "task_events"
const verifyTimeout = Duration.seconds(2)

interface Subscriber {
  readonly owner: string
  /** Closes the subscriber's connection, when its buffer is full. */
  readonly cut: () => void
  readonly queue: Queue.Queue<TaskEvent, SubscriberTooSlow | Cause.Done>
}

/**
 * Every open subscription of this instance, by owner. Delivery is a
 * synchronous offer to each of the owner's subscribers: nothing waits on
 * a slow one; the one whose buffer is full is ended instead.
 */
const makeHub = () => {
  const byOwner = new Map<string, Set<Subscriber>>()
  const deliver = (owner: string, event: TaskEvent) => {
    const subscribers = byOwner.get(owner)
    if (subscribers === undefined) return
    for (const subscriber of subscribers) {
      if (!Queue.offerUnsafe(subscriber.queue, event)) {
        remove(subscriber)
        Queue.failCauseUnsafe(subscriber.queue, Cause.fail(new SubscriberTooSlow()))
        // Its stream may be waiting on a connection that no longer drains: only closing it frees both.
        subscriber.cut()
      }
    }
  }
  const add = (subscriber: Subscriber) => {
    let subscribers = byOwner.get(subscriber.owner)
    if (subscribers === undefined) byOwner.set(subscriber.owner, subscribers = new Set())
    subscribers.add(subscriber)
  }
  const remove = (subscriber: Subscriber) => {
    const subscribers = byOwner.get(subscriber.owner)
    if (subscribers === undefined || !subscribers.delete(subscriber)) return
    if (subscribers.size === 0) byOwner.delete(subscriber.owner)
  }
  return { deliver, add, remove }
}

/**
 * Task changes, as they are committed, to the subscribers of their owner on
 * this instance, whichever instance made them.
 */
export class TaskEvents extends Context.Service<TaskEvents, {
  /**
   * Told by the repository once a write is committed: this instance's
   * subscribers hear of it at once, and, over LISTEN/NOTIFY, every other
   * instance's soon after (see TaskAnnouncements).
   */
  readonly committed: (owner: string, event: TaskEvent) => void
  /**
   * Subscribes at once, to the owner's events from now on: the stream has
   * every one committed after this effect, until it is closed. When the
   * subscriber falls `subscriberBuffer` events behind, the stream fails with
   * SubscriberTooSlow and `cut` is called: whoever reads it is not reading.
   */
  readonly subscribe: (owner: string, cut: () => void) => Effect.Effect<Stream.Stream<TaskEvent, SubscriberTooSlow>>
}>()("task-api/server/TaskEvents") {
  /**
   * As the service runs: across instances when it can LISTEN (on
   * DATABASE_LISTEN_URL, or on DATABASE_URL when nothing stands between);
   * within this process on the embedded database, whose one connection a
   * LISTEN would take, and behind a pooler with no DATABASE_LISTEN_URL.
   */
  static readonly layer = Layer.unwrap(Effect.gen(function*() {
    const { databaseListenUrl } = yield* AppConfig
    const route = yield* DatabaseRoute
    if (databaseListenUrl !== undefined) return TaskEvents.layerListen(databaseListenUrl)
    if (route.embedded) return TaskEvents.layerLocal
    if (route.direct) return TaskEvents.layerListen()
    yield* Effect.logWarning(
      "Subscriptions hear only the changes this instance makes: PostgreSQL is reached through a pooler, " +
        "where LISTEN cannot keep its session; set DATABASE_LISTEN_URL to reach it directly"
    )
    return TaskEvents.layerLocal
  }))

  /** Within this process only: the in-memory repository, the embedded database, one instance. */
  static readonly layerLocal = Layer.sync(TaskEvents, () => {
    const hub = makeHub()
    return make(hub, hub.deliver)
  })

  /**
   * Across instances, through PostgreSQL: each instance NOTIFYs what its
   * writes committed on a channel, in batches, and LISTENs on one connection
   * of its own, to `listenUrl` when given (LISTEN needs a session: PgBouncer
   * in transaction pooling would lose it), else on the service's pool.
   */
  static readonly layerListen = (listenUrl?: PgClient.PgClientConfig["url"]) =>
    Layer.effect(
      TaskEvents,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const layerScope = yield* Effect.scope
        const client = listenUrl === undefined
          ? Effect.succeed(yield* PgClient.PgClient)
          : Effect.provide(
            PgClient.make({ url: listenUrl, maxConnections: 1, applicationName: "task-api-events" }),
            Reactivity.layer
          )
        // A LISTEN of its own scope, so that one that failed can be let go and made again.
        const listen = Effect.gen(function*() {
          const scope = yield* Scope.fork(layerScope)
          const notifications = yield* client.pipe(
            Effect.flatMap((client) => client.listen(channel)),
            Scope.provide(scope),
            Effect.onError(() => Scope.close(scope, Exit.void))
          )
          return { notifications, scope }
        })
        // Heard at once, or never: a notification sent through the pool must
        // come back on the LISTEN. Through PgBouncer in transaction pooling,
        // or to a server that gives one connection at a time, it does not.
        const probe = `probe:${randomUUID()}`
        const verified = yield* listen.pipe(
          Effect.tap(({ notifications, scope }) =>
            Effect.andThen(
              sql`SELECT pg_notify(${channel}, ${probe})`,
              Effect.repeat(Queue.take(notifications), { until: (notification) => notification.payload === probe })
            ).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
          ),
          Effect.timeout(verifyTimeout),
          Effect.tapCause((cause) => Effect.logDebug("Task events: LISTEN failed its check", cause)),
          Effect.option
        )
        if (Option.isNone(verified)) {
          yield* Effect.logWarning(
            "Subscriptions hear only the changes this instance makes: a notification sent to PostgreSQL did not " +
              "come back on LISTEN within " + Duration.format(verifyTimeout) + "; set DATABASE_LISTEN_URL to a " +
              "connection that keeps its session (PostgreSQL itself, or PgBouncer in session pooling)"
          )
          const local = makeHub()
          return make(local, local.deliver)
        }

        const hub = makeHub()
        const instance = randomUUID()
        // What other instances committed; this one's own went to its subscribers at
        // once, and comes back here too: dropped unread. Parsed, with an Effect step
        // an event, it was 30k of the 100k instructions the fan-out added to a PATCH.
        const heard = (payload: string) =>
          sentBy(payload, instance) ? Effect.void : Effect.forEach(fromPayload(payload), ({ id, kind, owner, task }) =>
            Effect.gen(function*() {
              // A task too large for a notification is read back.
              const current = task !== undefined || kind === "DELETED"
                ? task ?? null
                : (yield* sql<Task>`SELECT ${sql.literal(taskColumns)} FROM tasks WHERE id = ${id}`)[0]
              if (current !== undefined) hub.deliver(owner, { kind, id, task: current })
            }), { discard: true })

        // What this instance committed, sent in batches: one statement at a
        // time, each taking every event committed while the one before ran.
        const unsent: Array<Announcement> = []
        let sending = false
        const send = Effect.gen(function*() {
          while (unsent.length > 0) {
            for (const payload of toPayloads(unsent.splice(0))) yield* sql`SELECT pg_notify(${channel}, ${payload})`
          }
        }).pipe(
          Effect.catchCause((cause) => Effect.logWarning("Task events: changes could not be announced to other instances", cause)),
          Effect.ensuring(Effect.sync(() => {
            sending = false
          }))
        )
        const runFork = Effect.runForkWith(yield* Effect.context<never>())
        const committed = (owner: string, event: TaskEvent) => {
          hub.deliver(owner, event)
          unsent.push({ from: instance, owner, kind: event.kind, id: event.id, task: event.task })
          if (sending) return
          sending = true
          runFork(send)
        }
        // Until the LISTEN connection fails.
        const deliverAll = ({ notifications, scope }: Effect.Success<typeof listen>) =>
          Queue.take(notifications).pipe(
            Effect.flatMap(({ payload }) =>
              Effect.catchCause(heard(payload), (cause) => Effect.logWarning("Task events: an event was dropped", cause))
            ),
            Effect.forever,
            Effect.ensuring(Scope.close(scope, Exit.void))
          )
        // The connection lost, the changes made until it is back are missed: subscribers are not told (see the README).
        const listenAgain = Effect.sleep(Duration.seconds(1)).pipe(Effect.andThen(Effect.flatMap(listen, deliverAll)))
        const lost = (cause: Cause.Cause<unknown>) =>
          Effect.logWarning("Task events: the LISTEN connection failed; listening again", cause)
        yield* Effect.forkScoped(
          Effect.catchCause(deliverAll(verified.value), lost).pipe(
            Effect.andThen(Effect.forever(Effect.catchCause(listenAgain, lost)))
          )
        )
        yield* Effect.logInfo("Task events: listening for the changes every instance makes")
        return make(hub, committed)
      })
    )
}

const make = (hub: ReturnType<typeof makeHub>, committed: TaskEvents["Service"]["committed"]): TaskEvents["Service"] => ({
  committed,
  subscribe: (owner, cut) =>
    Effect.map(Queue.bounded<TaskEvent, SubscriberTooSlow | Cause.Done>(subscriberBuffer), (queue) => {
      const subscriber: Subscriber = { owner, cut, queue }
      hub.add(subscriber)
      return Stream.fromQueue(queue).pipe(Stream.ensuring(Effect.sync(() => hub.remove(subscriber))))
    })
})
