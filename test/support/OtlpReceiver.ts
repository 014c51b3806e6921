import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as zlib from "node:zlib"

/**
 * An OTLP/HTTP collector for tests: it accepts traces, metrics and logs in
 * OTLP/JSON and OTLP/protobuf, and gives both back in one flattened shape, so
 * a test asserts the same way whichever protocol the service was told to use.
 */

/** An OTLP AnyValue as a plain value: int64 becomes a number, bytes a Uint8Array, an empty AnyValue null. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | ReadonlyArray<AttributeValue>
  | { readonly [key: string]: AttributeValue }

export type Attributes = Readonly<Record<string, AttributeValue>>

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  /** The W3C tracestate the span carries; empty when it has none. */
  readonly traceState: string
  readonly name: string
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly attributes: Attributes
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message?: string }
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Attributes }>
  readonly resource: Attributes
  readonly scope: string
}

/** One data point of a metric; a summary point carries count and sum like a histogram point. */
export interface ReceivedMetric {
  readonly name: string
  readonly unit?: string
  readonly type: "sum" | "gauge" | "histogram" | "summary"
  readonly attributes: Attributes
  readonly value?: number
  readonly count?: number
  readonly sum?: number
  readonly bucketCounts?: ReadonlyArray<number>
  readonly explicitBounds?: ReadonlyArray<number>
  readonly resource: Attributes
}

export interface ReceivedLog {
  readonly timeUnixNano: string
  readonly severityNumber: number
  readonly severityText: string
  /** The body's stringValue; a body of another type is given as JSON. */
  readonly body: string
  readonly attributes: Attributes
  readonly traceId?: string
  readonly spanId?: string
  readonly resource: Attributes
}

export interface ReceivedRequest {
  readonly path: string
  readonly contentType: string
  /** Bytes on the wire, before any content-encoding is undone. */
  readonly bytes: number
  /** Lowercase names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
}

/** "ok" accepts, "fail" answers 503, "hang" reads the request and never answers until `close()`. */
export type OtlpReceiverBehaviour = "ok" | "fail" | "hang"

export interface OtlpReceiverOptions {
  readonly behaviour?: OtlpReceiverBehaviour
  /** Defaults to 0, a free port. */
  readonly port?: number
}

export interface OtlpReceiver {
  /** Base URL, such as `http://127.0.0.1:4318`; the signals are at /v1/traces, /v1/metrics and /v1/logs. */
  readonly url: string
  readonly spans: () => ReadonlyArray<ReceivedSpan>
  readonly metrics: () => ReadonlyArray<ReceivedMetric>
  readonly logs: () => ReadonlyArray<ReceivedLog>
  /** Every request, whatever the behaviour and whether or not its body could be read. */
  readonly requests: () => ReadonlyArray<ReceivedRequest>
  /** Each accepted body: JSON as sent, protobuf decoded to the OTLP/JSON shape and stringified. */
  readonly rawBodies: () => ReadonlyArray<string>
  /** Why each rejected body (a 4xx) was rejected, so a test that waits in vain can say why. */
  readonly errors: () => ReadonlyArray<string>
  readonly setBehaviour: (mode: OtlpReceiverBehaviour) => void
  readonly waitFor: (predicate: () => boolean, timeoutMs?: number) => Promise<void>
  /** Forgets everything received; the behaviour stays. */
  readonly clear: () => void
  /** Stops listening and drops every connection, hanging requests included. */
  readonly close: () => Promise<void>
}

type Signal = "traces" | "metrics" | "logs"

const signals: Readonly<Record<string, Signal>> = {
  "/v1/traces": "traces",
  "/v1/metrics": "metrics",
  "/v1/logs": "logs"
}

// Protobuf wire format

type WireType = 0 | 1 | 2 | 5

interface Field {
  readonly number: number
  readonly wire: WireType
  /** The value of a varint field, as the unsigned 64 bits on the wire. */
  readonly varint: bigint
  /** The payload of a 64-bit, length-delimited or 32-bit field. */
  readonly bytes: Uint8Array
}

const noBytes = new Uint8Array(0)

const readVarint = (buf: Uint8Array, start: number): [value: bigint, next: number] => {
  let value = 0n
  let pos = start
  // A 64-bit varint takes at most 10 bytes; a negative int64 always takes all 10.
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= buf.length) throw new Error("protobuf: truncated varint")
    const byte = buf[pos++]!
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [BigInt.asUintN(64, value), pos]
  }
  throw new Error("protobuf: varint longer than 10 bytes")
}

