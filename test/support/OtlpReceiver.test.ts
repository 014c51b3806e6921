import { gzipSync } from "node:zlib"
import * as Effect from "effect/Effect"
import type { LogsData } from "effect/observability/OtlpLogger"
import type { MetricsData } from "effect/observability/OtlpMetrics"
import type { Resource } from "effect/observability/OtlpResource"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import type { TraceData } from "effect/observability/OtlpTracer"
import { describe, expect, it } from "vitest"
import { type OtlpReceiver, startOtlpReceiver } from "./OtlpReceiver.ts"

// The decoder is proved against the encoders the service itself exports with
const serializer = (layer: typeof OtlpSerialization.layerJson) =>
  Effect.runSync(
    Effect.gen(function*() {
      return yield* OtlpSerialization.OtlpSerialization
    }).pipe(Effect.provide(layer))
  )
const encodings = {
  json: serializer(OtlpSerialization.layerJson),
  protobuf: serializer(OtlpSerialization.layerProtobuf)
}
type Encoding = keyof typeof encodings
type Body = ReturnType<typeof encodings.json.traces>

const bodyBytes = (body: Body) => {
  if (body._tag !== "Uint8Array") throw new Error(`unexpected body ${body._tag}`)
  return { bytes: Uint8Array.from(body.body), contentType: body.contentType }
}

const post = (url: string, body: Body, headers: Record<string, string> = {}) => {
  const { bytes, contentType } = bodyBytes(body)
  return fetch(url, { method: "POST", headers: { "content-type": contentType, ...headers }, body: bytes })
}

const withReceiver = async (use: (receiver: OtlpReceiver) => Promise<void>) => {
  const receiver = await startOtlpReceiver()
  try {
    await use(receiver)
  } finally {
    await receiver.close()
  }
}

/** Sends `body` in each encoding to a fresh receiver and gives what each made of it. */
const receiveBoth = async <A>(
  path: string,
  encode: (encoding: Encoding) => Body,
  read: (receiver: OtlpReceiver) => A
): Promise<Record<Encoding, A>> => {
  const results = {} as Record<Encoding, A>
  for (const encoding of ["json", "protobuf"] as const) {
    await withReceiver(async (receiver) => {
      const response = await post(`${receiver.url}${path}`, encode(encoding))
      expect(response.status).toBe(200)
      if (encoding === "json") {
        expect(response.headers.get("content-type")).toBe("application/json")
        expect(await response.json()).toEqual({})
      } else {
        expect(response.headers.get("content-type")).toBe("application/x-protobuf")
        expect((await response.arrayBuffer()).byteLength).toBe(0)
      }
      expect(receiver.errors()).toEqual([])
      results[encoding] = read(receiver)
    })
  }
  return results
}

const traceId = "5b8efff798038103d269b633813fc60c"
const rootSpanId = "eee19b7ec3c1b174"
const childSpanId = "0a1b2c3d4e5f6071"
const start = "1767225600000000000"

const resource: Resource = {
  attributes: [
    { key: "service.name", value: { stringValue: "task-api" } },
    { key: "service.version", value: { stringValue: "0.1.0" } },
    { key: "telemetry.sdk.name", value: { stringValue: "effect" } },
    { key: "telemetry.sdk.language", value: { stringValue: "nodejs" } },
    { key: "process.pid", value: { intValue: 4242 } }
  ],
  droppedAttributesCount: 0
}
const expectedResource = {
  "service.name": "task-api",
  "service.version": "0.1.0",
  "telemetry.sdk.name": "effect",
  "telemetry.sdk.language": "nodejs",
  "process.pid": 4242
}

