// Observability: traces, metrics and correlated logs, configured the way every OpenTelemetry SDK is.
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpMetrics from "effect/observability/OtlpMetrics"
import * as OtlpResource from "effect/observability/OtlpResource"
import type { Resource } from "effect/observability/OtlpResource"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import { readFileSync } from "node:fs"
import { makeBatchExporter } from "./BatchExporter.ts"
import { encodeLogRecords, encodeSpans } from "./OtlpProtobuf.ts"
import type { OtlpBody } from "./OtlpPost.ts"
import { jsonLogger, type OtlpLogRecord, otlpLogger } from "./Logging.ts"
import { registerProcessMetrics } from "./ProcessMetrics.ts"
import { makeSampler } from "./Sampler.ts"
import type { Protocol, TelemetrySettings } from "./TelemetryConfig.ts"
import { makeTracer, type OtlpSpan, type ServiceTracer } from "./Tracing.ts"

/** What serving a request records, decided once at start-up. */
export interface RequestTelemetry {
  /** Request metrics (duration, active requests): on unless METRICS=false and no OTLP metrics export. */
  readonly metrics: boolean
  /** Whether traces are exported: then each request decides whether its own is recorded. */
  readonly tracing: boolean
  /** Where a request's trace begins, while traces are exported. */
  readonly beginRequest: ServiceTracer["beginRequest"] | undefined
}

export const RequestTelemetry = Context.Reference<RequestTelemetry>("task-api/server/observability/RequestTelemetry", {
  defaultValue: () => ({ metrics: false, tracing: false, beginRequest: undefined })
})

/** Where log records also go when OTEL_LOGS_EXPORTER=otlp; the access log sends its lines there too. */
export const LogExport = Context.Reference<((record: OtlpLogRecord) => void) | undefined>(
  "task-api/server/observability/LogExport",
  { defaultValue: () => undefined }
)

const serviceVersion: string = JSON.parse(
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- the package's own package.json
  readFileSync(new URL("../../../package.json", import.meta.url), "utf8")
).version

const serialization = (protocol: Protocol) =>
  protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf

const scope = { name: "task-api", version: serviceVersion }

/**
 * Request bodies for the span and log exporters: JSON by one JSON.stringify
 * (Effect's serialiser stringifies twice whenever the text holds "null"),
 * protobuf by the service's own encoder (see OtlpProtobuf).
 */
const bodies = (protocol: Protocol, resource: Resource) =>
  protocol === "http/json"
    ? {
      spans: (spans: ReadonlyArray<OtlpSpan>): OtlpBody => ({
        bytes: JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] }),
        contentType: "application/json"
      }),
      logs: (logRecords: ReadonlyArray<OtlpLogRecord>): OtlpBody => ({
        bytes: JSON.stringify({ resourceLogs: [{ resource, scopeLogs: [{ scope, logRecords }] }] }),
        contentType: "application/json"
      })
    }
    : {
      spans: (spans: ReadonlyArray<OtlpSpan>): OtlpBody => ({
        bytes: encodeSpans(resource, scope, spans),
        contentType: "application/x-protobuf"
      }),
      logs: (records: ReadonlyArray<OtlpLogRecord>): OtlpBody => ({
        bytes: encodeLogRecords(resource, scope, records),
        contentType: "application/x-protobuf"
      })
    }

/**
 * Telemetry as the settings ask: with no OTEL_* variable set, no span is
 * made and nothing is exported (the tracer stays off, as before); metrics
 * are recorded for `/metrics` unless METRICS=false. Exporters never hold up
 * a request: see BatchExporter.
 */