const readFields = (buf: Uint8Array): Array<Field> => {
  const fields: Array<Field> = []
  let pos = 0
  const take = (length: number) => {
    if (length > buf.length - pos) throw new Error("protobuf: truncated field")
    const bytes = buf.subarray(pos, pos + length)
    pos += length
    return bytes
  }
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos)
    pos = afterTag
    const number = Number(tag >> 3n)
    const wire = Number(tag & 7n)
    if (number === 0 || number > 0x1fffffff) throw new Error(`protobuf: invalid field number ${number}`)
    switch (wire) {
      case 0: {
        const [varint, next] = readVarint(buf, pos)
        pos = next
        fields.push({ number, wire, varint, bytes: noBytes })
        break
      }
      case 1:
        fields.push({ number, wire, varint: 0n, bytes: take(8) })
        break
      case 2: {
        const [length, next] = readVarint(buf, pos)
        pos = next
        if (length > BigInt(buf.length - pos)) throw new Error("protobuf: truncated field")
        fields.push({ number, wire, varint: 0n, bytes: take(Number(length)) })
        break
      }
      case 5:
        fields.push({ number, wire, varint: 0n, bytes: take(4) })
        break
      default:
        // 3 and 4 are the deprecated groups, which OTLP never uses
        throw new Error(`protobuf: unsupported wire type ${wire} for field ${number}`)
    }
  }
  return fields
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
const utf8 = new TextDecoder("utf-8", { fatal: true })
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")
const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

/** Splits a packed repeated field of fixed-size elements. */
const chunks = (bytes: Uint8Array, size: number, name: string): Array<Uint8Array> => {
  if (bytes.length % size !== 0) throw new Error(`protobuf: ${name}: packed length ${bytes.length} is not a multiple of ${size}`)
  const out: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

/**
 * Typed access to the fields of one message. A known field on an unexpected
 * wire type is an error, since it means the encoder and this reader disagree
 * on the schema; unknown fields are skipped, as protobuf requires.
 */
const decodeMessage = (buf: Uint8Array, type: string) => {
  const fields = readFields(buf)
  const all = (number: number, wire: WireType) =>
    fields.filter((field) => field.number === number).map((field) => {
      if (field.wire !== wire) throw new Error(`protobuf: ${type}.${number}: wire type ${field.wire}, expected ${wire}`)
      return field
    })
  // A scalar that occurs more than once takes its last value
  const last = (number: number, wire: WireType): Field | undefined => all(number, wire).at(-1)
  const repeatedFixed = <A>(number: number, read: (bytes: Uint8Array) => A): Array<A> =>
    fields.filter((field) => field.number === number).flatMap((field) => {
      // Packed (the proto3 default) or one element per field, as Effect writes them
      if (field.wire === 2) return chunks(field.bytes, 8, `${type}.${number}`).map(read)
      if (field.wire === 1) return [read(field.bytes)]
      throw new Error(`protobuf: ${type}.${number}: wire type ${field.wire}, expected 1 or 2`)
    })
  return {
    /** The number of whichever of `numbers` came last, for a oneof. */
    oneof: (numbers: ReadonlyArray<number>): number | undefined =>
      fields.filter((field) => numbers.includes(field.number)).at(-1)?.number,
    string: (number: number): string | undefined => {
      const field = last(number, 2)
      return field === undefined ? undefined : utf8.decode(field.bytes)
    },
    bytes: (number: number): Uint8Array | undefined => last(number, 2)?.bytes,
    message: (number: number): Uint8Array | undefined => last(number, 2)?.bytes,
    messages: (number: number): Array<Uint8Array> => all(number, 2).map((field) => field.bytes),
    int64: (number: number): bigint | undefined => {
      const field = last(number, 0)
      return field === undefined ? undefined : BigInt.asIntN(64, field.varint)
    },
    /** uint32, and enums, which are int32 */
    int: (number: number): number => {
      const field = last(number, 0)
      return field === undefined ? 0 : Number(BigInt.asIntN(32, field.varint))
    },
    bool: (number: number): boolean | undefined => {
      const field = last(number, 0)
      return field === undefined ? undefined : field.varint !== 0n
    },
    fixed64: (number: number): bigint | undefined => {
      const field = last(number, 1)
      return field === undefined ? undefined : view(field.bytes).getBigUint64(0, true)
    },
    sfixed64: (number: number): bigint | undefined => {
      const field = last(number, 1)
      return field === undefined ? undefined : view(field.bytes).getBigInt64(0, true)
    },
    double: (number: number): number | undefined => {
      const field = last(number, 1)
      return field === undefined ? undefined : view(field.bytes).getFloat64(0, true)
    },
    fixed32: (number: number): number | undefined => {
      const field = last(number, 5)
      return field === undefined ? undefined : view(field.bytes).getUint32(0, true)
    },
    repeatedFixed64: (number: number): Array<bigint> =>
      repeatedFixed(number, (bytes) => view(bytes).getBigUint64(0, true)),
    repeatedDouble: (number: number): Array<number> => repeatedFixed(number, (bytes) => view(bytes).getFloat64(0, true))
  }
}

// Protobuf to the OTLP/JSON shape, so that one flattening serves both encodings

type Json = Record<string, unknown>

/** Leaves out a key whose value is absent, as OTLP/JSON does. */
const optional = (key: string, value: unknown): Json => (value === undefined ? {} : { [key]: value })
const nonEmpty = (value: string | undefined) => (value === "" ? undefined : value)
const nanosText = (value: bigint | undefined) => String(value ?? 0n)

const anyValueJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "AnyValue")
  switch (m.oneof([1, 2, 3, 4, 5, 6, 7])) {
    case 1:
      return { stringValue: m.string(1) }
    case 2:
      return { boolValue: m.bool(2) }
    case 3:
      return { intValue: String(m.int64(3)) }
    case 4:
      return { doubleValue: m.double(4) }
    case 5:
      return { arrayValue: { values: decodeMessage(m.message(5)!, "ArrayValue").messages(1).map(anyValueJson) } }
    case 6:
      return { kvlistValue: { values: decodeMessage(m.message(6)!, "KeyValueList").messages(1).map(keyValueJson) } }
    case 7:
      return { bytesValue: base64(m.bytes(7)!) }
    default:
      return {}
  }
}

const keyValueJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "KeyValue")
  const value = m.message(2)
  return { key: m.string(1) ?? "", value: value === undefined ? {} : anyValueJson(value) }
}

const resourceJson = (buf: Uint8Array | undefined): Json => {
  const m = decodeMessage(buf ?? noBytes, "Resource")
  return { attributes: m.messages(1).map(keyValueJson), droppedAttributesCount: m.int(2) }
}

const scopeJson = (buf: Uint8Array | undefined): Json => {
  const m = decodeMessage(buf ?? noBytes, "InstrumentationScope")
  return {
    name: m.string(1) ?? "",
    ...optional("version", nonEmpty(m.string(2))),
    attributes: m.messages(3).map(keyValueJson),
    droppedAttributesCount: m.int(4)
  }
}

const idHex = (bytes: Uint8Array | undefined) => (bytes === undefined || bytes.length === 0 ? undefined : hex(bytes))

const spanJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "Span")
  const status = decodeMessage(m.message(15) ?? noBytes, "Status")
  return {
    traceId: idHex(m.bytes(1)) ?? "",
    spanId: idHex(m.bytes(2)) ?? "",
    ...optional("traceState", nonEmpty(m.string(3))),
    ...optional("parentSpanId", idHex(m.bytes(4))),
    ...optional("flags", m.fixed32(16)),
    name: m.string(5) ?? "",
    kind: m.int(6),
    startTimeUnixNano: nanosText(m.fixed64(7)),
    endTimeUnixNano: nanosText(m.fixed64(8)),
    attributes: m.messages(9).map(keyValueJson),
    droppedAttributesCount: m.int(10),
    events: m.messages(11).map((event) => {
      const e = decodeMessage(event, "Span.Event")
      return {
        timeUnixNano: nanosText(e.fixed64(1)),
        name: e.string(2) ?? "",
        attributes: e.messages(3).map(keyValueJson),
        droppedAttributesCount: e.int(4)
      }
    }),
    droppedEventsCount: m.int(12),
    links: m.messages(13).map((link) => {
      const l = decodeMessage(link, "Span.Link")
      return {
        traceId: idHex(l.bytes(1)) ?? "",
        spanId: idHex(l.bytes(2)) ?? "",
        ...optional("traceState", nonEmpty(l.string(3))),
        attributes: l.messages(4).map(keyValueJson),
        droppedAttributesCount: l.int(5),
        ...optional("flags", l.fixed32(6))
      }
    }),
    droppedLinksCount: m.int(14),
    status: { ...optional("message", nonEmpty(status.string(2))), code: status.int(3) }
  }
}

const numberDataPointJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "NumberDataPoint")
  const value = m.oneof([4, 6])
  return {
    attributes: m.messages(7).map(keyValueJson),
    startTimeUnixNano: nanosText(m.fixed64(2)),
    timeUnixNano: nanosText(m.fixed64(3)),
    ...(value === 4 ? { asDouble: m.double(4) } : value === 6 ? { asInt: String(m.sfixed64(6)) } : {}),
    ...optional("flags", m.int(8) || undefined)
  }
}

const histogramDataPointJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "HistogramDataPoint")
  return {
    attributes: m.messages(9).map(keyValueJson),
    startTimeUnixNano: nanosText(m.fixed64(2)),
    timeUnixNano: nanosText(m.fixed64(3)),
    count: nanosText(m.fixed64(4)),
    ...optional("sum", m.double(5)),
    bucketCounts: m.repeatedFixed64(6).map(String),
    explicitBounds: m.repeatedDouble(7),
    ...optional("flags", m.int(10) || undefined),
    ...optional("min", m.double(11)),
    ...optional("max", m.double(12))
  }
}

const summaryDataPointJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "SummaryDataPoint")
  return {
    attributes: m.messages(7).map(keyValueJson),
    startTimeUnixNano: nanosText(m.fixed64(2)),
    timeUnixNano: nanosText(m.fixed64(3)),
    count: nanosText(m.fixed64(4)),
    sum: m.double(5) ?? 0,
    quantileValues: m.messages(6).map((quantile) => {
      const q = decodeMessage(quantile, "ValueAtQuantile")
      return { quantile: q.double(1) ?? 0, value: q.double(2) ?? 0 }
    }),
    ...optional("flags", m.int(8) || undefined)
  }
}

const metricJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "Metric")
  const data = (number: number, type: string) => decodeMessage(m.message(number)!, type)
  const kind = m.oneof([5, 7, 9, 10, 11])
  const base = {
    name: m.string(1) ?? "",
    ...optional("description", nonEmpty(m.string(2))),
    ...optional("unit", nonEmpty(m.string(3)))
  }
  switch (kind) {
    case 5:
      return { ...base, gauge: { dataPoints: data(5, "Gauge").messages(1).map(numberDataPointJson) } }
    case 7: {
      const sum = data(7, "Sum")
      return {
        ...base,
        sum: {
          dataPoints: sum.messages(1).map(numberDataPointJson),
          aggregationTemporality: sum.int(2),
          isMonotonic: sum.bool(3) ?? false
        }
      }
    }
    case 9: {
      const histogram = data(9, "Histogram")
      return {
        ...base,
        histogram: {
          dataPoints: histogram.messages(1).map(histogramDataPointJson),
          aggregationTemporality: histogram.int(2)
        }
      }
    }
    case 11:
      return { ...base, summary: { dataPoints: data(11, "Summary").messages(1).map(summaryDataPointJson) } }
    default:
      // Exponential histograms are not flattened, so their points are not decoded
      return { ...base, ...(kind === 10 ? { exponentialHistogram: {} } : {}) }
  }
}

const logRecordJson = (buf: Uint8Array): Json => {
  const m = decodeMessage(buf, "LogRecord")
  const body = m.message(5)
  return {
    timeUnixNano: nanosText(m.fixed64(1)),
    observedTimeUnixNano: nanosText(m.fixed64(11)),
    severityNumber: m.int(2),
    severityText: m.string(3) ?? "",
    ...optional("body", body === undefined ? undefined : anyValueJson(body)),
    attributes: m.messages(6).map(keyValueJson),
    droppedAttributesCount: m.int(7),
    ...optional("flags", m.fixed32(8)),
    ...optional("traceId", idHex(m.bytes(9))),
    ...optional("spanId", idHex(m.bytes(10))),
    ...optional("eventName", nonEmpty(m.string(12)))
  }
}

/**
 * Decodes an ExportTraceServiceRequest, ExportMetricsServiceRequest or
 * ExportLogsServiceRequest (the same fields as TracesData, MetricsData and
 * LogsData) into the shape OTLP/JSON gives the same message.
 */
