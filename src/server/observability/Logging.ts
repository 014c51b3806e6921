import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import { entriesToAttributes, type KeyValue } from "effect/observability/OtlpResource"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import { type Correlation, exchangeOf } from "./Exchange.ts"
import { ServiceSpan } from "./Tracing.ts"

/**
 * What ties a log line to its request: the request id, the trace, and the
 * span the line was written in when the trace is recorded (else the
 * request's own span id).
 */
export const correlationOf = (fiber: Fiber.Fiber<unknown, unknown>): Correlation | {} => {
  const correlation = exchangeOf(fiber)?.correlation
  if (correlation === undefined) return {}
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  return span instanceof ServiceSpan && span.sampled ? { ...correlation, span_id: span.spanId } : correlation
}

const levels: Record<LogLevel.LogLevel, string> = {
  All: "ALL",
  Trace: "TRACE",
  Debug: "DEBUG",
  Info: "INFO",
  Warn: "WARN",
  Error: "ERROR",
  Fatal: "FATAL",
  None: "NONE"
}

const show = (value: unknown): string =>
  typeof value === "string"
    ? value
    : Cause.isCause(value)
    ? Cause.pretty(value)
    : value instanceof Error
    ? value.message
    : JSON.stringify(value) ?? String(value)

/** A log call's message (one value or several) as one line of text. */
const messageOf = (message: unknown) => Array.isArray(message) ? message.map(show).join(" ") : show(message)

/**
 * One JSON object per line, and only what someone reads:
 * `{"timestamp","level","message"}`, then `request_id`, `trace_id` and
 * `span_id` inside a request, `cause` when there is one, and the
 * annotations, flattened, when a call sets any.
 */
export const jsonLogger = Logger.make((options) => {
  const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
  const line: Record<string, unknown> = {
    timestamp: options.date.toISOString(),
    level: levels[options.logLevel],
    message: messageOf(options.message),
    ...correlationOf(options.fiber),
    ...annotations
  }
  if (options.cause.reasons.length > 0) line.cause = Cause.pretty(options.cause)
  process.stdout.write(JSON.stringify(line) + "\n")
})

/** An OTLP log record, in the shape Effect's serialisers (JSON and protobuf) take. */
export interface OtlpLogRecord {
  readonly timeUnixNano: string
  readonly observedTimeUnixNano: string
  readonly severityNumber: number
  readonly severityText: string
  readonly body: { readonly stringValue: string }
  readonly attributes: Array<KeyValue>
  readonly droppedAttributesCount: number
  readonly traceId?: string
  readonly spanId?: string
}

const severities: Partial<Record<LogLevel.LogLevel, number>> = { Trace: 1, Debug: 5, Info: 9, Warn: 13, Error: 17, Fatal: 21 }

/** A log record for OTLP, its attributes the request id and the call's annotations. */
export const otlpLogRecord = (options: {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly date: Date
  readonly correlation: Partial<Correlation>
  readonly attributes?: Record<string, unknown>
}): OtlpLogRecord => {
  const time = String(BigInt(options.date.getTime()) * 1_000_000n)
  const { request_id, span_id, trace_id } = options.correlation
  return {
    timeUnixNano: time,
    observedTimeUnixNano: time,
    severityNumber: severities[options.level] ?? 0,
    severityText: levels[options.level],
    body: { stringValue: options.message },
    attributes: entriesToAttributes(Object.entries({
      ...options.attributes,
      ...(request_id === undefined ? {} : { "http.request.id": request_id })
    })),
    droppedAttributesCount: 0,
    ...(trace_id === undefined ? {} : { traceId: trace_id, spanId: span_id })
  }
}

/** Log lines over OTLP as well: each one becomes a record pushed to `push`. */
export const otlpLogger = (push: (record: OtlpLogRecord) => void) =>
  Logger.make((options) => {
    const cause = options.cause.reasons.length > 0 ? { "exception.message": Cause.pretty(options.cause) } : {}
    push(otlpLogRecord({
      level: options.logLevel,
      message: messageOf(options.message),
      date: options.date,
      correlation: correlationOf(options.fiber),
      attributes: { ...options.fiber.getRef(References.CurrentLogAnnotations), ...cause }
    }))
  })
