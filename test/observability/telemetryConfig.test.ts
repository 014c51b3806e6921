import { describe, expect, it } from "vitest"
import { makeSampler } from "../../src/server/observability/Sampler.ts"
import { interpretTelemetry } from "../../src/server/observability/TelemetryConfig.ts"

describe("the OTEL_* variables, read as the OpenTelemetry specification reads them", () => {
  it("export nothing when none is set", () => {
    const settings = interpretTelemetry({})
    expect([settings.traces, settings.metrics, settings.logs]).toEqual([undefined, undefined, undefined])
    expect(settings.serviceName).toBe("task-api")
    expect(settings.sampler).toEqual({ kind: "parentbased_always_on", ratio: 1 })
    expect(settings.warnings).toEqual([])
  })

  it("export traces and metrics, not logs, to an endpoint set alone, with the signal's path, over protobuf", () => {
    const settings = interpretTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })
    expect(settings.traces).toEqual({ url: "http://collector:4318/v1/traces", protocol: "http/protobuf", headers: {} })
    expect(settings.metrics?.url).toBe("http://collector:4318/v1/metrics")
    expect(settings.logs).toBeUndefined()
  })

  it("take a signal's own endpoint as it is, its own protocol and headers over the shared ones", () => {
    const settings = interpretTelemetry({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/api/spans",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc,x-tenant=a",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=b"
    })
    expect(settings.traces).toEqual({
      url: "https://traces.example/api/spans",
      protocol: "http/json",
      headers: { authorization: "Bearer abc", "x-tenant": "b" }
    })
    expect(settings.metrics).toEqual({
      url: "http://collector:4318/v1/metrics",
      protocol: "http/protobuf",
      headers: { authorization: "Bearer abc", "x-tenant": "a" }
    })
  })

  it("turn a signal off with `none`, on with `otlp` (logs too), and everything off with OTEL_SDK_DISABLED", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }
    const some = interpretTelemetry({ ...endpoint, OTEL_METRICS_EXPORTER: "none", OTEL_LOGS_EXPORTER: "otlp" })
    expect(some.traces).toBeDefined()
    expect(some.metrics).toBeUndefined()
    expect(some.logs?.url).toBe("http://collector:4318/v1/logs")
    const off = interpretTelemetry({ ...endpoint, OTEL_LOGS_EXPORTER: "otlp", OTEL_SDK_DISABLED: "true" })
    expect([off.traces, off.metrics, off.logs]).toEqual([undefined, undefined, undefined])
  })

  it("send an exporter named without an endpoint to the specification's default, a local collector", () => {
    expect(interpretTelemetry({ OTEL_TRACES_EXPORTER: "otlp" }).traces?.url).toBe("http://localhost:4318/v1/traces")
  })

  it("name the service and its resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES", () => {
    const settings = interpretTelemetry({
      OTEL_RESOURCE_ATTRIBUTES: "service.name=from-attributes,deployment.environment=staging,team=a%2Cb"
    })
    expect(settings.serviceName).toBe("from-attributes")
    expect(settings.resourceAttributes).toMatchObject({ "deployment.environment": "staging", team: "a,b" })
    expect(interpretTelemetry({ OTEL_SERVICE_NAME: "tasks-eu" }).serviceName).toBe("tasks-eu")
  })

  it("warn about what it cannot honour, and keep to the defaults", () => {
    const settings = interpretTelemetry({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_TRACES_SAMPLER: "jaeger_remote",
      OTEL_METRICS_EXPORTER: "prometheus,otlp",
      OTEL_BSP_MAX_QUEUE_SIZE: "-1"
    })
    expect(settings.traces?.protocol).toBe("http/protobuf")
    expect(settings.sampler.kind).toBe("parentbased_always_on")
    expect(settings.metrics).toBeDefined()
    expect(settings.batch.maxQueueSize).toBe(2048)
    expect(settings.warnings).toHaveLength(4)
  })

  it("read every sampler and its ratio", () => {
    for (const kind of ["always_on", "always_off", "traceidratio", "parentbased_always_off", "parentbased_traceidratio"]) {
      expect(interpretTelemetry({ OTEL_TRACES_SAMPLER: kind, OTEL_TRACES_SAMPLER_ARG: "0.25" }).sampler.kind).toBe(kind)
    }
    expect(interpretTelemetry({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" }).sampler.ratio)
      .toBe(0.25)
    const wrong = interpretTelemetry({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" })
    expect(wrong.sampler.ratio).toBe(1)
    expect(wrong.warnings).toHaveLength(1)
  })
})

describe("the sampler", () => {
  const low = "4bf92f3577b34da6a3ce929d0e0e4736".slice(0, 19) + "0000000000000" // low bits 0: under any ratio
  const high = "4bf92f3577b34da6a3ce929d0e0e4736".slice(0, 19) + "fffffffffffff" // low bits all set: over any ratio < 1

  it("samples by trace id, the same way every time, for a share of traces near the ratio", () => {
    const sample = makeSampler("traceidratio", 0.1)
    expect(sample(undefined, low)).toBe(true)
    expect(sample(undefined, high)).toBe(false)
    expect(sample(true, high)).toBe(false)
    const ids = Array.from({ length: 20_000 }, (_, i) => (i * 2654435761 % 2 ** 32).toString(16).padStart(32, "0"))
    const share = ids.filter((id) => sample(undefined, id.slice(0, 19) + crypto.randomUUID().replaceAll("-", "").slice(0, 13)))
      .length / ids.length
    expect(share).toBeGreaterThan(0.08)
    expect(share).toBeLessThan(0.12)
    expect(ids.map((id) => sample(undefined, id))).toEqual(ids.map((id) => sample(undefined, id)))
  })

  it("follows a caller's sampled flag when parent-based, and decides alone when not", () => {
    const parentBased = makeSampler("parentbased_traceidratio", 0.1)
    expect(parentBased(true, high)).toBe(true)
    expect(parentBased(false, low)).toBe(false)
    expect(parentBased(undefined, low)).toBe(true)
    expect(makeSampler("parentbased_always_on", 1)(false, low)).toBe(false)
    expect(makeSampler("always_on", 1)(false, low)).toBe(true)
    expect(makeSampler("always_off", 1)(true, low)).toBe(false)
  })
})