const decodeProtobuf = (signal: Signal, buf: Uint8Array): Json => {
  const resourceGroups = (
    type: string,
    scopeGroupsKey: string,
    itemsKey: string,
    decodeItem: (buf: Uint8Array) => Json
  ) =>
    decodeMessage(buf, `${type}Data`).messages(1).map((resourceGroup) => {
      const r = decodeMessage(resourceGroup, `Resource${type}`)
      return {
        resource: resourceJson(r.message(1)),
        [scopeGroupsKey]: r.messages(2).map((scopeGroup) => {
          const s = decodeMessage(scopeGroup, `Scope${type}`)
          return {
            scope: scopeJson(s.message(1)),
            [itemsKey]: s.messages(2).map(decodeItem),
            ...optional("schemaUrl", nonEmpty(s.string(3)))
          }
        }),
        ...optional("schemaUrl", nonEmpty(r.string(3)))
      }
    })
  switch (signal) {
    case "traces":
      return { resourceSpans: resourceGroups("Spans", "scopeSpans", "spans", spanJson) }
    case "metrics":
      return { resourceMetrics: resourceGroups("Metrics", "scopeMetrics", "metrics", metricJson) }
    case "logs":
      return { resourceLogs: resourceGroups("Logs", "scopeLogs", "logRecords", logRecordJson) }
  }
}

// The OTLP/JSON shape, flattened. OTLP/JSON may write int64 as strings,
// non-finite doubles as strings, and enums by name; all are read here.

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)
const record = (u: unknown): Json => (isRecord(u) ? u : {})
const list = (u: unknown): ReadonlyArray<unknown> => (Array.isArray(u) ? u : [])
const text = (u: unknown): string => (typeof u === "string" ? u : "")
const toNumber = (u: unknown): number => (typeof u === "number" ? u : typeof u === "string" && u !== "" ? Number(u) : 0)
const nanos = (u: unknown): string =>
  typeof u === "string" && u !== "" ? String(BigInt(u)) : typeof u === "number" ? String(BigInt(u)) : "0"

