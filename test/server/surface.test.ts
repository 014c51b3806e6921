import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bearer, defaultUser, signToken, testSecret, tokenFor } from "../support/Auth.ts"
import { expectProblem, type PageBody, type TaskBody } from "../support/Http.ts"
import { isReachable } from "../support/Reachable.ts"
import { type ServerProcess, startServer } from "../support/ServerProcess.ts"
import { memoryService, serverTarget } from "../support/Targets.ts"
import { startTcpProxy } from "../support/TcpProxy.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

const entry = fileURLToPath(new URL("../../dist/start.js", import.meta.url))
const tokenScript = fileURLToPath(new URL("../../scripts/token.ts", import.meta.url))

/** A directory with no `.env`, so that a developer's own settings cannot leak into a test. */
const emptyDir = () => mkdtempSync(join(tmpdir(), "task-api-security-"))

const jsonPost = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

const headerList = (response: Response, name: string) =>
  (response.headers.get(name) ?? "").split(",").map((value) => value.trim().toLowerCase()).filter((value) => value !== "")

/**
 * Runs the built server with exactly these variables (none of the tests'
 * defaults), from a directory without `.env`, and resolves once it exits:
 * for settings it must refuse to start with. Asynchronous, so that a test
 * database served from this process (PGlite) still answers it.
 */
const runRefusedServer = (env: Record<string, string>) =>
  new Promise<{ status: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    const cwd = emptyDir()
    const child = spawn(process.execPath, [entry], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_FORMAT: "json", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000
    })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.once("close", (status, signal) => {
      rmSync(cwd, { recursive: true, force: true })
      resolve({ status, signal, output })
    })
  })

