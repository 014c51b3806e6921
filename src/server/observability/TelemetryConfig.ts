import * as Config from "effect/Config"
import * as Option from "effect/Option"

export type Signal = "traces" | "metrics" | "logs"
export type Protocol = "http/protobuf" | "http/json"

/** Where one signal goes: an OTLP/HTTP endpoint and the headers it wants. */
export interface SignalExport {
  readonly url: string
  readonly protocol: Protocol
  readonly headers: Readonly<Record<string, string>>
}

export type SamplerKind =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio"

/** What the OTEL_* variables ask for, read the way every OpenTelemetry SDK reads them. */
export interface TelemetrySettings {
  readonly serviceName: string
  readonly resourceAttributes: Readonly<Record<string, string>>
  /** Undefined: the signal is not exported. */
  readonly traces: SignalExport | undefined
  readonly metrics: SignalExport | undefined
  readonly logs: SignalExport | undefined
  readonly sampler: { readonly kind: SamplerKind; readonly ratio: number }
  /** The batch processor's settings (OTEL_BSP_*, OTEL_BLRP_*), shared by spans and log records. */
  readonly batch: {
    readonly scheduleDelayMs: number
    readonly exportTimeoutMs: number
    readonly maxQueueSize: number
    readonly maxExportBatchSize: number
  }
  readonly metricExportIntervalMs: number
  /** Settings that were set but could not be honoured, for a warning at start-up. */
  readonly warnings: ReadonlyArray<string>
}

const names = [
  "OTEL_SDK_DISABLED",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
  "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
  "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
  "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
  "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
  "OTEL_EXPORTER_OTLP_TIMEOUT",
  "OTEL_TRACES_EXPORTER",
  "OTEL_METRICS_EXPORTER",
  "OTEL_LOGS_EXPORTER",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_BSP_SCHEDULE_DELAY",
  "OTEL_BSP_EXPORT_TIMEOUT",
  "OTEL_BSP_MAX_QUEUE_SIZE",
  "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
  "OTEL_METRIC_EXPORT_INTERVAL"
] as const

type Variables = Partial<Record<(typeof names)[number], string>>

const samplers: ReadonlyArray<SamplerKind> = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio"
]

// The specification's defaults: a local collector, protobuf, and the
// sampling every SDK starts with.
const defaultEndpoint = "http://localhost:4318"
const defaultProtocol: Protocol = "http/protobuf"

/** `key=value,key2=value2`, values percent-encoded (W3C Baggage octets), as OTEL_*_HEADERS and OTEL_RESOURCE_ATTRIBUTES are written. */
const parsePairs = (text: string | undefined, what: string, warnings: Array<string>): Record<string, string> => {
  const pairs = new Map<string, string>()
  for (const item of (text ?? "").split(",")) {
    if (item.trim() === "") continue
    const equals = item.indexOf("=")
    const key = equals > 0 ? item.slice(0, equals).trim() : ""
    if (key === "") {
      warnings.push(`${what}: ignored "${item.trim().slice(0, 40)}", which is not key=value`)
      continue
    }
    try {
      pairs.set(key, decodeURIComponent(item.slice(equals + 1).trim()))
    } catch {
      warnings.push(`${what}: ignored the value of ${key}, which is not percent-encoded correctly`)
    }
  }
  return Object.fromEntries(pairs)
}

const positiveInt = (text: string | undefined, fallback: number, what: string, warnings: Array<string>) => {
  if (text === undefined || text.trim() === "") return fallback
  const value = Number(text)
  if (Number.isInteger(value) && value > 0) return value
  warnings.push(`${what}=${text} is not a positive integer; using ${fallback}`)
  return fallback
}

/**
 * The OpenTelemetry SDK environment specification, for the signals this
 * service exports. A signal is exported when its exporter is `otlp` and an
 * endpoint is known: the spec's default exporter for traces and metrics is
 * `otlp`, so an endpoint alone turns them on; logs go to stdout already, so
 * they are shipped only when OTEL_LOGS_EXPORTER=otlp asks for it. An
 * exporter named without any endpoint sends to the spec's default,
 * http://localhost:4318. Nothing set: nothing exported.
 */