const enumNames = (prefix: string, names: ReadonlyArray<string>) => names.map((name) => `${prefix}_${name}`)
const spanKinds = enumNames("SPAN_KIND", ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"])
const statusCodes = enumNames("STATUS_CODE", ["UNSET", "OK", "ERROR"])
const severities = enumNames("SEVERITY_NUMBER", [
  "UNSPECIFIED",
  ...["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].flatMap((level) => [level, `${level}2`, `${level}3`, `${level}4`])
])
const enumValue = (u: unknown, names: ReadonlyArray<string>): number =>
  typeof u === "string" && names.includes(u) ? names.indexOf(u) : toNumber(u)

/** Hex, as OTLP/JSON writes ids; base64, as generic proto3 JSON would; or a Uint8Array that JSON.stringify made an object. */
const id = (u: unknown): string | undefined => {
  if (typeof u === "string") {
    if (u === "") return undefined
    return /^(?:[0-9a-f]{2})+$/i.test(u) ? u.toLowerCase() : hex(Buffer.from(u, "base64"))
  }
  if (Array.isArray(u) || isRecord(u)) {
    const bytes = bytesOf(u)
    return bytes.length === 0 ? undefined : hex(bytes)
  }
  return undefined
}

const bytesOf = (u: unknown): Uint8Array => {
  if (typeof u === "string") return Uint8Array.from(Buffer.from(u, "base64"))
  if (Array.isArray(u)) return Uint8Array.from(u, toNumber)
  if (isRecord(u)) {
    return Uint8Array.from(Object.keys(u).sort((a, b) => Number(a) - Number(b)), (key) => toNumber(u[key]))
  }
  return new Uint8Array(0)
}

const attributeValue = (u: unknown): AttributeValue => {
  const value = record(u)
  if (value.stringValue != null) return text(value.stringValue)
  if (value.boolValue != null) return value.boolValue === true
  if (value.intValue != null) return toNumber(value.intValue)
  if (value.doubleValue != null) return toNumber(value.doubleValue)
  if (value.arrayValue != null) return list(record(value.arrayValue).values).map(attributeValue)
  if (value.kvlistValue != null) return attributes(record(value.kvlistValue).values)
  if (value.bytesValue != null) return bytesOf(value.bytesValue)
  return null
}

const attributes = (u: unknown): Attributes =>
  Object.fromEntries(list(u).map((kv) => [text(record(kv).key), attributeValue(record(kv).value)]))

/** Walks resource groups, then scope groups, handing each item its resource and scope. */
const flatten = <A>(
  data: unknown,
  resourceGroupsKey: string,
  scopeGroupsKey: string,
  itemsKey: string,
  item: (item: Json, resource: Attributes, scope: string) => ReadonlyArray<A>
): Array<A> =>
  list(record(data)[resourceGroupsKey]).flatMap((resourceGroup) => {
    const resource = attributes(record(record(resourceGroup).resource).attributes)
    return list(record(resourceGroup)[scopeGroupsKey]).flatMap((scopeGroup) => {
      const scope = text(record(record(scopeGroup).scope).name)
      return list(record(scopeGroup)[itemsKey]).flatMap((raw) => item(record(raw), resource, scope))
    })
  })

const flattenSpans = (data: unknown): Array<ReceivedSpan> =>
  flatten(data, "resourceSpans", "scopeSpans", "spans", (span, resource, scope) => {
    const status = record(span.status)
    const message = text(status.message)
    return [{
      traceId: id(span.traceId) ?? "",
      spanId: id(span.spanId) ?? "",
      parentSpanId: id(span.parentSpanId),
      traceState: text(span.traceState),
      name: text(span.name),
      kind: enumValue(span.kind, spanKinds),
      startTimeUnixNano: nanos(span.startTimeUnixNano),
      endTimeUnixNano: nanos(span.endTimeUnixNano),
      attributes: attributes(span.attributes),
      status: message === ""
        ? { code: enumValue(status.code, statusCodes) }
        : { code: enumValue(status.code, statusCodes), message },
      events: list(span.events).map((event) => ({
        name: text(record(event).name),
        attributes: attributes(record(event).attributes)
      })),
      resource,
      scope
    }]
  })

const flattenMetrics = (data: unknown): Array<ReceivedMetric> =>
  flatten(data, "resourceMetrics", "scopeMetrics", "metrics", (metric, resource) => {
    const unit = text(metric.unit)
    const base = { name: text(metric.name), ...(unit === "" ? {} : { unit }), resource }
    const points = (key: string) => list(record(metric[key]).dataPoints).map(record)
    const numberPoint = (type: "sum" | "gauge") => (point: Json): ReceivedMetric => ({
      ...base,
      type,
      attributes: attributes(point.attributes),
      ...(point.asDouble != null
        ? { value: toNumber(point.asDouble) }
        : point.asInt != null
        ? { value: toNumber(point.asInt) }
        : {})
    })
    return [
      ...points("sum").map(numberPoint("sum")),
      ...points("gauge").map(numberPoint("gauge")),
      ...points("histogram").map((point): ReceivedMetric => ({
        ...base,
        type: "histogram",
        attributes: attributes(point.attributes),
        count: toNumber(point.count),
        ...(point.sum != null ? { sum: toNumber(point.sum) } : {}),
        bucketCounts: list(point.bucketCounts).map(toNumber),
        explicitBounds: list(point.explicitBounds).map(toNumber)
      })),
      ...points("summary").map((point): ReceivedMetric => ({
        ...base,
        type: "summary",
        attributes: attributes(point.attributes),
        count: toNumber(point.count),
        sum: toNumber(point.sum)
      }))
    ]
  })

const flattenLogs = (data: unknown): Array<ReceivedLog> =>
  flatten(data, "resourceLogs", "scopeLogs", "logRecords", (log, resource) => {
    const body = log.body === undefined ? "" : attributeValue(log.body)
    const traceId = id(log.traceId)
    const spanId = id(log.spanId)
    return [{
      timeUnixNano: nanos(log.timeUnixNano),
      severityNumber: enumValue(log.severityNumber, severities),
      severityText: text(log.severityText),
      body: typeof body === "string" ? body : body === null ? "" : JSON.stringify(body),
      attributes: attributes(log.attributes),
      ...(traceId === undefined ? {} : { traceId }),
      ...(spanId === undefined ? {} : { spanId }),
      resource
    }]
  })

// OTLP/JSON writes NaN and Infinity as strings, where JSON.stringify would write null
const nonFiniteToString = (_key: string, value: unknown) =>
  typeof value === "number" && !Number.isFinite(value) ? String(value) : value

/** A body this receiver cannot read at all, a 415 rather than a 400. */
class Unsupported extends Error {}

const decompress = (body: Buffer, encoding: string | undefined): Buffer => {
  switch ((encoding ?? "identity").trim().toLowerCase()) {
    case "identity":
    case "":
      return body
    case "gzip":
      return zlib.gunzipSync(body)
    case "deflate":
      return zlib.inflateSync(body)
    default:
      throw new Unsupported(`content-encoding ${encoding}`)
  }
}

const headerRecord = (headers: http.IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, Array.isArray(value) ? value.join(", ") : value]]
    )
  )

