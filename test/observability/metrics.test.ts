import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bearer, signToken } from "../support/Auth.ts"
import { expectProblem } from "../support/Http.ts"
import { parseExposition, promtool, sampleValue } from "../support/Prometheus.ts"
import { freePort, startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { type ObservedServer, startObservedServer } from "../support/Telemetry.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

const json = { "content-type": "application/json" }
const knownRoutes = ["/tasks", "/tasks/{id}", "/health", "/ready", "/openapi.json", "/docs", "/metrics", "unmatched"]

describe("GET /metrics", () => {
  let database: TestDatabase
  let server: ServerProcess
  beforeAll(async () => {
    database = await createTestDatabase()
    // A rate limit the test reaches, to see /metrics stay outside it.
    server = await startServer({ ...database.serviceEnv, RATE_LIMIT_REQUESTS: "5", LOG_LEVEL: "warning" })
  })
  afterAll(async () => {
    await server?.stop()
    await database?.drop()
  })

  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
    return response.text()
  }
  const send = (path: string, init: RequestInit = {}) => fetch(server.url + path, init)

  it("counts requests by method, route and status, the service's own events, and the process", async () => {
    const alice = bearer("alice")
    const created = await send("/tasks", { method: "POST", headers: { ...alice, ...json, "idempotency-key": "k1" }, body: "{\"title\":\"t\"}" })
    const replayed = await send("/tasks", { method: "POST", headers: { ...alice, ...json, "idempotency-key": "k1" }, body: "{\"title\":\"t\"}" })
    expect([created.status, replayed.status]).toEqual([201, 201])
    const { id } = (await created.json()) as { id: string }
    expect((await send(`/tasks/${id}`, { headers: alice })).status).toBe(200)
    expect((await send(`/tasks/${id}`, { method: "PATCH", headers: { ...alice, ...json }, body: "{\"status\":\"completed\"}" })).status)
      .toBe(200)
    // Alice's bucket (5) is empty after this one: a 429.
    expect((await send(`/tasks/${id}`, { method: "DELETE", headers: alice })).status).toBe(204)
    expect((await send("/tasks", { headers: alice })).status).toBe(429)
    expect((await send("/tasks", { headers: { authorization: "Bearer not-a-jwt" } })).status).toBe(401)
    expect((await send("/tasks", { headers: { authorization: `Bearer ${signToken({ sub: "bob", exp: 1 })}` } })).status)
      .toBe(401)

    const text = await scrape()
    const samples = parseExposition(text)
    const requests = (method: string, route: string, status: string) =>
      sampleValue(samples, "http_server_request_duration_seconds_count", {
        http_request_method: method,
        http_route: route,
        http_response_status_code: status
      })
    expect(requests("POST", "/tasks", "201")).toBe(2)
    expect(requests("GET", "/tasks/{id}", "200")).toBe(1)
    expect(requests("PATCH", "/tasks/{id}", "200")).toBe(1)
    expect(requests("DELETE", "/tasks/{id}", "204")).toBe(1)
    expect(requests("GET", "/tasks", "429")).toBe(1)
    expect(requests("GET", "/tasks", "401")).toBe(2)
    expect(text).toContain("http_server_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/tasks\",http_response_status_code=\"201\",le=\"0.005\"}")
    expect(sampleValue(samples, "http_server_active_requests")).toBe(1) // the scrape itself
    expect(sampleValue(samples, "db_client_operation_duration_seconds_count", { db_operation_name: "INSERT" })).toBe(2)
    expect(sampleValue(samples, "db_client_operation_duration_seconds_count", { db_operation_name: "UPDATE" })).toBe(1)
    expect(sampleValue(samples, "task_api_tasks_created_total")).toBe(1)
    expect(sampleValue(samples, "task_api_idempotent_replays_total")).toBe(1)
    expect(sampleValue(samples, "task_api_tasks_updated_total")).toBe(1)
    expect(sampleValue(samples, "task_api_tasks_deleted_total")).toBe(1)
    expect(sampleValue(samples, "task_api_rate_limited_total")).toBe(1)
    expect(sampleValue(samples, "task_api_unauthorized_total", { reason: "malformed" })).toBe(1)
    expect(sampleValue(samples, "task_api_unauthorized_total", { reason: "expired" })).toBe(1)
    expect(sampleValue(samples, "task_api_unavailable_total", { cause: "database" })).toBe(0)
    expect(sampleValue(samples, "task_api_ready")).toBe(1)
    expect(sampleValue(samples, "process_cpu_seconds_total")).toBeGreaterThan(0)
    expect(sampleValue(samples, "process_resident_memory_bytes")).toBeGreaterThan(20_000_000)
    expect(sampleValue(samples, "nodejs_heap_size_used_bytes")).toBeGreaterThan(1_000_000)
    expect(sampleValue(samples, "process_start_time_seconds")).toBeLessThanOrEqual(Date.now() / 1000)
    expect(sampleValue(samples, "nodejs_eventloop_lag_p99_seconds")).toBeGreaterThanOrEqual(0)
  })

  it("is an exposition promtool accepts", async () => {
    const checked = promtool(["check", "metrics"], { input: await scrape() })
    expect(checked.status, checked.output).toBe(0)
  })

  it("is open like /health: no token, no rate limit", async () => {
    for (let i = 0; i < 10; i++) expect((await send("/metrics")).status).toBe(200)
    const wrongMethod = await send("/metrics", { method: "POST" })
    await expectProblem(wrongMethod, 405)
    expect(wrongMethod.headers.get("allow")).toBe("GET, HEAD")
  })

  it("keeps its series bounded whatever paths and methods clients send", async () => {
    const seriesOf = async () =>
      parseExposition(await scrape()).filter((sample) => sample.name === "http_server_request_duration_seconds_count")
    const before = (await seriesOf()).length
    const segment = fc.oneof(fc.constantFrom("tasks", "health", "metrics", ""), fc.string({ maxLength: 12 }))
    const requests = fc.sample(
      fc.tuple(
        fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND", "BREW"),
        fc.array(segment, { minLength: 1, maxLength: 4 })
      ),
      { numRuns: 1_000, seed: 42 }
    )
    for (const [method, segments] of requests) {
      const response = await send(`/${segments.map(encodeURIComponent).join("/")}`, { method })
      await response.arrayBuffer()
    }
    const after = await seriesOf()
    expect(new Set(after.map((sample) => sample.labels.http_route))).toEqual(
      new Set(after.map((sample) => sample.labels.http_route).filter((route) => knownRoutes.includes(route!)))
    )
    expect(new Set(after.map((sample) => sample.labels.http_request_method)).size).toBeLessThanOrEqual(8)
    // Routes × bounded methods × the statuses they answer: tens, not a thousand.
    expect(after.length - before).toBeLessThan(40)
  })
})

