import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"
import { bearer } from "../support/Auth.ts"
import { expectProblem, type PageBody } from "../support/Http.ts"
import { freePort, type ServerProcess, startServer } from "../support/ServerProcess.ts"
import { memoryService } from "../support/Targets.ts"
import { startTcpProxy, type TcpProxy } from "../support/TcpProxy.ts"
import { isReachable } from "../support/Reachable.ts"
import { createTestDatabase } from "../support/TestDatabase.ts"

const redisHost = "127.0.0.1"
const redisPort = 6379

// The Redis tests need a Redis; without one they are skipped, and say so.
const redisUp = await isReachable(redisHost, redisPort)
const redisNote = redisUp ? "" : ` (SKIPPED: no Redis answers at ${redisHost}:${redisPort})`
if (!redisUp) console.warn(`test/access/rateLimit.test.ts: Redis tests skipped, no Redis at ${redisHost}:${redisPort}`)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One in-process instance of the service (AUTH_MODE=jwt, tests' key) with
 * these settings, and a way to send as a user, with a bad token, or with none.
 */
const instance = (env: Record<string, string>, services: Layer.Layer<never> = Layer.empty) => {
  const service = memoryService(env, services)
  const create = (user: string, title = "A task") =>
    service.fetchAs(user, "/tasks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title })
    })
  return { ...service, as: service.fetchAs, create }
}

const badToken = { authorization: "Bearer not-a-jwt" }

const quotaOf = (response: Response) => ({
  limit: response.headers.get("ratelimit-limit"),
  remaining: response.headers.get("ratelimit-remaining"),
  policy: response.headers.get("ratelimit-policy")
})

/** The headers every limited request must carry: the quota, and seconds until it is full again. */
const expectQuota = (response: Response, expected: { limit: number; remaining: number; windowSeconds: number }) => {
  expect(quotaOf(response)).toEqual({
    limit: String(expected.limit),
    remaining: String(expected.remaining),
    policy: `${expected.limit};w=${expected.windowSeconds}`
  })
  const reset = Number(response.headers.get("ratelimit-reset"))
  expect(Number.isInteger(reset)).toBe(true)
  expect(reset).toBeGreaterThanOrEqual(0)
  expect(reset).toBeLessThanOrEqual(expected.windowSeconds)
}

/** A 429 problem that tells the client when to come back. */
const expectRefused = async (response: Response, limit: number, windowSeconds: number) => {
  await expectProblem(response, 429)
  const retryAfter = Number(response.headers.get("retry-after"))
  expect(Number.isInteger(retryAfter)).toBe(true)
  expect(retryAfter).toBeGreaterThanOrEqual(1)
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds)
  expect(response.headers.get("ratelimit-remaining")).toBe("0")
  expect(response.headers.get("ratelimit-limit")).toBe(String(limit))
}

