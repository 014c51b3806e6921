import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { constVoid } from "effect/Function"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { getHeapStatistics } from "node:v8"

const registry = Context.empty()
const nothing = { update: constVoid, modify: constVoid }

/** A gauge whose value is read when the metrics are. */
const readGauge = (name: string, description: string, read: () => number) =>
  Metric.registerUnsafe(Metric.gauge(name, { description }), registry, {
    ...nothing,
    get: () => ({ value: read() })
  })

/** A counter whose total is read when the metrics are. */
const readCounter = (name: string, description: string, read: () => number) =>
  Metric.registerUnsafe(Metric.counter(name, { description, incremental: true }), registry, {
    ...nothing,
    get: () => ({ count: read(), incremental: true })
  })

// How often the event-loop delay window restarts: the figures describe the
// last full window, as prom-client's describe the time since the last scrape.
const delayWindowMs = 10_000
const gcBuckets = [0.001, 0.01, 0.1, 1, 2, 5]

/**
 * The process's own figures, under the names Node users know from
 * prom-client's default metrics: CPU seconds, resident memory, heap, event
 * loop delay and garbage collection. Read when scraped (or exported), so they
 * cost nothing per request.
 */
export const registerProcessMetrics = Effect.acquireRelease(
  Effect.sync(() => {
    const startSeconds = Math.round(Date.now() / 1000 - process.uptime())
    const registrations = [
      readCounter("process_cpu_user_seconds_total", "User CPU time spent in seconds.", () => process.cpuUsage().user / 1e6),
      readCounter(
        "process_cpu_system_seconds_total",
        "System CPU time spent in seconds.",
        () => process.cpuUsage().system / 1e6
      ),
      readCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", () => {
        const { system, user } = process.cpuUsage()
        return (user + system) / 1e6
      }),
      readGauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => process.memoryUsage.rss()),
      readGauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", () => startSeconds),
      readGauge("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.", () => getHeapStatistics().total_heap_size),
      readGauge("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.", () => getHeapStatistics().used_heap_size),
      readGauge("nodejs_external_memory_bytes", "Node.js external memory size in bytes.", () => process.memoryUsage().external)
    ]

    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    // The last full window's figures, by name: min, max, mean, p50, p90, p99.
    let window = new Map<string, number>()
    const rollWindow = () => {
      const toSeconds = (nanoseconds: number) => Number.isFinite(nanoseconds) ? nanoseconds / 1e9 : 0
      window = new Map([
        ["min", toSeconds(delay.min)],
        ["max", toSeconds(delay.max)],
        ["mean", toSeconds(delay.mean)],
        ["p50", toSeconds(delay.percentile(50))],
        ["p90", toSeconds(delay.percentile(90))],
        ["p99", toSeconds(delay.percentile(99))]
      ])
      delay.reset()
    }
    const timer = setInterval(rollWindow, delayWindowMs)
    timer.unref()
    for (const figure of ["min", "max", "mean", "p50", "p90", "p99"]) {
      registrations.push(readGauge(
        `nodejs_eventloop_lag_${figure}_seconds`,
        `The ${figure} of the event loop delay in seconds, over the last ${delayWindowMs / 1000} s.`,
        () => window.get(figure) ?? 0
      ))
    }

    const gcDurations = new Map<string, Metric.Histogram<number>>()
    const gcKinds: Record<number, string> = { 1: "minor", 2: "major", 4: "incremental", 8: "weakcb" }
    const gc = new PerformanceObserver((entries) => {
      for (const entry of entries.getEntries()) {
        const kind = gcKinds[((entry as { detail?: { kind?: number } }).detail)?.kind ?? 0] ?? "other"
        let histogram = gcDurations.get(kind)
        if (histogram === undefined) {
          histogram = Metric.histogram("nodejs_gc_duration_seconds", {
            description: "Garbage collection duration by kind, one of minor, major, incremental or weakcb.",
            boundaries: gcBuckets,
            attributes: { kind }
          })
          gcDurations.set(kind, histogram)
        }
        histogram.updateUnsafe(entry.duration / 1000, registry)
      }
    })
    gc.observe({ entryTypes: ["gc"] })

    return () => {
      clearInterval(timer)
      delay.disable()
      gc.disconnect()
      for (const registration of registrations) registration.remove()
    }
  }),
  (unregister) => Effect.sync(unregister)
)
