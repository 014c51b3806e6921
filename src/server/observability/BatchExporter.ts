import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import type * as Scope from "effect/Scope"
import { telemetryDropped } from "./Metrics.ts"
import { makeOtlpPost, type OtlpBody } from "./OtlpPost.ts"
import type { SignalExport, TelemetrySettings } from "./TelemetryConfig.ts"

/** At most one warning about dropped telemetry this often, per signal. */
const warnEveryMs = 10_000

export interface BatchExporter<A> {
  /** Queues an item for export; never waits. When the queue is full the item is dropped and counted. */
  readonly push: (item: A) => void
}

/**
 * The OpenTelemetry batch processor, bounded: items wait in a queue of
 * `maxQueueSize`, go out in batches of `maxExportBatchSize` every
 * `scheduleDelayMs` (or as soon as a batch is full), one request at a time,
 * each cut off at `exportTimeoutMs`. A collector that is slow, down or
 * refusing costs the service a full queue and nothing more: requests never
 * wait for telemetry, and what cannot be sent is dropped, counted in
 * `task_api_telemetry_dropped_total` and logged at most every 10 s.
 */
export const makeBatchExporter = <A>(options: {
  /** What the items are, for the log: "spans", "log records". */
  readonly label: "spans" | "log records"
  readonly target: SignalExport
  readonly batch: TelemetrySettings["batch"]
  readonly encode: (items: ReadonlyArray<A>) => OtlpBody
}): Effect.Effect<BatchExporter<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { exportTimeoutMs, maxExportBatchSize, maxQueueSize, scheduleDelayMs } = options.batch
    const post = makeOtlpPost(options.target, exportTimeoutMs)
    const dropped = telemetryDropped(options.label)
    const batchFull = yield* Latch.make(false)
    let queue: Array<A> = []
    let droppedSinceWarning = 0
    let lastReason = ""
    let warnedAt = 0

    const drop = (count: number, reason: string) => {
      droppedSinceWarning += count
      lastReason = reason
      dropped(count)
    }

    const warnOfDrops = Effect.suspend(() => {
      if (droppedSinceWarning === 0 || Date.now() - warnedAt < warnEveryMs) return Effect.void
      const line = `Telemetry: dropped ${droppedSinceWarning} ${options.label} for ${options.target.url}: ${lastReason}`
      droppedSinceWarning = 0
      warnedAt = Date.now()
      return Effect.logWarning(line)
    })

    const send = (items: ReadonlyArray<A>) =>
      Effect.suspend(() => post(options.encode(items))).pipe(
        Effect.catchCause((cause) => {
          // Whatever goes wrong loses this batch, never the exporter.
          const reason = Cause.findErrorOption(cause)
          return Effect.sync(() =>
            drop(items.length, reason._tag === "Some" ? `the collector gave ${reason.value}` : `the export failed (${Cause.pretty(cause)})`)
          )
        })
      )

    // Under steady load the queue refills while a batch is out, so this may
    // run for as long as the load lasts: drops are told between batches.
    const exportQueued = Effect.suspend(function loop(): Effect.Effect<void> {
      if (queue.length === 0) return Effect.void
      const items = queue.slice(0, maxExportBatchSize)
      queue = queue.slice(items.length)
      return send(items).pipe(Effect.andThen(warnOfDrops), Effect.andThen(loop))
    })

    // One fiber sends, one batch at a time; it never holds more than a batch.
    yield* Effect.race(Effect.sleep(Duration.millis(scheduleDelayMs)), batchFull.await).pipe(
      Effect.andThen(batchFull.close),
      Effect.andThen(exportQueued),
      Effect.forever,
      // The exporter's own requests are not traced: their spans would be exported in turn.
      Effect.withTracerEnabled(false),
      Effect.forkScoped
    )
    // What is queued at shutdown goes out, within the export timeout.
    yield* Effect.addFinalizer(() =>
      exportQueued.pipe(
        Effect.timeoutOption(Duration.millis(exportTimeoutMs)),
        Effect.andThen(warnOfDrops),
        Effect.withTracerEnabled(false)
      )
    )

    return {
      push: (item) => {
        if (queue.length >= maxQueueSize) return drop(1, "the queue is full")
        queue.push(item)
        if (queue.length >= maxExportBatchSize) batchFull.openUnsafe()
      }
    }
  })