const traces: TraceData = {
  resourceSpans: [{
    resource,
    scopeSpans: [{
      scope: { name: "task-api" },
      spans: [
        {
          traceId,
          spanId: rootSpanId,
          parentSpanId: undefined,
          name: "http.server POST",
          kind: 2,
          startTimeUnixNano: start,
          endTimeUnixNano: "1767225600012345678",
          attributes: [
            { key: "http.request.method", value: { stringValue: "POST" } },
            { key: "http.response.status_code", value: { intValue: 201 } },
            { key: "task.offset", value: { intValue: -3 } },
            // The smallest int64, whose varint takes all 10 bytes
            { key: "int64.min", value: { intValue: "-9223372036854775808" } },
            { key: "int64.big", value: { intValue: "9007199254740993" } },
            { key: "sample.ratio", value: { doubleValue: 0.25 } },
            { key: "load.max", value: { doubleValue: Infinity } },
            { key: "cache.hit", value: { boolValue: false } },
            { key: "empty", value: { stringValue: "" } },
            {
              key: "task.tags",
              value: {
                arrayValue: {
                  values: [{ stringValue: "a" }, { intValue: 2 }, { boolValue: true }, { doubleValue: -1.5 }]
                }
              }
            }
          ],
          droppedAttributesCount: 0,
          events: [{
            name: "task.created",
            timeUnixNano: "1767225600010000000",
            attributes: [{ key: "task.id", value: { stringValue: "t-1" } }],
            droppedAttributesCount: 0
          }],
          droppedEventsCount: 0,
          status: { code: 1 },
          links: [],
          droppedLinksCount: 0
        },
        {
          traceId,
          spanId: childSpanId,
          parentSpanId: rootSpanId,
          name: "pg.query",
          kind: 3,
          startTimeUnixNano: "1767225600001000000",
          endTimeUnixNano: "1767225600009000000",
          attributes: [
            { key: "db.params", value: { kvlistValue: { values: [{ key: "limit", value: { intValue: 10 } }] } } },
            { key: "db.raw", value: { bytesValue: new Uint8Array([0, 1, 254, 255]) } }
          ],
          droppedAttributesCount: 0,
          events: [{
            name: "exception",
            timeUnixNano: "1767225600009000000",
            attributes: [
              { key: "exception.type", value: { stringValue: "Error" } },
              { key: "exception.message", value: { stringValue: "connection refused" } }
            ],
            droppedAttributesCount: 0
          }],
          droppedEventsCount: 0,
          status: { code: 2, message: "connection refused" },
          links: [{ traceId, spanId: rootSpanId, attributes: [], droppedAttributesCount: 0 }],
          droppedLinksCount: 0
        }
      ]
    }]
  }]
}

const metrics: MetricsData = {
  resourceMetrics: [{
    resource,
    scopeMetrics: [{
      scope: { name: "task-api" },
      metrics: [
        {
          name: "http_requests_total",
          description: "Requests served",
          unit: "1",
          sum: {
            aggregationTemporality: 2,
            isMonotonic: true,
            dataPoints: [
              {
                attributes: [{ key: "method", value: { stringValue: "GET" } }, { key: "status", value: { intValue: 200 } }],
                startTimeUnixNano: start,
                timeUnixNano: "1767225610000000000",
                asInt: 42
              },
              {
                attributes: [{ key: "method", value: { stringValue: "POST" } }],
                startTimeUnixNano: start,
                timeUnixNano: "1767225610000000000",
                asInt: "9007199254740993"
              }
            ]
          }
        },
        {
          name: "db_pool_usage",
          gauge: {
            dataPoints: [{ attributes: [], startTimeUnixNano: start, timeUnixNano: "1767225610000000000", asDouble: -0.75 }]
          }
        },
        {
          name: "clock_skew",
          unit: "ms",
          gauge: {
            dataPoints: [{ attributes: [], startTimeUnixNano: start, timeUnixNano: "1767225610000000000", asInt: -12 }]
          }
        },
        {
          name: "http_request_duration",
          description: "Time to answer",
          unit: "ms",
          histogram: {
            aggregationTemporality: 2,
            dataPoints: [{
              attributes: [{ key: "route", value: { stringValue: "/tasks" } }],
              startTimeUnixNano: start,
              timeUnixNano: "1767225610000000000",
              count: 6,
              sum: 123.5,
              bucketCounts: [1, 2, 3, 0],
              explicitBounds: [5, 10, 25],
              min: 1.5,
              max: 24
            }]
          }
        },
        {
          name: "http_request_size",
          unit: "By",
          summary: {
            dataPoints: [{
              attributes: [],
              startTimeUnixNano: start,
              timeUnixNano: "1767225610000000000",
              count: 3,
              sum: 300,
              quantileValues: [{ quantile: 0.5, value: 100 }]
            }]
          }
        }
      ]
    }]
  }]
}