describe("METRICS and METRICS_PORT", () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database?.drop())

  it("METRICS=false removes /metrics", async () => {
    const server = await startServer({ ...database.serviceEnv, METRICS: "false", LOG_LEVEL: "warning" })
    try {
      await expectProblem(await fetch(`${server.url}/metrics`), 404)
    } finally {
      await server.stop()
    }
  })

  it("METRICS_PORT serves /metrics there, with the probes, and the main port has no /metrics", async () => {
    const metricsPort = await freePort()
    const server = await startServer({ ...database.serviceEnv, METRICS_PORT: String(metricsPort), LOG_LEVEL: "warning" })
    try {
      await fetch(`${server.url}/health`)
      await expectProblem(await fetch(`${server.url}/metrics`), 404)
      const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
      expect(scraped.status).toBe(200)
      expect(scraped.headers.get("cache-control")).toBe("no-store")
      const samples = parseExposition(await scraped.text())
      // The test's own start-up polls /health too.
      expect(sampleValue(samples, "http_server_request_duration_seconds_count", { http_route: "/health" })).toBeGreaterThan(0)
      for (const probe of ["/health", "/ready"]) {
        const answer = await fetch(`http://127.0.0.1:${metricsPort}${probe}`)
        expect(answer.status, probe).toBe(200)
        expect(await answer.json()).toEqual({ status: "ok" })
        expect(answer.headers.get("cache-control")).toBe("no-store")
      }
      await expectProblem(await fetch(`http://127.0.0.1:${metricsPort}/tasks`), 404)
      await expectProblem(await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: "DELETE" }), 405)
    } finally {
      await server.stop()
    }
  })
})

describe("metrics over OTLP", () => {
  let observed: ObservedServer
  beforeAll(async () => {
    observed = await startObservedServer({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_TRACES_EXPORTER: "none" })
  })
  afterAll(() => observed?.close())

  it("sends the same instruments, under their OpenTelemetry names and units", async () => {
    expect((await observed.send("/tasks")).status).toBe(200)
    const { collector } = observed
    const isRequests = (metric: { name: string; attributes: Record<string, unknown> }) =>
      metric.name === "http.server.request.duration" && metric.attributes["http.route"] === "/tasks"
    await collector.waitFor(() => collector.metrics().some(isRequests))
    expect(collector.metrics().find(isRequests)).toMatchObject({
      type: "histogram",
      unit: "s",
      count: 1,
      attributes: { "http.request.method": "GET", "http.response.status_code": "200" },
      resource: { "service.name": "task-api" }
    })
    expect(collector.metrics().map((metric) => metric.name)).toEqual(
      expect.arrayContaining(["process_resident_memory_bytes", "task_api.tasks.created", "db.client.operation.duration"])
    )
    expect(collector.spans()).toEqual([])
  })
})
