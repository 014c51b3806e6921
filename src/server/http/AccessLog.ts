import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { AppConfig } from "../AppConfig.ts"
import { otlpLogRecord } from "../observability/Logging.ts"
import type { Correlation } from "../observability/Exchange.ts"
import { LogExport } from "../observability/Telemetry.ts"

/** Logs one answered request: method, path, status, latency, the client's address, and which request (and trace) it was. */
export type Line = (
  method: string,
  path: string,
  status: number,
  ms: number,
  client: string | undefined,
  correlation: Partial<Correlation>
) => void

const flushEveryMs = 10

/**
 * JSON lines in the shape of the service's other log lines (see
 * observability/Logging.ts), gathered and written every 10 ms, and once more
 * when the service stops. Going through Effect's logger for every request
 * cost 15% of the throughput of GET by id (measured), and batching its
 * writes did not help: the cost is in building the entry. So the line is
 * written as text, with the timestamp's date and time formatted once a
 * second: stringifying an object per request was 5% of a GET's
 * instructions, this is half of that.
 */
const jsonLines = Effect.acquireRelease(
  Effect.sync(() => {
    let pending: Array<string> = []
    const flush = () => {
      if (pending.length === 0) return
      const text = pending.join("\n") + "\n"
      pending = []
      process.stdout.write(text)
    }
    const timer = setInterval(flush, flushEveryMs)
    timer.unref()
    let second = -1
    let secondIso = ""
    const line: Line = (method, path, status, ms, client, { request_id, span_id, trace_id }) => {
      const now = Date.now()
      if (Math.floor(now / 1000) !== second) {
        second = Math.floor(now / 1000)
        secondIso = new Date(second * 1000).toISOString().slice(0, 20)
      }
      const millis = String(now % 1000).padStart(3, "0")
      pending.push(
        `{"timestamp":"${secondIso}${millis}Z","level":"INFO",` +
          `"message":${JSON.stringify(`${method} ${path} ${status} ${ms}ms`)},` +
          `"method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"status":${status},"duration_ms":${ms}` +
          (client === undefined ? "" : `,"client_address":${JSON.stringify(client)}`) +
          (request_id === undefined ? "" : `,"request_id":${JSON.stringify(request_id)}`) +
          (trace_id === undefined ? "" : `,"trace_id":"${trace_id}","span_id":"${span_id}"`) +
          "}"
      )
    }
    return { line, stop: () => (clearInterval(timer), flush()) }
  }),
  ({ stop }) => Effect.sync(stop)
).pipe(Effect.map(({ line }) => line))

// On a terminal, performance matters less than reading: Effect's pretty logger.
const prettyLines = Effect.map(Effect.context<never>(), (context): Line => (method, path, status, ms, client, { request_id }) =>
  Effect.runForkWith(context)(
    Effect.logInfo([method, path, status, `${ms}ms`, client, request_id].filter((part) => part !== undefined).join(" "))
  ))

/** The same line, also over OTLP, when OTEL_LOGS_EXPORTER=otlp. */
const alsoExported = (line: Line | undefined, push: ((record: ReturnType<typeof otlpLogRecord>) => void) | undefined) =>
  line === undefined || push === undefined ? line : ((method, path, status, ms, client, correlation) => {
    line(method, path, status, ms, client, correlation)
    push(otlpLogRecord({
      level: "Info",
      message: `${method} ${path} ${status} ${ms}ms`,
      date: new Date(),
      correlation,
      attributes: {
        "http.request.method": method,
        "url.path": path,
        "http.response.status_code": status,
        duration_ms: ms,
        ...(client === undefined ? {} : { "client.address": client })
      }
    }))
  }) satisfies Line

/**
 * Where the access log goes: one line per request, written by HttpEdge once
 * the answer is known. Unset (as in tests that build the routes alone), or
 * below LOG_LEVEL=info, nothing is logged. It replaces HttpRouter's default
 * logger, whose log span and cause rendering cost a quarter of the
 * throughput of a simple GET.
 */
export const AccessLog = Context.Reference<Line | undefined>("task-api/server/AccessLog", {
  defaultValue: () => undefined
})

/** The access log's writer for these settings (and for LogExport, when log records also go over OTLP). */
export const layer = (config: Pick<AppConfig["Service"], "logFormat" | "logLevel">) =>
  Layer.effect(
    AccessLog,
    Effect.zipWith(
      config.logLevel === "warning" || config.logLevel === "error"
        ? Effect.succeed(undefined)
        : config.logFormat === "json"
        ? jsonLines
        : prettyLines,
      LogExport,
      alsoExported
    )
  )