describe("the rate limit in one process", () => {
  const env = { RATE_LIMIT_REQUESTS: "3", RATE_LIMIT_WINDOW: "1 minute" }

  it("counts a user's requests down in RateLimit headers, then answers 429 with Retry-After", async () => {
    const service = instance(env)
    try {
      const answers = [
        await service.create("alice", "first"),
        await service.as("alice", "/tasks"),
        await service.create("alice", "second")
      ]
      expect(answers.map((answer) => answer.status)).toEqual([201, 200, 201])
      answers.forEach((answer, i) => expectQuota(answer, { limit: 3, remaining: 2 - i, windowSeconds: 60 }))

      // The fourth in the window: refused, whatever the method.
      await expectRefused(await service.as("alice", "/tasks"), 3, 60)
      await expectRefused(await service.create("alice", "one too many"), 3, 60)
    } finally {
      await service.dispose()
    }
  })

  it("keeps a bucket per user: bob is not slowed down by alice", async () => {
    const service = instance(env)
    try {
      for (let i = 0; i < 3; i++) expect((await service.as("alice", "/tasks")).status).toBe(200)
      await expectRefused(await service.as("alice", "/tasks"), 3, 60)

      const bob = await service.as("bob", "/tasks")
      expect(bob.status).toBe(200)
      expectQuota(bob, { limit: 3, remaining: 2, windowSeconds: 60 })
      // Answers the handler fails with count, and say so, too.
      const missing = await service.as("bob", "/tasks/0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d")
      await expectProblem(missing, 404)
      expectQuota(missing, { limit: 3, remaining: 1, windowSeconds: 60 })
    } finally {
      await service.dispose()
    }
  })

  it("limits callers whose token fails by their address: the 4th bad token is a 429, not a 401", async () => {
    const service = instance(env)
    try {
      // Guessing tokens costs as much as using them.
      for (let i = 0; i < 3; i++) {
        const answer = await service.send("/tasks", { headers: badToken })
        await expectProblem(answer, 401)
        expect(answer.headers.get("ratelimit-remaining")).toBe(String(2 - i))
      }
      await expectRefused(await service.send("/tasks", { headers: badToken }), 3, 60)
      // A request with no token at all comes from the same address.
      await expectRefused(await service.send("/tasks"), 3, 60)
      // A caller with a valid token has a bucket of its own.
      expect((await service.as("alice", "/tasks")).status).toBe(200)
    } finally {
      await service.dispose()
    }
  })

  it("does not limit /health and /ready", async () => {
    const service = instance(env)
    try {
      for (let i = 0; i < 4; i++) await service.send("/tasks", { headers: badToken })
      for (let i = 0; i < 5; i++) {
        for (const path of ["/health", "/ready"]) {
          const answer = await service.send(path)
          expect(answer.status).toBe(200)
          expect(answer.headers.get("ratelimit-remaining")).toBeNull()
        }
      }
    } finally {
      await service.dispose()
    }
  })

  it("refills the bucket over the window, and a refused request creates nothing", async () => {
    // 2 per second: one token comes back every 500 ms.
    const service = instance({ RATE_LIMIT_REQUESTS: "2", RATE_LIMIT_WINDOW: "1 second" })
    try {
      expect((await service.create("alice", "one")).status).toBe(201)
      expect((await service.create("alice", "two")).status).toBe(201)
      await expectRefused(await service.create("alice", "refused"), 2, 1)

      await sleep(600)
      const list = await service.as("alice", "/tasks")
      expect(list.status).toBe(200)
      expectQuota(list, { limit: 2, remaining: 0, windowSeconds: 1 })
      const titles = ((await list.json()) as PageBody).items.map((task) => task.title)
      expect(titles.sort()).toEqual(["one", "two"])
    } finally {
      await service.dispose()
    }
  })
})