export const interpretTelemetry = (vars: Variables): TelemetrySettings => {
  const warnings: Array<string> = []
  const disabled = vars.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true"
  const resourceAttributes = parsePairs(vars.OTEL_RESOURCE_ATTRIBUTES, "OTEL_RESOURCE_ATTRIBUTES", warnings)
  const serviceName = vars.OTEL_SERVICE_NAME?.trim() || resourceAttributes["service.name"] || "task-api"
  const baseHeaders = parsePairs(vars.OTEL_EXPORTER_OTLP_HEADERS, "OTEL_EXPORTER_OTLP_HEADERS", warnings)

  const signal = (name: Signal, exportedByDefault: boolean): SignalExport | undefined => {
    const upper = name.toUpperCase() as "TRACES" | "METRICS" | "LOGS"
    const exporterVariable = vars[`OTEL_${upper}_EXPORTER`]
    const exporters = (exporterVariable ?? "").split(",").map((value) => value.trim().toLowerCase()).filter(Boolean)
    for (const exporter of exporters) {
      if (exporter !== "otlp" && exporter !== "none") {
        warnings.push(`OTEL_${upper}_EXPORTER: "${exporter}" is not supported (otlp, none); ignored`)
      }
    }
    const own = vars[`OTEL_EXPORTER_OTLP_${upper}_ENDPOINT`]?.trim()
    const base = vars.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
    const wanted = exporters.length > 0 ? exporters.includes("otlp") : exportedByDefault && (own || base)
    if (disabled || !wanted) return undefined
    // A signal's own endpoint is used as it is; the base one gets the signal's path.
    const url = own || `${(base || defaultEndpoint).replace(/\/+$/, "")}/v1/${name}`
    try {
      new URL(url)
    } catch {
      warnings.push(`The OTLP endpoint for ${name}, ${url}, is not a URL; ${name} are not exported`)
      return undefined
    }
    const protocolText = (vars[`OTEL_EXPORTER_OTLP_${upper}_PROTOCOL`] ?? vars.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim()
    let protocol: Protocol = defaultProtocol
    if (protocolText === "http/json" || protocolText === "http/protobuf") protocol = protocolText
    else if (protocolText) warnings.push(`OTLP protocol "${protocolText}" is not supported (http/protobuf, http/json); using ${protocol}`)
    const headers = {
      ...baseHeaders,
      ...parsePairs(vars[`OTEL_EXPORTER_OTLP_${upper}_HEADERS`], `OTEL_EXPORTER_OTLP_${upper}_HEADERS`, warnings)
    }
    return { url, protocol, headers }
  }

  const samplerText = vars.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || "parentbased_always_on"
  let kind = samplers.find((sampler) => sampler === samplerText)
  if (kind === undefined) {
    warnings.push(`OTEL_TRACES_SAMPLER=${samplerText} is not supported; using parentbased_always_on`)
    kind = "parentbased_always_on"
  }
  let ratio = 1
  if (kind.endsWith("traceidratio") && vars.OTEL_TRACES_SAMPLER_ARG !== undefined) {
    const value = Number(vars.OTEL_TRACES_SAMPLER_ARG)
    if (vars.OTEL_TRACES_SAMPLER_ARG.trim() !== "" && value >= 0 && value <= 1) ratio = value
    else warnings.push(`OTEL_TRACES_SAMPLER_ARG=${vars.OTEL_TRACES_SAMPLER_ARG} is not a ratio from 0 to 1; using 1`)
  }

  return {
    serviceName,
    resourceAttributes,
    traces: signal("traces", true),
    metrics: signal("metrics", true),
    logs: signal("logs", false),
    sampler: { kind, ratio },
    batch: {
      scheduleDelayMs: positiveInt(vars.OTEL_BSP_SCHEDULE_DELAY, 5_000, "OTEL_BSP_SCHEDULE_DELAY", warnings),
      exportTimeoutMs: positiveInt(
        vars.OTEL_BSP_EXPORT_TIMEOUT ?? vars.OTEL_EXPORTER_OTLP_TIMEOUT,
        10_000,
        "OTEL_BSP_EXPORT_TIMEOUT",
        warnings
      ),
      maxQueueSize: positiveInt(vars.OTEL_BSP_MAX_QUEUE_SIZE, 2_048, "OTEL_BSP_MAX_QUEUE_SIZE", warnings),
      maxExportBatchSize: positiveInt(vars.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", warnings)
    },
    metricExportIntervalMs: positiveInt(vars.OTEL_METRIC_EXPORT_INTERVAL, 60_000, "OTEL_METRIC_EXPORT_INTERVAL", warnings),
    warnings: [...new Set(warnings)]
  }
}

/** The OTEL_* variables, from wherever the service reads its configuration (the environment, then `.env`). */
export const telemetryConfig: Config.Config<TelemetrySettings> = Config.all(
  Object.fromEntries(
    names.map((name) => [name, Config.String(name).pipe(Config.option, Config.map(Option.getOrUndefined))])
  ) as { [K in (typeof names)[number]]: Config.Config<string | undefined> }
).pipe(Config.map((vars) => interpretTelemetry(vars as Variables)))
