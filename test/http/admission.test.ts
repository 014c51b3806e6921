import { EventEmitter } from "node:events"
import type { IncomingMessage, ServerResponse } from "node:http"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type Admission, makeAdmission } from "../../src/server/http/Admission.ts"
import { withToken } from "../support/Auth.ts"
import { expectProblem } from "../support/Http.ts"
import { parseExposition, sampleValue } from "../support/Prometheus.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { startSlowPost } from "../support/SlowRequest.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A request and its response as admission sees them: a URL, and a response that closes. */
const exchange = (url = "/tasks") => {
  const response = Object.assign(new EventEmitter(), { destroyed: false }) as unknown as ServerResponse
  const request = { url, socket: { destroyed: false } } as unknown as IncomingMessage
  return { request, response, finish: () => response.emit("close") }
}

describe("admission", () => {
  let admission: Admission | undefined
  afterEach(() => admission?.stop())

  const setUp = (maxInFlight: number, maxQueueWaitMs: number) => {
    const served: Array<string> = []
    const refused: Array<string> = []
    const name = new Map<IncomingMessage, string>()
    admission = makeAdmission({ maxInFlight, maxQueueWaitMs }, {
      refuse: (request) => refused.push(name.get(request)!),
      report: () => {}
    })
    const handler = admission.admit((request) => served.push(name.get(request)!))
    const send = (label: string, url?: string) => {
      const one = exchange(url)
      name.set(one.request, label)
      handler(one.request, one.response)
      return one
    }
    return { served, refused, send }
  }

  it("serves up to its limit at once; the others wait their turn, in arrival order", () => {
    const { send, served } = setUp(2, 1_000)
    const a = send("a")
    send("b")
    send("c")
    send("d")
    expect(served).toEqual(["a", "b"])
    expect(admission!.load()).toEqual({ inFlight: 2, waiting: 2 })
    a.finish()
    expect(served).toEqual(["a", "b", "c"])
    expect(admission!.load()).toEqual({ inFlight: 2, waiting: 1 })
  })

  it("never holds back a probe or a scrape", () => {
    const { send, served } = setUp(1, 1_000)
    send("busy")
    send("health", "/health")
    send("ready", "/ready?full")
    send("metrics", "/metrics")
    send("task", "/tasks/1")
    expect(served).toEqual(["busy", "health", "ready", "metrics"])
  })

  it("refuses one that waited longer than it may, even while nothing finishes", async () => {
    const { send, served, refused } = setUp(1, 50)
    send("stuck")
    send("late")
    await sleep(250)
    expect(refused).toEqual(["late"])
    expect(served).toEqual(["stuck"])
    expect(admission!.load()).toEqual({ inFlight: 1, waiting: 0 })
  })

  it("skips one whose client left while it waited", () => {
    const { send, served } = setUp(1, 1_000)
    const first = send("first")
    const gone = send("gone")
    ;(gone.response as { destroyed: boolean }).destroyed = true
    send("next")
    first.finish()
    expect(served).toEqual(["first", "next"])
  })

  it("refuses at once what would wait too long at the rate requests finish while it is full", async () => {
    const { send, refused } = setUp(1, 100)
    // Full, and one request finished a tick: about 10 a second, so the queue can hold one, not 5.
    let current = send("0")
    for (let tick = 0; tick < 4; tick++) {
      await sleep(100)
      send(`waiting ${tick}`)
      current.finish()
      current = { finish: () => {} } as ReturnType<typeof send>
    }
    refused.length = 0
    for (const label of ["w1", "w2", "w3", "w4", "w5"]) send(label)
    expect(refused).toEqual(expect.arrayContaining(["w4", "w5"]))
  })

  it("reads no rate from a full tick in which nothing finished: slow first requests do not refuse the next", async () => {
    const { send, served, refused } = setUp(2, 1_000)
    const first = send("a")
    send("b")
    await sleep(150)
    for (const label of ["c", "d", "e"]) send(label)
    expect(refused).toEqual([])
    first.finish()
    expect(served).toEqual(["a", "b", "c"])
  })

  it("takes a burst after a quiet spell into its queue instead of refusing it", () => {
    const { send, served, refused } = setUp(2, 1_000)
    for (const label of ["a", "b", "c", "d", "e"]) send(label)
    expect(served).toEqual(["a", "b"])
    expect(refused).toEqual([])
    expect(admission!.load()).toEqual({ inFlight: 2, waiting: 3 })
  })
})

describe("the built server past MAX_IN_FLIGHT", () => {
  let database: TestDatabase
  let server: ServerProcess
  beforeAll(async () => {
    database = await createTestDatabase()
    server = await startServer({ ...database.serviceEnv, MAX_IN_FLIGHT: "1", MAX_QUEUE_WAIT: "300 millis" })
  })
  afterAll(async () => {
    await server?.stop()
    await database?.drop()
  })

  it("refuses a request it cannot serve in time with a 503 at once, and stays live", async () => {
    // One request in flight, its body held back: the only place there is.
    const held = await startSlowPost(server.url, JSON.stringify({ title: "in flight" }))
    await sleep(100)
    const started = performance.now()
    const [refused, health] = await Promise.all([
      fetch(`${server.url}/tasks`, withToken({ headers: { "x-request-id": "shed-1" } })),
      sleep(50).then(() => fetch(`${server.url}/health`))
    ])
    const waited = performance.now() - started
    expect(health.status).toBe(200)
    const problem = await expectProblem(refused.clone(), 503)
    expect(problem).toMatchObject({ title: "Service Unavailable", instance: "urn:request:shed-1" })
    expect(refused.headers.get("retry-after")).toBe("1")
    expect(refused.headers.get("x-request-id")).toBe("shed-1")
    expect(refused.headers.get("cache-control")).toBe("private, no-cache")
    expect(refused.headers.get("connection")).toBe("close")
    // At most its wait and a tick of the clock that measures it; at once when
    // nothing has finished for a while, as here.
    expect(waited).toBeLessThan(1_000)

    // Once the request in flight is done, the next one is served at once.
    held.finish()
    expect(await held.closed).toMatch(/^HTTP\/1\.1 201 /)
    expect((await fetch(`${server.url}/tasks`, withToken())).status).toBe(200)

    const samples = parseExposition(await (await fetch(`${server.url}/metrics`)).text())
    expect(sampleValue(samples, "task_api_unavailable_total", { cause: "overload" })).toBe(1)
    expect(sampleValue(samples, "http_server_request_duration_seconds_count", {
      http_route: "/tasks",
      http_response_status_code: "503"
    })).toBe(1)
    // Said once in the log, not once per request.
    await expect.poll(() => server.output.filter((line) => line.includes("Overloaded: answered 1 requests 503")).length, {
      timeout: 7_000
    }).toBe(1)
  })
})