describe("CORS", () => {
  const app = "https://app.example"

  describe("with CORS_ORIGINS set", () => {
    const service = memoryService({ CORS_ORIGINS: app })
    afterAll(() => service.dispose())

    const preflight = (origin: string) =>
      service.send("/tasks", {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type"
        }
      })

    it("answers a preflight from an allowed origin with 204, the origin, and the headers it may send", async () => {
      const response = await preflight(app)
      expect(response.status).toBe(204)
      expect(response.headers.get("access-control-allow-origin")).toBe(app)
      expect(headerList(response, "access-control-allow-headers")).toEqual(
        expect.arrayContaining(["authorization", "content-type"])
      )
      expect(headerList(response, "access-control-allow-methods")).toContain("post")
      // Bearer tokens, never cookies: no credentials mode.
      expect(response.headers.get("access-control-allow-credentials")).toBeNull()
    })

    it("gives a preflight from any other origin no Access-Control-Allow-Origin", async () => {
      const response = await preflight("https://evil.example")
      expect(response.headers.get("access-control-allow-origin")).toBeNull()
    })

    it("lets an allowed page read a task response and the headers a client needs", async () => {
      const response = await service.send("/tasks", { headers: { origin: app, ...bearer() } })
      expect(response.status).toBe(200)
      expect(response.headers.get("access-control-allow-origin")).toBe(app)
      // The answer depends on Origin and the token: a shared cache must not serve it to another origin or user.
      expect(headerList(response, "vary")).toEqual(expect.arrayContaining(["origin", "authorization"]))
      expect(headerList(response, "access-control-expose-headers")).toEqual(
        expect.arrayContaining(["etag", "ratelimit-remaining", "www-authenticate"])
      )
    })

    it("lets an allowed page read a 401, so it can tell its user to sign in", async () => {
      const response = await service.send("/tasks", { headers: { origin: app } })
      await expectProblem(response.clone(), 401)
      expect(response.headers.get("access-control-allow-origin")).toBe(app)
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/)
    })

    it("does not give another origin's request an Access-Control-Allow-Origin", async () => {
      const response = await service.send("/tasks", { headers: { origin: "https://evil.example", ...bearer() } })
      expect(response.headers.get("access-control-allow-origin")).toBeNull()
    })
  })

  it("with CORS_ORIGINS=*, lets a page from any origin call", async () => {
    const service = memoryService({ CORS_ORIGINS: "*" })
    try {
      const response = await service.send("/tasks", { headers: { origin: "https://anywhere.example", ...bearer() } })
      expect(response.status).toBe(200)
      expect(response.headers.get("access-control-allow-origin")).toMatch(/^(\*|https:\/\/anywhere\.example)$/)
    } finally {
      await service.dispose()
    }
  })

  // Read from the real environment by the built server: the in-process
  // handler's config is given as values, which are parsed differently.
  it("reads a comma-separated CORS_ORIGINS from the environment, spaces after commas included", async () => {
    const target = await serverTarget({ CORS_ORIGINS: "https://app.example, https://admin.example" })
    try {
      for (const origin of ["https://app.example", "https://admin.example"]) {
        const response = await target.fetch("/tasks", { headers: { origin } })
        expect(response.status).toBe(200)
        expect(response.headers.get("access-control-allow-origin"), origin).toBe(origin)
      }
    } finally {
      await target.close()
    }
  })

  describe("without CORS_ORIGINS (the default)", () => {
    const service = memoryService()
    afterAll(() => service.dispose())

    it("adds no Access-Control headers, even for a request with an Origin", async () => {
      const response = await service.send("/tasks", { headers: { origin: app, ...bearer() } })
      expect(response.status).toBe(200)
      expect([...response.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([])
    })

    it("answers a preflight 405, so no browser is told it may call", async () => {
      const response = await service.send("/tasks", {
        method: "OPTIONS",
        headers: { origin: app, "access-control-request-method": "POST" }
      })
      await expectProblem(response.clone(), 405)
      expect([...response.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([])
    })
  })
})

describe("API documentation", () => {
  it("is served by default at /docs and /openapi.json", async () => {
    const service = memoryService()
    try {
      for (const path of ["/docs", "/openapi.json"]) expect((await service.send(path)).status).toBe(200)
    } finally {
      await service.dispose()
    }
  })

  it("is not served with API_DOCS=false: both paths are 404 problems", async () => {
    const service = memoryService({ API_DOCS: "false" })
    try {
      for (const path of ["/docs", "/openapi.json"]) await expectProblem(await service.send(path), 404)
      // The API itself is unaffected.
      expect((await service.send("/tasks", { headers: bearer() })).status).toBe(200)
    } finally {
      await service.dispose()
    }
  })
})

describe("authentication modes of the built server", () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database.drop())

  it("refuses to start on PostgreSQL with no key to verify tokens, naming JWT_SECRET", async () => {
    // Spawned with a clean environment: the tests' helpers always add a key.
    const { output, status } = await runRefusedServer(database.serviceEnv)
    expect(status, output).not.toBe(0)
    expect(status, output).not.toBeNull()
    expect(output).toContain("JWT_SECRET")
  })

  it("says so before it waits for a database that does not answer", async () => {
    const { output, status } = await runRefusedServer({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" })
    expect(status, output).toBe(1)
    expect(output).toContain("JWT_SECRET")
    expect(output).not.toContain("Waiting for PostgreSQL")
  })

  it("refuses a JWT_SECRET shorter than 32 bytes, saying so without printing it", async () => {
    const short = "only-31-bytes-long-secret-value"
    expect(Buffer.byteLength(short)).toBe(31)
    const { output, status } = await runRefusedServer({ ...database.serviceEnv, JWT_SECRET: short })
    expect(status, output).not.toBe(0)
    expect(status, output).not.toBeNull()
    expect(output).toMatch(/JWT_SECRET must be at least 32 bytes/)
    expect(output).not.toContain(short)
  })

  it("on PostgreSQL with JWT_SECRET, answers a request without a token 401", async () => {
    const target = await serverTarget()
    try {
      const response = await target.fetchAs(undefined, "/tasks", jsonPost({ title: "anonymous" }))
      await expectProblem(response.clone(), 401)
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm=/)
      expect((await target.fetch("/tasks")).status).toBe(200)
    } finally {
      await target.close()
    }
  })

  describe("on the embedded database by default", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "task-api-data-"))
    const cwd = emptyDir()
    let server: ServerProcess
    beforeAll(async () => {
      // Only DATA_DIR: JWT_SECRET="" is read as unset (as an empty variable is
      // everywhere in AppConfig), so this is a developer's machine.
      server = await startServer({ DATA_DIR: dataDir, JWT_SECRET: "" }, { cwd })
    })
    afterAll(async () => {
      await server?.stop()
      rmSync(dataDir, { recursive: true, force: true })
      rmSync(cwd, { recursive: true, force: true })
    })

    it("runs without authentication, and says so loudly at start", async () => {
      const warning = server.output.find((line) => line.includes("AUTH_MODE=none"))
      expect(warning, server.output.join("\n")).toBeDefined()
      expect(warning).toMatch(/"level":"WARN"/)

      const created = await fetch(`${server.url}/tasks`, jsonPost({ title: "no token needed" }))
      expect(created.status).toBe(201)
      const task = (await created.json()) as TaskBody
      const list = await fetch(`${server.url}/tasks`)
      expect(list.status).toBe(200)
      expect(((await list.json()) as PageBody).items.map((item) => item.id)).toContain(task.id)
    })
  })
})