describe(`the rate limit in Redis${redisNote}`, () => {
  const redisUrl = `redis://${redisHost}:${redisPort}`

  it.runIf(redisUp)("is one bucket shared by every instance", async () => {
    const env = { REDIS_URL: redisUrl, RATE_LIMIT_REQUESTS: "4", RATE_LIMIT_WINDOW: "1 minute" }
    const [a, b] = [instance(env), instance(env)]
    // A subject of its own, so that runs (and other files) never share its bucket.
    const user = `alice-${randomUUID()}`
    try {
      const answers = [
        await a.as(user, "/tasks"),
        await b.as(user, "/tasks"),
        await a.as(user, "/tasks"),
        await b.as(user, "/tasks")
      ]
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200])
      // One count across both: each instance sees what the other took.
      expect(answers.map((answer) => answer.headers.get("ratelimit-remaining"))).toEqual(["3", "2", "1", "0"])
      answers.forEach((answer, i) => expectQuota(answer, { limit: 4, remaining: 3 - i, windowSeconds: 60 }))

      await expectRefused(await a.as(user, "/tasks"), 4, 60)
      await expectRefused(await b.as(user, "/tasks"), 4, 60)
      // Another subject is untouched.
      expect((await b.as(`bob-${randomUUID()}`, "/tasks")).status).toBe(200)
    } finally {
      await Promise.all([a.dispose(), b.dispose()])
    }
  })

  /** An instance whose Redis is behind a proxy the test can break, with its warnings kept. */
  const behindProxy = async () => {
    const proxy = await startTcpProxy({ host: redisHost, port: redisPort })
    const warnings: Array<string> = []
    const capture = Logger.make(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push(String(message))
    })
    const service = instance(
      { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, RATE_LIMIT_REQUESTS: "1000", RATE_LIMIT_WINDOW: "1 minute" },
      Logger.layer([capture])
    )
    return { proxy, service, warnings }
  }

  const expectServedUnlimited = async (answer: Response) => {
    expect(answer.status).toBe(200)
    expect(answer.headers.get("ratelimit-remaining")).toBeNull()
    expect(answer.headers.get("retry-after")).toBeNull()
    await answer.arrayBuffer()
  }

  // Cut: the connection closes. Frozen: it stays open and nothing comes back,
  // so the limiter must give up at its timeout rather than hang.
  for (const [how, breakRedis] of [
    ["goes away", (proxy: TcpProxy) => proxy.cut()],
    ["stops answering", (proxy: TcpProxy) => proxy.freeze()]
  ] as const) {
    it.runIf(redisUp)(`fails open when Redis ${how}: requests are served, without RateLimit headers`, async () => {
      const { proxy, service, warnings } = await behindProxy()
      const user = `alice-${randomUUID()}`
      try {
        const first = await service.as(user, "/tasks")
        expect(first.status).toBe(200)
        expect(first.headers.get("ratelimit-remaining")).toBe("999")

        await breakRedis(proxy)
        for (let i = 0; i < 3; i++) await expectServedUnlimited(await service.as(user, "/tasks"))
        // Logged, but not once per request.
        expect(warnings.filter((line) => line.includes("Rate limits are not applied"))).toHaveLength(1)
      } finally {
        // Disposing must not wait for replies a frozen Redis never sends.
        await service.dispose()
        await proxy.close()
      }
    })
  }

  // The Redis client closes by waiting for every reply it is owed; a frozen
  // Redis never sends them, and shutdown must not wait for it.
  it.runIf(redisUp)("lets the server shut down on SIGTERM while Redis does not answer", async () => {
    const database = await createTestDatabase()
    const proxy = await startTcpProxy({ host: redisHost, port: redisPort })
    let server: ServerProcess | undefined
    try {
      server = await startServer({
        ...database.serviceEnv,
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        RATE_LIMIT_REQUESTS: "100",
        SHUTDOWN_TIMEOUT: "2 seconds"
      })
      const url = `${server.url}/tasks`
      const user = `alice-${randomUUID()}`
      expect((await fetch(url, { headers: bearer(user) })).headers.get("ratelimit-remaining")).toBe("99")
      proxy.freeze()
      // Served (fail open), leaving a command Redis will never answer.
      await expectServedUnlimited(await fetch(url, { headers: bearer(user) }))

      server.child.kill("SIGTERM")
      const exit = await Promise.race([server.exited, sleep(10_000).then(() => "still running 10 s after SIGTERM")])
      expect(exit, `exit after SIGTERM; the server's last lines:\n${server.output.slice(-3).join("\n")}`).toBe(0)
    } finally {
      if (server?.child.exitCode === null) {
        server.child.kill("SIGKILL")
        await server.exited
      }
      await proxy.close()
      await database.drop()
    }
  })

  it.runIf(redisUp)("refuses to start when REDIS_URL does not answer, naming REDIS_URL", async () => {
    const database = await createTestDatabase()
    const deadPort = await freePort()
    let server: ServerProcess | undefined
    try {
      const started = await startServer({
        ...database.serviceEnv,
        REDIS_URL: `redis://127.0.0.1:${deadPort}`,
        RATE_LIMIT_REQUESTS: "100"
      }).then((running) => {
        server = running
        return undefined
      }, (error: Error) => error)
      expect(server, "the server started with a Redis that does not answer").toBeUndefined()
      // startServer's error carries the exit code and the server's output.
      expect(started?.message).toMatch(/^The server exited with [1-9]\d*:/)
      expect(started?.message).toContain("REDIS_URL")
    } finally {
      await server?.stop()
      await database.drop()
    }
  })
})