const logs: LogsData = {
  resourceLogs: [{
    resource,
    scopeLogs: [{
      scope: { name: "task-api" },
      logRecords: [
        {
          timeUnixNano: "1767225600005000000",
          observedTimeUnixNano: "1767225600005001000",
          severityNumber: 9,
          severityText: "Info",
          body: { stringValue: "task created" },
          attributes: [
            { key: "effect.fiberId", value: { intValue: 7 } },
            { key: "effect.log_span.request", value: { intValue: 3 } },
            { key: "task.id", value: { stringValue: "t-1" } }
          ],
          droppedAttributesCount: 0,
          traceId,
          spanId: rootSpanId
        },
        {
          timeUnixNano: "1767225600006000000",
          observedTimeUnixNano: "1767225600006001000",
          severityNumber: 17,
          severityText: "Error",
          body: { arrayValue: { values: [{ stringValue: "database down" }, { intValue: 2 }] } },
          attributes: [{ key: "exception.type", value: { stringValue: "SqlError" } }],
          droppedAttributesCount: 0
        }
      ]
    }]
  }]
}

describe("OtlpReceiver decodes OTLP/JSON and OTLP/protobuf alike", () => {
  it("spans", async () => {
    const received = await receiveBoth("/v1/traces", (encoding) => encodings[encoding].traces(traces), (r) => r.spans())
    expect(received.protobuf).toStrictEqual(received.json)
    expect(received.json).toEqual([
      {
        traceId,
        spanId: rootSpanId,
        parentSpanId: undefined,
        traceState: "",
        name: "http.server POST",
        kind: 2,
        startTimeUnixNano: start,
        endTimeUnixNano: "1767225600012345678",
        attributes: {
          "http.request.method": "POST",
          "http.response.status_code": 201,
          "task.offset": -3,
          "int64.min": -9223372036854775808,
          "int64.big": 9007199254740992,
          "sample.ratio": 0.25,
          "load.max": Infinity,
          "cache.hit": false,
          "empty": "",
          "task.tags": ["a", 2, true, -1.5]
        },
        status: { code: 1 },
        events: [{ name: "task.created", attributes: { "task.id": "t-1" } }],
        resource: expectedResource,
        scope: "task-api"
      },
      {
        traceId,
        spanId: childSpanId,
        parentSpanId: rootSpanId,
        traceState: "",
        name: "pg.query",
        kind: 3,
        startTimeUnixNano: "1767225600001000000",
        endTimeUnixNano: "1767225600009000000",
        attributes: { "db.params": { limit: 10 }, "db.raw": new Uint8Array([0, 1, 254, 255]) },
        status: { code: 2, message: "connection refused" },
        events: [{
          name: "exception",
          attributes: { "exception.type": "Error", "exception.message": "connection refused" }
        }],
        resource: expectedResource,
        scope: "task-api"
      }
    ])
  })

  it("metric data points", async () => {
    const received = await receiveBoth("/v1/metrics", (encoding) => encodings[encoding].metrics(metrics), (r) => r.metrics())
    expect(received.protobuf).toStrictEqual(received.json)
    expect(received.json).toEqual([
      {
        name: "http_requests_total",
        unit: "1",
        type: "sum",
        attributes: { method: "GET", status: 200 },
        value: 42,
        resource: expectedResource
      },
      {
        name: "http_requests_total",
        unit: "1",
        type: "sum",
        attributes: { method: "POST" },
        value: 9007199254740992,
        resource: expectedResource
      },
      { name: "db_pool_usage", type: "gauge", attributes: {}, value: -0.75, resource: expectedResource },
      { name: "clock_skew", unit: "ms", type: "gauge", attributes: {}, value: -12, resource: expectedResource },
      {
        name: "http_request_duration",
        unit: "ms",
        type: "histogram",
        attributes: { route: "/tasks" },
        count: 6,
        sum: 123.5,
        bucketCounts: [1, 2, 3, 0],
        explicitBounds: [5, 10, 25],
        resource: expectedResource
      },
      {
        name: "http_request_size",
        unit: "By",
        type: "summary",
        attributes: {},
        count: 3,
        sum: 300,
        resource: expectedResource
      }
    ])
    // No unit key at all where none was sent, so toStrictEqual comparisons hold
    expect(Object.keys(received.json[2]!)).not.toContain("unit")
  })

  it("log records", async () => {
    const received = await receiveBoth("/v1/logs", (encoding) => encodings[encoding].logs(logs), (r) => r.logs())
    expect(received.protobuf).toStrictEqual(received.json)
    expect(received.json).toEqual([
      {
        timeUnixNano: "1767225600005000000",
        severityNumber: 9,
        severityText: "Info",
        body: "task created",
        attributes: { "effect.fiberId": 7, "effect.log_span.request": 3, "task.id": "t-1" },
        traceId,
        spanId: rootSpanId,
        resource: expectedResource
      },
      {
        timeUnixNano: "1767225600006000000",
        severityNumber: 17,
        severityText: "Error",
        body: "[\"database down\",2]",
        attributes: { "exception.type": "SqlError" },
        resource: expectedResource
      }
    ])
    expect(Object.keys(received.json[1]!)).not.toContain("traceId")
  })

  it("records each request, its headers and its body as text", async () => {
    await withReceiver(async (receiver) => {
      const headers = { authorization: "Bearer otlp-secret" }
      await post(`${receiver.url}/v1/traces`, encodings.json.traces(traces), headers)
      await post(`${receiver.url}/v1/traces`, encodings.protobuf.traces(traces), headers)
      const requests = receiver.requests()
      expect(requests.map((request) => [request.path, request.contentType])).toEqual([
        ["/v1/traces", "application/json"],
        ["/v1/traces", "application/x-protobuf"]
      ])
      for (const [request, encoding] of [[requests[0]!, "json"], [requests[1]!, "protobuf"]] as const) {
        expect(request.bytes).toBe(bodyBytes(encodings[encoding].traces(traces)).bytes.length)
        expect(request.headers.authorization).toBe("Bearer otlp-secret")
      }
      const [json, protobuf] = receiver.rawBodies()
      expect(json).toBe(new TextDecoder().decode(bodyBytes(encodings.json.traces(traces)).bytes))
      for (const text of [json!, protobuf!]) {
        expect(text).toContain("connection refused")
        expect(text).toContain(traceId)
      }
      // Decoded protobuf reads like OTLP/JSON, so one search fits both
      expect(JSON.parse(protobuf!).resourceSpans[0].scopeSpans[0].spans[1].parentSpanId).toBe(rootSpanId)

      receiver.clear()
      expect([receiver.spans(), receiver.requests(), receiver.rawBodies()]).toEqual([[], [], []])
    })
  })

  it("undoes gzip content-encoding", async () => {
    await withReceiver(async (receiver) => {
      const { bytes } = bodyBytes(encodings.json.logs(logs))
      const response = await fetch(`${receiver.url}/v1/logs`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
        body: Uint8Array.from(gzipSync(bytes))
      })
      expect(response.status).toBe(200)
      expect(receiver.logs().map((log) => log.body)).toEqual(["task created", "[\"database down\",2]"])
    })
  })
})

