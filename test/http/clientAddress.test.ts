import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ForwardedHeader, parseTrustedProxies, trustedProxyMiddleware } from "../../src/server/http/ClientAddress.ts"
import { tokenFor } from "../support/Auth.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { type ObservedServer, startObservedServer } from "../support/Telemetry.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

describe("TRUST_PROXY's setting", () => {
  it("takes addresses, CIDR ranges and named ranges, IPv4 and IPv6", () => {
    const parsed = Result.getOrThrow(parseTrustedProxies("10.0.0.5, 192.168.0.0/16, fd00::/8, ::1, loopback"))
    expect(parsed).toHaveLength(6)
  })

  it.each(["10.0.0.0/33", "proxy.internal", "10.0.0.1/8", "*"])("refuses %s, naming it", (entry) => {
    const parsed = parseTrustedProxies(`127.0.0.1, ${entry}`)
    expect(Result.isFailure(parsed) && parsed.failure).toContain(`"${entry}"`)
  })
})

describe("the client's address behind proxies", () => {
  const echoAddress = HttpServerRequest.HttpServerRequest.use((request) =>
    Effect.succeed(HttpServerResponse.text(Option.getOrElse(request.remoteAddress, () => "unknown")))
  )

  /** The address the service takes as the client's, for a request from `peer` with these headers. */
  const clientOf = (
    peer: string,
    headers: Record<string, string>,
    options: { readonly trusted?: string; readonly header?: ForwardedHeader } = {}
  ) => {
    const trusted = Result.getOrThrow(parseTrustedProxies(options.trusted ?? "10.0.0.0/8"))
    const request = HttpServerRequest.fromWeb(new Request("http://task-api.test/", { headers }))
      .modify({ remoteAddress: Option.some(peer) })
    const app = trustedProxyMiddleware(trusted, options.header ?? "x-forwarded-for")(echoAddress)
    return Effect.runPromise(Effect.provideService(app, HttpServerRequest.HttpServerRequest, request)).then(
      (response) => HttpServerResponse.toWeb(response).text()
    )
  }

  it("takes the right-most address a trusted proxy appended, past trusted hops, ignoring what the client wrote", async () => {
    expect(await clientOf("10.0.0.1", { "x-forwarded-for": "198.51.100.7" })).toBe("198.51.100.7")
    expect(await clientOf("10.0.0.1", { "x-forwarded-for": "6.6.6.6, 198.51.100.7" })).toBe("198.51.100.7")
    expect(await clientOf("10.0.0.1", { "x-forwarded-for": "6.6.6.6, 198.51.100.7, 10.0.0.9" })).toBe("198.51.100.7")
  })

  it("ignores the header when the peer is not a trusted proxy", async () => {
    expect(await clientOf("203.0.113.5", { "x-forwarded-for": "198.51.100.7" })).toBe("203.0.113.5")
  })

  it("reads RFC 7239 Forwarded the same way when told to, quoted IPv6 and ports included", async () => {
    const forwarded = { header: "forwarded" } as const
    expect(await clientOf("10.0.0.1", { forwarded: "for=6.6.6.6, for=198.51.100.7;proto=https" }, forwarded))
      .toBe("198.51.100.7")
    expect(await clientOf("10.0.0.1", { forwarded: `for="[2001:db8:cafe::17]:4711";by=10.0.0.1` }, forwarded))
      .toBe("2001:db8:cafe::17")
    expect(await clientOf("10.0.0.1", { forwarded: "for=198.51.100.7:8080, for=10.0.0.2" }, forwarded))
      .toBe("198.51.100.7")
    // Not an address: the walk stops and the peer stays the client.
    expect(await clientOf("10.0.0.1", { forwarded: "for=unknown" }, forwarded)).toBe("10.0.0.1")
    expect(await clientOf("203.0.113.5", { forwarded: "for=198.51.100.7" }, forwarded)).toBe("203.0.113.5")
    // With Forwarded chosen, X-Forwarded-For is not read at all, and the other way round.
    expect(await clientOf("10.0.0.1", { "x-forwarded-for": "198.51.100.7" }, forwarded)).toBe("10.0.0.1")
    expect(await clientOf("10.0.0.1", { forwarded: "for=198.51.100.7" })).toBe("10.0.0.1")
  })
})

/** Sends from `localAddress` (every 127.x.y.z is this machine), as a different client would. */
const sendFrom = (url: string, localAddress: string, path: string, headers: Record<string, string>) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    http.get(url + path, { localAddress, headers, agent: false }, (response) => {
      response.resume()
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers }))
    }).on("error", reject)
  })