export const startOtlpReceiver = async (options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> => {
  let behaviour: OtlpReceiverBehaviour = options.behaviour ?? "ok"
  let spans: Array<ReceivedSpan> = []
  let metrics: Array<ReceivedMetric> = []
  let logs: Array<ReceivedLog> = []
  let requests: Array<ReceivedRequest> = []
  let rawBodies: Array<string> = []
  let errors: Array<string> = []
  const hanging = new Set<http.ServerResponse>()

  const reply = (res: http.ServerResponse, status: number, contentType: string, body: string) => {
    res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
    res.end(body)
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
    const path = new URL(req.url ?? "/", "http://receiver").pathname
    const contentType = req.headers["content-type"] ?? ""
    requests.push({ path, contentType, bytes: body.length, headers: headerRecord(req.headers) })

    if (behaviour === "hang") {
      hanging.add(res)
      res.on("close", () => hanging.delete(res))
      return
    }
    if (behaviour === "fail") return reply(res, 503, "text/plain", "unavailable")

    const signal = signals[path]
    if (signal === undefined) return reply(res, 404, "text/plain", "not found")
    if (req.method !== "POST") return reply(res, 405, "text/plain", "method not allowed")
    const mediaType = contentType.split(";")[0]!.trim().toLowerCase()
    if (mediaType !== "application/json" && mediaType !== "application/x-protobuf") {
      errors.push(`${path}: unsupported content-type ${JSON.stringify(contentType)}`)
      return reply(res, 415, "text/plain", "unsupported media type")
    }

    try {
      const payload = decompress(body, req.headers["content-encoding"])
      let data: unknown
      let raw: string
      if (mediaType === "application/json") {
        raw = utf8.decode(payload)
        data = JSON.parse(raw)
      } else {
        data = decodeProtobuf(signal, payload)
        raw = JSON.stringify(data, nonFiniteToString)
      }
      // Everything is flattened before anything is kept, so that a body that fails halfway leaves nothing behind
      switch (signal) {
        case "traces":
          spans = spans.concat(flattenSpans(data))
          break
        case "metrics":
          metrics = metrics.concat(flattenMetrics(data))
          break
        case "logs":
          logs = logs.concat(flattenLogs(data))
          break
      }
      rawBodies.push(raw)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      errors.push(`${path}: ${message}`)
      return error instanceof Unsupported
        ? reply(res, 415, "text/plain", message)
        : reply(res, 400, "text/plain", message)
    }

    if (mediaType === "application/json") return reply(res, 200, "application/json", "{}")
    reply(res, 200, "application/x-protobuf", "")
  }

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("error", () => res.destroy())
    req.on("end", () => handle(req, res, Buffer.concat(chunks)))
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo

  let closed: Promise<void> | undefined
  const close = () =>
    closed ??= new Promise<void>((resolve, reject) => {
      for (const res of hanging) res.destroy()
      hanging.clear()
      server.close((error) => (error === undefined ? resolve() : reject(error)))
      // Idle keep-alive connections would otherwise hold close() open
      server.closeAllConnections()
    })

  const waitFor = async (predicate: () => boolean, timeoutMs = 10_000) => {
    const deadline = performance.now() + timeoutMs
    while (!predicate()) {
      if (performance.now() >= deadline) throw new Error(`OtlpReceiver.waitFor: not within ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => spans.slice(),
    metrics: () => metrics.slice(),
    logs: () => logs.slice(),
    requests: () => requests.slice(),
    rawBodies: () => rawBodies.slice(),
    errors: () => errors.slice(),
    setBehaviour: (mode) => {
      behaviour = mode
    },
    waitFor,
    clear: () => {
      spans = []
      metrics = []
      logs = []
      requests = []
      rawBodies = []
      errors = []
    },
    close
  }
}