// A minimal protobuf writer, for what Effect's encoder never writes
const varint = (value: bigint): Array<number> => {
  const bytes: Array<number> = []
  let n = BigInt.asUintN(64, value)
  while (n > 127n) {
    bytes.push(Number(n & 127n) | 0x80)
    n >>= 7n
  }
  return [...bytes, Number(n)]
}
const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire))
const len = (field: number, bytes: ReadonlyArray<number>) => [...tag(field, 2), ...varint(BigInt(bytes.length)), ...bytes]
const str = (field: number, value: string) => len(field, [...new TextEncoder().encode(value)])
const fixed64 = (value: bigint) => {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, value, true)
  return [...new Uint8Array(view.buffer)]
}
const double = (value: number) => {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, value, true)
  return [...new Uint8Array(view.buffer)]
}

describe("OtlpReceiver reads protobuf as any encoder may write it", () => {
  it("packed repeated fields, sfixed64 ints and unknown fields", async () => {
    const histogramPoint = [
      ...tag(4, 1), ...fixed64(5n),
      ...len(6, [1n, 4n].flatMap(fixed64)), // packed bucket_counts
      ...len(7, [10].flatMap(double)), // packed explicit_bounds
      ...tag(99, 0), ...varint(-1n), // unknown fields, of each wire type
      ...len(100, [1, 2, 3]),
      ...tag(101, 5), 1, 2, 3, 4,
      ...tag(102, 1), ...fixed64(7n)
    ]
    const gaugePoint = [...tag(6, 1), ...fixed64(BigInt.asUintN(64, -12n))] // as_int is sfixed64
    const metric = (name: string, dataField: number, point: Array<number>) => [...str(1, name), ...len(dataField, len(1, point))]
    const body = len(1, [
      ...len(1, len(1, [...str(1, "service.name"), ...len(2, str(1, "hand-made"))])),
      ...len(2, [
        ...len(1, str(1, "scope")),
        ...len(2, metric("latency", 9, histogramPoint)),
        ...len(2, metric("balance", 5, gaugePoint))
      ])
    ])
    await withReceiver(async (receiver) => {
      const response = await fetch(`${receiver.url}/v1/metrics`, {
        method: "POST",
        headers: { "content-type": "application/x-protobuf" },
        body: Uint8Array.from(body)
      })
      expect(response.status).toBe(200)
      expect(receiver.metrics()).toStrictEqual([
        {
          name: "latency",
          type: "histogram",
          attributes: {},
          count: 5,
          bucketCounts: [1, 4],
          explicitBounds: [10],
          resource: { "service.name": "hand-made" }
        },
        { name: "balance", type: "gauge", attributes: {}, value: -12, resource: { "service.name": "hand-made" } }
      ])
    })
  })

  it("rejects a truncated body with a 400 and keeps nothing of it", async () => {
    await withReceiver(async (receiver) => {
      const { bytes } = bodyBytes(encodings.protobuf.traces(traces))
      const response = await fetch(`${receiver.url}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/x-protobuf" },
        body: bytes.subarray(0, bytes.length - 3)
      })
      expect(response.status).toBe(400)
      expect(receiver.errors()).toEqual([expect.stringContaining("truncated")])
      expect([receiver.spans(), receiver.rawBodies()]).toEqual([[], []])
      expect(receiver.requests()).toHaveLength(1)
    })
  })

  it("answers 404 elsewhere and 415 to other content types", async () => {
    await withReceiver(async (receiver) => {
      expect((await fetch(`${receiver.url}/v1/profiles`, { method: "POST", body: "{}" })).status).toBe(404)
      const headers = { "content-type": "text/plain" }
      expect((await fetch(`${receiver.url}/v1/logs`, { method: "POST", headers, body: "{}" })).status).toBe(415)
    })
  })
})

describe("OtlpReceiver behaviours", () => {
  it("fail answers 503 and keeps no data, until set back to ok", async () => {
    await withReceiver(async (receiver) => {
      receiver.setBehaviour("fail")
      const failed = await post(`${receiver.url}/v1/traces`, encodings.json.traces(traces))
      expect(failed.status).toBe(503)
      expect(receiver.requests()).toHaveLength(1)
      expect(receiver.spans()).toEqual([])

      receiver.setBehaviour("ok")
      expect((await post(`${receiver.url}/v1/traces`, encodings.protobuf.traces(traces))).status).toBe(200)
      expect(receiver.spans()).toHaveLength(2)
    })
  })

  it("hang holds a request unanswered until close", async () => {
    const receiver = await startOtlpReceiver({ behaviour: "hang" })
    let settled = false
    const pending = post(`${receiver.url}/v1/metrics`, encodings.protobuf.metrics(metrics)).finally(() => {
      settled = true
    })
    // The assertion below is on the rejection; this keeps Node from reporting it unhandled meanwhile
    pending.catch(() => {})
    await receiver.waitFor(() => receiver.requests().length === 1, 5_000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(settled).toBe(false)

    const closing = performance.now()
    await receiver.close()
    await expect(pending).rejects.toThrow()
    expect(performance.now() - closing).toBeLessThan(1_000)
    expect(receiver.metrics()).toEqual([])
  })

  it("waitFor rejects once its time is up", async () => {
    await withReceiver(async (receiver) => {
      await expect(receiver.waitFor(() => false, 50)).rejects.toThrow("not within 50 ms")
    })
  })
})
