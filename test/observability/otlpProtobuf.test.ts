import { entriesToAttributes } from "effect/observability/OtlpResource"
import * as OtlpResource from "effect/observability/OtlpResource"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { OtlpLogRecord } from "../../src/server/observability/Logging.ts"
import { encodeLogRecords, encodeSpans } from "../../src/server/observability/OtlpProtobuf.ts"
import type { OtlpSpan } from "../../src/server/observability/Tracing.ts"
import { type OtlpReceiver, startOtlpReceiver } from "../support/OtlpReceiver.ts"

const resource = OtlpResource.make({ serviceName: "task-api", serviceVersion: "0.1.0", attributes: { "deployment.environment": "test" } })
const scope = { name: "task-api", version: "0.1.0" }

const span = (overrides: Partial<OtlpSpan> = {}): OtlpSpan => ({
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  parentSpanId: undefined,
  name: "GET /tasks/{id}",
  kind: 2,
  startTimeUnixNano: "1796218338061000123",
  endTimeUnixNano: "1796218338063456789",
  attributes: entriesToAttributes(Object.entries({
    "http.request.method": "GET",
    "http.response.status_code": 200,
    "duration": 0.25,
    "negative": -3,
    "large": 2 ** 40,
    "sampled": true,
    "list": ["a", "b"],
    "text": "é 😀 \"quoted\""
  })),
  droppedAttributesCount: 0,
  events: [],
  droppedEventsCount: 0,
  status: { code: 0 },
  links: [],
  droppedLinksCount: 0,
  ...overrides
})

// The service's own protobuf encoder against the JSON the specification
// defines: a collector must read the same from both.
describe("the service's OTLP/protobuf encoder", () => {
  let collector: OtlpReceiver
  beforeAll(async () => {
    collector = await startOtlpReceiver()
  })
  afterAll(() => collector?.close())

  const post = (path: string, body: Uint8Array | string, contentType: string) =>
    fetch(`${collector.url}${path}`, { method: "POST", headers: { "content-type": contentType }, body })

  it("writes spans a collector reads as it reads their JSON", async () => {
    const spans = [
      span(),
      span({
        spanId: "a1b2c3d4e5f60718",
        parentSpanId: "00f067aa0ba902b7",
        traceState: "vendor=abc",
        name: "SELECT task_api",
        kind: 3,
        status: { code: 2, message: "HTTP 500" },
        events: [{
          name: "exception",
          timeUnixNano: "1796218338063456000",
          attributes: entriesToAttributes([["exception.type", "SqlError"]]),
          droppedAttributesCount: 0
        }]
      }),
      // Enough text to make lengths take several bytes and the buffer grow.
      span({ spanId: "ffffffffffffffff", attributes: entriesToAttributes([["db.query.text", "x".repeat(40_000)]]) })
    ]
    expect((await post("/v1/traces", encodeSpans(resource, scope, spans), "application/x-protobuf")).status).toBe(200)
    const fromProtobuf = collector.spans()
    collector.clear()
    const json = JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] })
    expect((await post("/v1/traces", json, "application/json")).status).toBe(200)
    expect(fromProtobuf).toEqual(collector.spans())
    expect(fromProtobuf).toHaveLength(3)
    expect(collector.errors()).toEqual([])
    collector.clear()
  })

  it("writes log records a collector reads as it reads their JSON", async () => {
    const record: OtlpLogRecord = {
      timeUnixNano: "1796218338061000000",
      observedTimeUnixNano: "1796218338061000000",
      severityNumber: 13,
      severityText: "WARN",
      body: { stringValue: "Cannot connect to the database: SQLSTATE 53300" },
      attributes: entriesToAttributes([["http.request.id", "req-1"], ["duration_ms", 2.5]]),
      droppedAttributesCount: 0,
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7"
    }
    const records = [record, { ...record, traceId: undefined, spanId: undefined } as unknown as OtlpLogRecord]
    expect((await post("/v1/logs", encodeLogRecords(resource, scope, records), "application/x-protobuf")).status).toBe(200)
    const fromProtobuf = collector.logs()
    collector.clear()
    const json = JSON.stringify({ resourceLogs: [{ resource, scopeLogs: [{ scope, logRecords: records }] }] })
    expect((await post("/v1/logs", json, "application/json")).status).toBe(200)
    expect(fromProtobuf).toEqual(collector.logs())
    expect(fromProtobuf).toHaveLength(2)
  })
})