describe("the token helper (scripts/token.ts)", () => {
  const runTokenScript = (args: ReadonlyArray<string>, env: Record<string, string>) => {
    const cwd = emptyDir()
    try {
      return spawnSync(process.execPath, [tokenScript, ...args], {
        cwd,
        env: { PATH: process.env.PATH ?? "", ...env },
        encoding: "utf8",
        timeout: 30_000
      })
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  }

  it("prints a token the service accepts, for its subject only", async () => {
    const result = runTokenScript(["--sub", "carol"], { JWT_SECRET: testSecret })
    expect(result.status, result.stderr).toBe(0)
    const token = result.stdout.trim()
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<string, number | string>
    expect(claims.sub).toBe("carol")
    // The default lifetime: an hour.
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600)

    const service = memoryService()
    try {
      const carol = { authorization: `Bearer ${token}` }
      expect((await service.send("/tasks", { headers: carol })).status).toBe(200)
      const created = await service.send("/tasks", jsonPost({ title: "carol's" }, carol))
      expect(created.status).toBe(201)
      const task = (await created.json()) as TaskBody

      const alices = await service.send("/tasks", { headers: bearer(defaultUser) })
      expect(((await alices.json()) as PageBody).items.map((item) => item.id)).not.toContain(task.id)
      await expectProblem(await service.send(`/tasks/${task.id}`, { headers: bearer(defaultUser) }), 404)
      const carols = await service.send("/tasks", { headers: carol })
      expect(((await carols.json()) as PageBody).items.map((item) => item.id)).toEqual([task.id])
    } finally {
      await service.dispose()
    }
  })

  it("without JWT_SECRET, exits 1 saying it needs JWT_SECRET", () => {
    const result = runTokenScript(["--sub", "carol"], {})
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain("JWT_SECRET")
  })
})

const redisUp = await isReachable("127.0.0.1", 6379)

describe("secrets in the server's output", () => {
  let database: TestDatabase
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(() => database.drop())

  // The Redis here has no password, but takes one anyway: `AUTH default <any>`
  // succeeds for a user without one, so a URL with a password works with it.
  // It is reached through a proxy, which the test cuts, so that the server
  // also logs what it says when Redis fails.
  it(`never include JWT_SECRET, the Redis password, nor the bearer tokens clients send${
    redisUp ? "" : " (Redis part SKIPPED: no Redis at 127.0.0.1:6379)"
  }`, async () => {
    const redisPassword = "s3cr3t-redis-pass"
    const proxy = redisUp ? await startTcpProxy({ host: "127.0.0.1", port: 6379 }) : undefined
    // Debug level: whatever the server can log, it logs.
    const server = await startServer({
      ...database.serviceEnv,
      JWT_SECRET: testSecret,
      LOG_LEVEL: "debug",
      ...(proxy === undefined ? {} : { REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${proxy.port}`, RATE_LIMIT_REQUESTS: "100" })
    })
    const good = tokenFor("alice")
    const forged = signToken({ sub: "mallory" }, { secret: "not the service's secret, but 32+ bytes long" })
    const expired = signToken({ sub: "alice", exp: Math.floor(Date.now() / 1000) - 3600 })
    const send = (authorization: string | undefined, init: RequestInit = {}) =>
      fetch(`${server.url}/tasks`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...(authorization ? { authorization } : {}) }
      })
    const requests = async () => {
      expect((await send(`Bearer ${good}`, jsonPost({ title: "t" }))).status).toBe(201)
      expect((await send(`Bearer ${good}`)).status).toBe(200)
      for (const authorization of [`Bearer ${forged}`, `Bearer ${expired}`, "Bearer not-a-jwt", undefined]) {
        await expectProblem(await send(authorization), 401)
      }
    }
    try {
      await requests()
      if (proxy !== undefined) {
        // Limited in Redis: the password was taken.
        expect((await send(`Bearer ${good}`)).headers.get("ratelimit-limit")).toBe("100")
        await proxy.cut()
        await requests()
      }
    } finally {
      expect(await server.stop()).toBe(0)
      await proxy?.close()
    }
    const output = server.output.join("\n")
    expect(output).toContain("/tasks")
    if (proxy !== undefined) expect(output).toContain("Rate limits are not applied")
    expect(output).not.toContain(testSecret)
    expect(output).not.toContain(redisPassword)
    for (const token of [good, forged, expired]) {
      // The signature is what makes a token usable; none of it belongs in a log.
      expect(output).not.toContain(token.split(".")[2])
    }
  })
})
