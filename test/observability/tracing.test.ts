import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { tokenFor } from "../support/Auth.ts"
import { sendRaw } from "../support/Http.ts"
import type { ReceivedSpan } from "../support/OtlpReceiver.ts"
import { type ObservedServer, startObservedServer } from "../support/Telemetry.ts"

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const traceparent = (traceId: string, parentId: string, sampled = true) => `00-${traceId}-${parentId}-${sampled ? "01" : "00"}`
const SERVER = 2
const CLIENT = 3
const INTERNAL = 1

const json = { "content-type": "application/json" }

/** The spans of one trace, and its server span's children by name. */
const traceOf = (spans: ReadonlyArray<ReceivedSpan>, traceId: string) => {
  const mine = spans.filter((span) => span.traceId === traceId)
  const server = mine.find((span) => span.kind === SERVER)
  const childrenOf = (parent: ReceivedSpan | undefined) =>
    parent === undefined ? [] : mine.filter((span) => span.parentSpanId === parent.spanId)
  return { spans: mine, server, childrenOf }
}

for (const protocol of ["http/protobuf", "http/json"] as const) {
  describe(`traces over OTLP (${protocol})`, () => {
    let observed: ObservedServer
    // Values that must never travel in telemetry: the caller, their token and their words.
    const owner = `owner-${hex(6)}`
    const token = tokenFor(owner)
    const title = `title-${hex(6)}`
    const description = `description-${hex(6)}`

    beforeAll(async () => {
      observed = await startObservedServer({ OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_LOGS_EXPORTER: "otlp" })
    })
    afterAll(() => observed?.close())

    const send = (path: string, init: RequestInit & { traceId?: string; parentId?: string } = {}) => {
      const headers = new Headers(init.headers)
      headers.set("authorization", `Bearer ${token}`)
      headers.set("user-agent", "task-api-tests/1.0")
      if (init.traceId !== undefined) headers.set("traceparent", traceparent(init.traceId, init.parentId ?? hex(8)))
      return fetch(observed.server.url + path, { ...init, headers })
    }

    it("makes every endpoint one trace, from its SERVER span down to its SQL, continuing the caller's", async () => {
      const created = await send("/tasks", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ title, description }),
        traceId: hex(16)
      })
      expect(created.status).toBe(201)
      const task = (await created.json()) as { id: string }
      const requests = [
        { method: "POST", path: "/tasks", route: "/tasks", status: 201, repo: "TaskRepo.create", sql: "INSERT" },
        { method: "GET", path: "/tasks?limit=5", route: "/tasks", status: 200, repo: "TaskRepo.list", sql: "SELECT" },
        { method: "GET", path: `/tasks/${task.id}`, route: "/tasks/{id}", status: 200, repo: "TaskRepo.findById", sql: "SELECT" },
        { method: "PATCH", path: `/tasks/${task.id}`, route: "/tasks/{id}", status: 200, repo: "TaskRepo.update", sql: "UPDATE" },
        { method: "DELETE", path: `/tasks/${task.id}`, route: "/tasks/{id}", status: 204, repo: "TaskRepo.remove", sql: "DELETE" },
        { method: "GET", path: "/ready", route: "/ready", status: 200, repo: "TaskRepo.ready", sql: "SELECT" }
      ].map((request) => ({ ...request, traceId: hex(16), parentId: hex(8) }))
      for (const request of requests.slice(1)) {
        const response = await send(request.path, {
          method: request.method,
          traceId: request.traceId,
          parentId: request.parentId,
          ...(request.method === "PATCH" ? { headers: json, body: JSON.stringify({ description: `${description}!` }) } : {})
        })
        expect(response.status).toBe(request.status)
      }
      // The create again, now that its trace id is known to the test.
      const again = requests[0]!
      const { parentId, traceId } = again
      expect((await send("/tasks", { method: "POST", headers: json, body: JSON.stringify({ title }), traceId, parentId })).status)
        .toBe(201)

      const { collector, database } = observed
      await collector.waitFor(() => requests.every((request) => traceOf(collector.spans(), request.traceId).server !== undefined))
      const databaseName = new URL(database.url).pathname.slice(1)
      for (const request of requests) {
        const { childrenOf, server } = traceOf(collector.spans(), request.traceId)
        expect(server, `${request.method} ${request.path}`).toMatchObject({
          name: `${request.method} ${request.route}`,
          kind: SERVER,
          parentSpanId: request.parentId,
          attributes: {
            "http.request.method": request.method,
            "http.route": request.route,
            "http.response.status_code": request.status,
            "url.path": request.path.split("?")[0],
            "url.scheme": "http",
            "server.address": "127.0.0.1",
            "server.port": Number(new URL(observed.server.url).port),
            "client.address": "127.0.0.1",
            "user_agent.original": "task-api-tests/1.0"
          }
        })
        expect(server!.attributes["error.type"]).toBeUndefined()
        const children = childrenOf(server)
        const repo = children.find((span) => span.name === request.repo)
        expect(repo?.kind, request.repo).toBe(INTERNAL)
        if (request.route !== "/ready") {
          expect(children.map((span) => span.name)).toEqual(expect.arrayContaining(["TokenVerifier.verify", "RateLimit.consume"]))
        }
        const statements = childrenOf(repo)
        expect(statements.length).toBeGreaterThan(0)
        const statement = statements.find((span) => span.attributes["db.operation.name"] === request.sql)
        expect(statement, `${request.repo}'s ${request.sql}`).toMatchObject({
          name: `${request.sql} ${databaseName}`,
          kind: CLIENT,
          attributes: {
            "db.system.name": "postgresql",
            "db.namespace": databaseName,
            "db.operation.name": request.sql,
            "db.query.text": expect.stringMatching(new RegExp(`^\\s*${request.sql}`))
          }
        })
      }

      // Nothing bound to a statement, and nothing the caller sent in a body
      // or a header, travels in any span, attribute, event or log record.
      await collector.waitFor(() => collector.logs().length > 0)
      const everything = collector.rawBodies().join("\n")
      for (const secret of [owner, token, title, description, token.split(".")[2]!]) {
        expect(everything).not.toContain(secret)
      }
      expect(everything).toContain("$1")
    })

    it("respects the caller's decision not to sample, and carries the caller's tracestate", async () => {
      const unsampled = hex(16)
      const response = await fetch(`${observed.server.url}/tasks`, {
        headers: { authorization: `Bearer ${token}`, traceparent: traceparent(unsampled, hex(8), false) }
      })
      expect(response.status).toBe(200)
      const stated = hex(16)
      await fetch(`${observed.server.url}/tasks`, {
        headers: { authorization: `Bearer ${token}`, traceparent: traceparent(stated, hex(8)), tracestate: "vendor=abc,other=1" }
      })
      const { collector } = observed
      await collector.waitFor(() => traceOf(collector.spans(), stated).server !== undefined)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(traceOf(collector.spans(), unsampled).spans).toEqual([])
      const { spans } = traceOf(collector.spans(), stated)
      expect(spans.length).toBeGreaterThan(3)
      for (const span of spans) expect(span.traceState, span.name).toBe("vendor=abc,other=1")
    })

    it("names every answer with X-Request-Id, taking an acceptable one from the caller, and ties log lines to it", async () => {
      const given = `req-${hex(4)}:${"x".repeat(20)}`
      const kept = await send("/tasks", { headers: { "x-request-id": given } })
      expect(kept.headers.get("x-request-id")).toBe(given)
      for (const unacceptable of ["", "has space", "x".repeat(129), "tab\there"]) {
        const replaced = await send("/tasks", { headers: { "x-request-id": unacceptable } })
        expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
      }
      // The edge's own answers carry one too: no route, wrong method, too large.
      const edges = [
        await send("/nowhere"),
        await send("/tasks", { method: "PUT" }),
        await send("/tasks", { method: "POST", headers: { ...json, "content-length": "70000" }, body: "x".repeat(70_000) })
      ]
      expect(edges.map((response) => response.status)).toEqual([404, 405, 413])
      for (const response of edges) expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
      const tooLarge = await sendRaw(observed.server.url, `GET /tasks HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)
      expect(tooLarge).toMatch(/^HTTP\/1\.1 431 /)
      expect(tooLarge).toMatch(/\r\nX-Request-Id: [0-9a-f-]{36}\r\n/i)

      // The access log line of that request names it, and its trace.
      const { collector, server } = observed
      await collector.waitFor(() => server.output.some((line) => line.includes(given)))
      const line = JSON.parse(server.output.find((line) => line.includes(given))!) as Record<string, string>
      expect(line).toMatchObject({ request_id: given, path: "/tasks", trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) })
      await collector.waitFor(() => collector.spans().some((span) => span.spanId === line.span_id))
      const span = collector.spans().find((span) => span.spanId === line.span_id)!
      expect(span).toMatchObject({ traceId: line.trace_id, kind: SERVER, name: "GET /tasks" })
      await collector.waitFor(() => collector.logs().some((record) => record.attributes["http.request.id"] === given))
      expect(collector.logs().find((record) => record.attributes["http.request.id"] === given)).toMatchObject({
        traceId: line.trace_id,
        body: expect.stringMatching(/^GET \/tasks 200 /)
      })
    })

    it("gives a 5xx problem document its request as `instance`, fails its span, and logs it under that id", async () => {
      const task = (await (await send("/tasks", { method: "POST", headers: json, body: JSON.stringify({ title }) })).json()) as {
        id: string
      }
      await observed.database.query("ALTER TABLE tasks RENAME COLUMN title TO name")
      let response: Response
      try {
        response = await send(`/tasks/${task.id}`, { traceId: hex(16) })
      } finally {
        await observed.database.query("ALTER TABLE tasks RENAME COLUMN name TO title")
      }
      expect(response.status).toBe(500)
      const requestId = response.headers.get("x-request-id")!
      expect(await response.json()).toMatchObject({ status: 500, instance: `urn:request:${requestId}` })
      const { collector, server } = observed
      await collector.waitFor(() =>
        collector.spans().some((span) => span.kind === SERVER && span.attributes["http.response.status_code"] === 500)
      )
      const span = collector.spans().find((span) => span.kind === SERVER && span.attributes["http.response.status_code"] === 500)!
      expect(span).toMatchObject({ name: "GET /tasks/{id}", status: { code: 2 }, attributes: { "error.type": "500" } })
      const failure = server.output.map((line) => JSON.parse(line) as Record<string, string>)
        .find((line) => line.level === "ERROR" && line.request_id === requestId)
      expect(failure).toMatchObject({ message: expect.stringContaining("Request failed"), trace_id: span.traceId })
    })
  })
}

describe("sampling by trace id (OTEL_TRACES_SAMPLER=traceidratio)", () => {
  let observed: ObservedServer
  beforeAll(async () => {
    observed = await startObservedServer({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" })
  })
  afterAll(() => observed?.close())

  it("records exactly the traces whose ids fall under the ratio, whatever the caller's flag", async () => {
    // The low 52 bits of a trace id decide: under 10% of their range, or over.
    const under = Array.from({ length: 5 }, () => hex(16).slice(0, 19) + "0" + hex(6))
    const over = Array.from({ length: 5 }, () => hex(16).slice(0, 19) + "f" + hex(6))
    for (const traceId of [...under, ...over]) {
      const response = await observed.send("/tasks", { headers: { traceparent: traceparent(traceId, hex(8)) } })
      expect(response.status).toBe(200)
    }
    const { collector } = observed
    await collector.waitFor(() => under.every((traceId) => traceOf(collector.spans(), traceId).server !== undefined))
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const traceId of over) expect(traceOf(collector.spans(), traceId).spans).toEqual([])
  })
})

describe("a collector that cannot take what is sent", () => {
  let observed: ObservedServer
  beforeAll(async () => {
    observed = await startObservedServer({
      OTEL_BSP_MAX_QUEUE_SIZE: "20",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "10",
      OTEL_BSP_EXPORT_TIMEOUT: "300",
      OTEL_LOGS_EXPORTER: "otlp"
    })
  })
  afterAll(() => observed?.close())

  it("costs no request an error: what cannot be sent is dropped, counted and logged, and export resumes", async () => {
    const { collector, server } = observed
    collector.setBehaviour("hang")
    const statuses = await Promise.all(Array.from({ length: 200 }, () => observed.send("/tasks").then((response) => response.status)))
    expect(statuses.filter((status) => status !== 200)).toEqual([])
    await collector.waitFor(() => server.output.some((line) => line.includes("Telemetry: dropped")), 15_000)
    const dropped = server.output.find((line) => line.includes("Telemetry: dropped"))!
    expect(JSON.parse(dropped)).toMatchObject({ level: "WARN", message: expect.stringMatching(/dropped \d+ (spans|log records)/) })
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    const count = Number(/task_api_telemetry_dropped_total\{signal="spans"\} (\d+)/.exec(metrics)?.[1])
    expect(count).toBeGreaterThan(100)

    // Once the collector answers again, what is queued goes first; a new
    // request's trace follows within the export schedule.
    collector.setBehaviour("ok")
    collector.clear()
    const sent: Array<string> = []
    await collector.waitFor(() => {
      if (sent.some((traceId) => traceOf(collector.spans(), traceId).server !== undefined)) return true
      const traceId = hex(16)
      sent.push(traceId)
      void observed.send("/tasks", { headers: { traceparent: traceparent(traceId, hex(8)) } })
      return false
    }, 15_000)
  })
})

describe("telemetry left unset", () => {
  it("makes no span: log lines carry a request id and no trace", async () => {
    const observed = await startObservedServer({ OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_SDK_DISABLED: "true" })
    try {
      const response = await observed.send("/tasks", { headers: { traceparent: traceparent(hex(16), hex(8)) } })
      const requestId = response.headers.get("x-request-id")!
      await observed.collector.waitFor(() => observed.server.output.some((line) => line.includes(requestId)))
      const line = JSON.parse(observed.server.output.find((line) => line.includes(requestId))!) as Record<string, string>
      expect(line.request_id).toBe(requestId)
      expect(line.trace_id).toBeUndefined()
      expect(observed.collector.requests()).toEqual([])
    } finally {
      await observed.close()
    }
  })
})
