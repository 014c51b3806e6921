import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { setReady } from "../observability/Metrics.ts"
import type { Unavailability } from "./DatabaseFailure.ts"

/** At most one line per kind of failure this often, however many requests fail. */
const repeatEveryMs = 5_000

/**
 * Tells operators about a database outage without flooding the log: the first
 * failure of each kind at once, then one line per kind every 5 s while it
 * lasts (with how many failed meanwhile), and one line when the database
 * answers again. Once a failure is seen, `probe` runs every second until it
 * succeeds, so requests pay nothing to find out the outage is over.
 */
export const makeOutageLog = (probe: Effect.Effect<unknown, unknown>): Effect.Effect<
  (unavailability: Unavailability) => Effect.Effect<void>,
  never,
  Scope.Scope
> =>
  Effect.map(Effect.scope, (scope) => {
    const kinds = new Map<string, { loggedAt: number; unlogged: number }>()
    let startedAt: number | undefined
    let failures = 0

    const recovered = Effect.suspend(() => {
      const seconds = ((Date.now() - startedAt!) / 1000).toFixed(1)
      const line = `The database answers again, ${seconds} s after the first failure; ` +
        `${failures} request${failures === 1 ? "" : "s"} failed meanwhile`
      startedAt = undefined
      failures = 0
      kinds.clear()
      setReady("database", true)
      // At the outage's own level, so a log kept to warnings shows both its ends.
      return Effect.logWarning(line)
    })
    const watch = probe.pipe(
      Effect.timeout("2 seconds"),
      Effect.retry({ schedule: Schedule.spaced("1 second") }),
      Effect.andThen(recovered)
    )

    return (unavailability: Unavailability) =>
      Effect.suspend(() => {
        const now = Date.now()
        failures++
        const first = startedAt === undefined
        if (first) {
          startedAt = now
          setReady("database", false)
        }
        const kind = kinds.get(unavailability.kind)
        let log: Effect.Effect<void> = Effect.void
        if (kind === undefined || now - kind.loggedAt >= repeatEveryMs) {
          const unlogged = kind?.unlogged ?? 0
          kinds.set(unavailability.kind, { loggedAt: now, unlogged: 0 })
          log = Effect.logWarning(
            `${unavailability.description}; answering 503 while it lasts` +
              (unlogged > 0 ? ` (${unlogged} more such failure${unlogged === 1 ? "" : "s"} since the last line)` : "")
          )
        } else {
          kind.unlogged++
        }
        return first ? Effect.andThen(log, Effect.asVoid(Effect.forkIn(watch, scope))) : log
      })
  })
