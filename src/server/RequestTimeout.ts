import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { RequestDeadline } from "../api/RequestDeadline.ts"
import { ServiceUnavailable } from "../domain/TaskErrors.ts"

/** How long a request may take before it is answered with a 503. */
export const RequestTimeout = Context.Reference<Duration.Duration>("task-api/server/RequestTimeout", {
  defaultValue: () => Duration.seconds(5)
})

/**
 * One deadline per request, however its time is spent: a database that stops
 * answering without closing its connections (a dropped network) costs each
 * request at most this long, then a 503. It runs inside the route, where the
 * router makes a request interruptible, so a shutdown still cuts a stuck
 * request short.
 */
export const layer = Layer.succeed(RequestDeadline, (httpEffect) =>
  Effect.flatMap(RequestTimeout, (timeout) =>
    Effect.timeoutOrElse(httpEffect, {
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new ServiceUnavailable({ detail: `The request took longer than ${Duration.format(timeout)}; try again shortly.` })
        )
    })))