export const layer = (options: {
  readonly settings: TelemetrySettings
  /** Whether `/metrics` is served (METRICS), on the main port or its own. */
  readonly metricsServed: boolean
  readonly logFormat: "json" | "pretty"
}) => {
  const { settings } = options
  const resource = OtlpResource.make({
    serviceName: settings.serviceName,
    serviceVersion,
    attributes: settings.resourceAttributes
  })
  const metricsOn = options.metricsServed || settings.metrics !== undefined
  const processMetrics = metricsOn ? Layer.effectDiscard(registerProcessMetrics) : Layer.empty
  const resourceOptions = { serviceName: settings.serviceName, serviceVersion, attributes: settings.resourceAttributes }

  // The service runs with the tracer off even while traces are exported: a
  // request whose trace is recorded turns it on for itself (see
  // ServerSpans), so one that is not costs what it cost without tracing.
  const tracing = settings.traces === undefined
    ? Layer.succeed(RequestTelemetry, { metrics: metricsOn, tracing: false, beginRequest: undefined })
    : Layer.effectContext(
      Effect.gen(function*() {
        const target = settings.traces!
        const exporter = yield* makeBatchExporter<OtlpSpan>({
          label: "spans",
          target,
          batch: settings.batch,
          encode: bodies(target.protocol, resource).spans
        })
        const { beginRequest, tracer } = makeTracer(
          makeSampler(settings.sampler.kind, settings.sampler.ratio),
          exporter.push
        )
        return Context.make(Tracer.Tracer, tracer).pipe(
          Context.add(RequestTelemetry, { metrics: metricsOn, tracing: true, beginRequest })
        )
      })
    )

  const logExport = settings.logs === undefined
    ? Layer.empty
    : Layer.effect(
      LogExport,
      Effect.gen(function*() {
        const target = settings.logs!
        const exporter = yield* makeBatchExporter<OtlpLogRecord>({
          label: "log records",
          target,
          batch: settings.batch,
          encode: bodies(target.protocol, resource).logs
        })
        return exporter.push
      })
    )

  // Effect's exporter reads the metric registry at each interval: nothing
  // queues, and each request is cut off at the export timeout.
  const metricsExport = settings.metrics === undefined
    ? Layer.empty
    : Layer.effectDiscard(
      OtlpMetrics.make({
        url: settings.metrics.url,
        headers: settings.metrics.headers,
        resource: resourceOptions,
        exportInterval: Duration.millis(settings.metricExportIntervalMs),
        shutdownTimeout: Duration.millis(settings.batch.exportTimeoutMs)
      }).pipe(
        Effect.provide(serialization(settings.metrics.protocol)),
        Effect.provide(Layer.effect(
          HttpClient.HttpClient,
          Effect.map(
            HttpClient.HttpClient,
            HttpClient.transform((response, request) =>
              Effect.timeoutOrElse(response, {
                duration: Duration.millis(settings.batch.exportTimeoutMs),
                orElse: () =>
                  Effect.fail(
                    new HttpClientError.HttpClientError({
                      reason: new HttpClientError.TransportError({ request, description: "the collector did not answer" })
                    })
                  )
              })
            )
          )
        ))
      )
    ).pipe(Layer.provide(OtlpExporter.layerFlusher))


  const stdout = options.logFormat === "json" ? jsonLogger : Logger.consolePretty()
  const logging = Layer.unwrap(Effect.map(LogExport, (push) =>
    Logger.layer([stdout, ...(push === undefined ? [] : [otlpLogger(push)])])))

  // The exporters' own fibers log to stdout alone: a log exporter that
  // cannot reach its collector must not be told so through itself.
  const exports = Layer.mergeAll(
    tracing,
    Layer.succeed(References.TracerEnabled, false),
    logExport,
    metricsExport,
    processMetrics
  ).pipe(Layer.provide([FetchHttpClient.layer, Logger.layer([stdout])]))

  return logging.pipe(Layer.provideMerge(exports))
}

/** Settings that were set but cannot be honoured, said once at start-up. */
export const warnAboutSettings = (settings: TelemetrySettings) =>
  Effect.forEach(settings.warnings, (warning) => Effect.logWarning(`Telemetry: ${warning}`), { discard: true })
