import type { AnyValue, KeyValue, Resource } from "effect/observability/OtlpResource"
import type { OtlpLogRecord } from "./Logging.ts"
import type { OtlpSpan } from "./Tracing.ts"

// OTLP/protobuf for the two signals this service queues (spans and log
// records), written into one growing buffer. Effect's encoder builds every
// field as a small array, and every varint through BigInt: encoding a traced
// request's spans cost more than handling the request (callgrind, 1.1M
// instructions for 7 spans). Field numbers are opentelemetry-proto v1's.

const Wire = { Varint: 0, Fixed64: 1, Bytes: 2 } as const
type Wire = (typeof Wire)[keyof typeof Wire]

class Writer {
  buffer = Buffer.allocUnsafe(16 * 1024)
  at = 0

  private ensure(bytes: number) {
    if (this.at + bytes <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes))
    this.buffer.copy(grown, 0, 0, this.at)
    this.buffer = grown
  }

  varint(value: number) {
    this.ensure(10)
    // Up to 2^53 exactly; a negative int64 is its 64-bit two's complement.
    if (value < 0) return this.bigVarint(BigInt.asUintN(64, BigInt(value)))
    while (value > 0x7f) {
      this.buffer[this.at++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    this.buffer[this.at++] = value
  }

  private bigVarint(value: bigint) {
    while (value > 0x7fn) {
      this.buffer[this.at++] = Number(value & 0x7fn) | 0x80
      value >>= 7n
    }
    this.buffer[this.at++] = Number(value)
  }

  tag(field: number, wire: Wire) {
    this.varint((field << 3) | wire)
  }

  string(field: number, value: string) {
    const length = Buffer.byteLength(value)
    this.tag(field, Wire.Bytes)
    this.varint(length)
    this.ensure(length)
    this.at += this.buffer.write(value, this.at, "utf8")
  }

  hex(field: number, value: string) {
    const length = value.length / 2
    this.tag(field, Wire.Bytes)
    this.varint(length)
    this.ensure(length)
    this.at += this.buffer.write(value, this.at, "hex")
  }

  /** Nanoseconds since the epoch, as OTLP/JSON writes them: a decimal string. */
  fixed64(field: number, decimal: string) {
    this.tag(field, Wire.Fixed64)
    this.ensure(8)
    this.at = this.buffer.writeBigUInt64LE(BigInt(decimal), this.at)
  }

  double(field: number, value: number) {
    this.tag(field, Wire.Fixed64)
    this.ensure(8)
    this.at = this.buffer.writeDoubleLE(value, this.at)
  }

  /** A nested message: its length is known once written, so room is kept and the message moved if less is needed. */
  message(field: number, write: () => void) {
    this.tag(field, Wire.Bytes)
    this.ensure(5)
    const lengthAt = this.at
    this.at += 5
    write()
    const length = this.at - lengthAt - 5
    let size = 1
    for (let rest = length; rest > 0x7f; rest = Math.floor(rest / 0x80)) size++
    if (size < 5) this.buffer.copyWithin(lengthAt + size, lengthAt + 5, this.at)
    this.at = lengthAt
    this.varint(length)
    this.at += length
  }

  done(): Uint8Array {
    return this.buffer.subarray(0, this.at)
  }
}

type Scope = { readonly name: string; readonly version?: string }

const anyValue = (w: Writer, value: AnyValue) => {
  if (value.stringValue !== undefined && value.stringValue !== null) w.string(1, value.stringValue)
  else if (value.boolValue !== undefined && value.boolValue !== null) (w.tag(2, Wire.Varint), w.varint(value.boolValue ? 1 : 0))
  else if (value.intValue !== undefined && value.intValue !== null) (w.tag(3, Wire.Varint), w.varint(Number(value.intValue)))
  else if (value.doubleValue !== undefined && value.doubleValue !== null) w.double(4, value.doubleValue)
  else if (value.arrayValue?.values !== undefined) {
    const values = value.arrayValue.values
    w.message(5, () => values.forEach((item) => w.message(1, () => anyValue(w, item))))
  }
}

const keyValues = (w: Writer, field: number, attributes: ReadonlyArray<KeyValue>) => {
  for (const { key, value } of attributes) {
    w.message(field, () => {
      w.string(1, key)
      w.message(2, () => anyValue(w, value))
    })
  }
}

const resourceAndScope = (w: Writer, resource: Resource, scope: Scope, items: () => void) => {
  w.message(1, () => keyValues(w, 1, resource.attributes))
  w.message(2, () => {
    w.message(1, () => {
      w.string(1, scope.name)
      if (scope.version !== undefined) w.string(2, scope.version)
    })
    items()
  })
}

const span = (w: Writer, s: OtlpSpan) => {
  w.hex(1, s.traceId)
  w.hex(2, s.spanId)
  if (s.traceState !== undefined) w.string(3, s.traceState)
  if (s.parentSpanId !== undefined) w.hex(4, s.parentSpanId)
  w.string(5, s.name)
  w.tag(6, Wire.Varint)
  w.varint(s.kind)
  w.fixed64(7, s.startTimeUnixNano)
  w.fixed64(8, s.endTimeUnixNano)
  keyValues(w, 9, s.attributes)
  for (const event of s.events) {
    w.message(11, () => {
      w.fixed64(1, event.timeUnixNano)
      w.string(2, event.name)
      keyValues(w, 3, event.attributes)
    })
  }
  w.message(15, () => {
    if (s.status.message !== undefined) w.string(2, s.status.message)
    if (s.status.code !== 0) (w.tag(3, Wire.Varint), w.varint(s.status.code))
  })
}

const logRecord = (w: Writer, r: OtlpLogRecord) => {
  w.fixed64(1, r.timeUnixNano)
  w.tag(2, Wire.Varint)
  w.varint(r.severityNumber)
  w.string(3, r.severityText)
  w.message(5, () => w.string(1, r.body.stringValue))
  keyValues(w, 6, r.attributes)
  if (r.traceId !== undefined) w.hex(9, r.traceId)
  if (r.spanId !== undefined) w.hex(10, r.spanId)
  w.fixed64(11, r.observedTimeUnixNano)
}

/** An ExportTraceServiceRequest of one resource and one scope. */
export const encodeSpans = (resource: Resource, scope: Scope, spans: ReadonlyArray<OtlpSpan>) => {
  const w = new Writer()
  w.message(1, () => resourceAndScope(w, resource, scope, () => spans.forEach((s) => w.message(2, () => span(w, s)))))
  return w.done()
}

/** An ExportLogsServiceRequest of one resource and one scope. */
export const encodeLogRecords = (resource: Resource, scope: Scope, records: ReadonlyArray<OtlpLogRecord>) => {
  const w = new Writer()
  w.message(1, () => resourceAndScope(w, resource, scope, () => records.forEach((r) => w.message(2, () => logRecord(w, r)))))
  return w.done()
}
