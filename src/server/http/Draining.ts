import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { setReady } from "../observability/Metrics.ts"

/** Whether the instance is leaving: from SIGTERM on, /ready answers 503 so balancers stop sending to it. */
export interface DrainState {
  draining: boolean
  /** Run when the server stops serving, before it closes: what would hold it open (a subscription's stream) ends. */
  readonly leaving: Set<() => void>
}

/** Never draining: what the routes see when nothing shuts them down (tests that build the routes alone). */
export const Draining = Context.Reference<DrainState>("task-api/server/http/Draining", {
  defaultValue: () => ({ draining: false, leaving: new Set() })
})

/** The state the routes and the shutdown share, made fresh for one service. */
export const layerState = Layer.sync(Draining, (): DrainState => ({ draining: false, leaving: new Set() }))

/**
 * Leaving a balancer cleanly. On SIGTERM (the layer's release) /ready
 * answers 503 at once and the instance keeps serving for `delay`, so
 * balancers and endpoint controllers see it go before it stops accepting;
 * only then does the HTTP server close (see NodeServer). Build it after the
 * server, so that it is released before it. A Kubernetes preStop sleep would
 * do the waiting outside the process, where /ready cannot tell.
 */
export const layerOnShutdown = (options: { readonly delay: Duration.Duration; readonly timeout: Duration.Duration }) =>
  Layer.effectDiscard(Effect.flatMap(Draining, (state) =>
    Effect.addFinalizer(() =>
      Effect.gen(function*() {
        state.draining = true
        setReady("shutdown", false)
        yield* Effect.logInfo(
          `Shutting down: /ready answers 503 from now; serving ${Duration.format(options.delay)} more, ` +
            `then closing, with up to ${Duration.format(options.timeout)} for requests in flight`
        )
        yield* Effect.sleep(options.delay)
        for (const leave of state.leaving) leave()
      })
    )))
