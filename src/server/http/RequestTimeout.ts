import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { RequestDeadline } from "../../api/RequestDeadline.ts"
import { exchangeOf } from "../observability/Exchange.ts"

/** How long a request may take before it is answered with a 503. */
export const RequestTimeout = Context.Reference<Duration.Duration>("task-api/server/RequestTimeout", {
  defaultValue: () => Duration.seconds(5)
})

/** Marks the interruption of a request whose deadline passed, with that deadline. */
class DeadlinePassed extends Context.Service<DeadlinePassed, Duration.Duration>()("task-api/server/DeadlinePassed") {}

/**
 * One deadline per request, however its time is spent: a database that stops
 * answering without closing its connections (a dropped network) costs each
 * request at most this long, then a 503. It runs inside the route, where the
 * router makes a request interruptible, so a shutdown still cuts a stuck
 * request short.
 *
 * A timer interrupts the request's own fiber, and HttpEdge, outside the
 * interruptible route, answers the 503 and clears the timer with whatever
 * answer comes first (the request's Exchange holds it). Effect.timeout would
 * race the request in a forked fiber against a sleeping one: two fibers per
 * request, 14 µs of a 112 µs GET (measured); clearing it in an ensuring step
 * of its own cost another 2% of a GET's instructions.
 */
export const layer = Layer.effect(
  RequestDeadline,
  Effect.map(RequestTimeout, (timeout) => {
    const annotation = Context.make(DeadlinePassed, timeout)
    const ms = Duration.toMillis(timeout)
    const interrupt = (fiber: Fiber.Fiber<unknown, unknown>) => fiber.interruptUnsafe(fiber.id, annotation)
    return RequestDeadline.of((httpEffect) =>
      Effect.withFiber((fiber) => {
        const timer = setTimeout(interrupt, ms, fiber)
        const exchange = exchangeOf(fiber)
        if (exchange !== undefined) {
          exchange.deadline = timer
          return httpEffect
        }
        // Routes served without the edge (some tests build them alone).
        return Effect.ensuring(httpEffect, Effect.sync(() => clearTimeout(timer)))
      })
    )
  })
)

/** The deadline, when `cause` is a request cut short by it. */
export const deadlineOf = (cause: Cause.Cause<unknown>): Duration.Duration | undefined => {
  for (const reason of cause.reasons) {
    if (reason._tag === "Interrupt" && reason.annotations.has(DeadlinePassed.key)) {
      return reason.annotations.get(DeadlinePassed.key) as Duration.Duration
    }
  }
  return undefined
}