const badToken = { authorization: "Bearer not-a-token" }
const limit = 3

describe("the built server with TRUST_PROXY", () => {
  let observed: ObservedServer
  beforeAll(async () => {
    observed = await startObservedServer({
      TRUST_PROXY: "127.0.0.1",
      RATE_LIMIT_REQUESTS: String(limit),
      OTEL_METRICS_EXPORTER: "none"
    })
  })
  afterAll(() => observed?.close())

  /** Statuses of `count` requests with a bad token from `localAddress`, each with the headers `nth` gives. */
  const statuses = async (localAddress: string, count: number, nth: (index: number) => Record<string, string>) => {
    const answers: Array<number> = []
    for (let index = 0; index < count; index++) {
      answers.push((await sendFrom(observed.server.url, localAddress, "/tasks", { ...badToken, ...nth(index) })).status)
    }
    return answers
  }
  const emptied = [...Array(limit).fill(401), 429]

  it("gives each client behind the proxy a bucket of its own", async () => {
    expect(await statuses("127.0.0.1", limit + 1, () => ({ "x-forwarded-for": "198.51.100.1" }))).toEqual(emptied)
    expect(await statuses("127.0.0.1", 1, () => ({ "x-forwarded-for": "198.51.100.2" }))).toEqual([401])
    // A forged entry to the left of the proxy's does not change whose bucket it is.
    expect(await statuses("127.0.0.1", 1, (index) => ({ "x-forwarded-for": `6.6.6.${index}, 198.51.100.1` })))
      .toEqual([429])
  })

  it("does not let a client that reaches the instance directly choose its bucket with X-Forwarded-For", async () => {
    expect(await statuses("127.0.0.2", limit + 1, (index) => ({ "x-forwarded-for": `198.51.100.${100 + index}` })))
      .toEqual(emptied)
  })

  it("names the same client in the access log and the server span", async () => {
    const traceId = "4bf92f3577b34a4e9af1e6a5ad0c4b7d"
    const response = await sendFrom(observed.server.url, "127.0.0.1", "/tasks", {
      authorization: `Bearer ${tokenFor("alice")}`,
      "x-forwarded-for": "198.51.100.9",
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`
    })
    expect(response.status).toBe(200)
    const requestId = response.headers["x-request-id"]
    await observed.collector.waitFor(() => observed.collector.spans().some((span) => span.traceId === traceId && span.kind === 2))
    const server = observed.collector.spans().find((span) => span.traceId === traceId && span.kind === 2)
    expect(server?.attributes["client.address"]).toBe("198.51.100.9")
    const access = await waitForLine(observed.server, (line) => line.request_id === requestId)
    expect(access).toMatchObject({ path: "/tasks", status: 200, client_address: "198.51.100.9" })
  })
})

describe("the built server without TRUST_PROXY (the default)", () => {
  let database: TestDatabase
  let server: ServerProcess
  beforeAll(async () => {
    database = await createTestDatabase()
    server = await startServer({ ...database.serviceEnv, RATE_LIMIT_REQUESTS: String(limit) })
  })
  afterAll(async () => {
    await server?.stop()
    await database?.drop()
  })

  it("takes the TCP peer as the client, whatever X-Forwarded-For says", async () => {
    const answers: Array<number> = []
    for (let index = 0; index <= limit; index++) {
      const headers = { ...badToken, "x-forwarded-for": `198.51.100.${index}`, "x-request-id": `peer-${index}` }
      answers.push((await sendFrom(server.url, "127.0.0.1", "/tasks", headers)).status)
    }
    expect(answers).toEqual([...Array(limit).fill(401), 429])
    const access = await waitForLine(server, (line) => line.request_id === "peer-0")
    expect(access.client_address).toBe("127.0.0.1")
  })

  it("refuses to start with a TRUST_PROXY it cannot read, naming it", async () => {
    await expect(startServer({ ...database.serviceEnv, TRUST_PROXY: "10.0.0.0/8, the-proxy" })).rejects.toThrow(
      /"the-proxy" is not an IP address[\s\S]*TRUST_PROXY/
    )
  })
})

/** The first JSON line the server wrote that `matches`, waiting for the access log's flush. */
const waitForLine = async (server: ServerProcess, matches: (line: Record<string, unknown>) => boolean) => {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const text of server.output) {
      if (!text.startsWith("{")) continue
      const line = JSON.parse(text) as Record<string, unknown>
      if (matches(line)) return line
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error("No such line in the server's output")
}
