import { execFile, execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testAuthEnv, withToken } from "../support/Auth.ts"
import { freePort, startServer } from "../support/ServerProcess.ts"
import { expectProblem } from "../support/Http.ts"
import { startSlowPost } from "../support/SlowRequest.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"
import { waitFor } from "../support/Wait.ts"

let database: TestDatabase
beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(() => database.drop())

/** The IPv4 sockets listening on `port`, as the kernel lists them. */
const listeningSockets = (port: number) => {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`
  return readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter(([, address, , state]) => address?.endsWith(local) && state === "0A").length
}
const portOf = (url: string) => Number(new URL(url).port)

/** Runs the built server to its exit, as one that cannot start does. */
const runToExit = (env: Record<string, string>) =>
  new Promise<{ status: number | null; output: string }>((resolve) =>
    execFile(
      process.execPath,
      [fileURLToPath(new URL("../../dist/start.js", import.meta.url))],
      { env: { PATH: process.env.PATH, LOG_FORMAT: "json", ...testAuthEnv, ...env }, encoding: "utf8", timeout: 30_000 },
      (error, stdout, stderr) => resolve({ status: error === null ? 0 : Number(error.code), output: stdout + stderr })
    ))

/** One GET on a connection of its own, as a new client makes. */
const getOnNewConnection = (url: string) =>
  new Promise<number>((resolve, reject) =>
    http.get(url, { agent: false }, (response) => {
      response.resume()
      response.on("end", () => resolve(response.statusCode!))
    }).on("error", reject))

describe("graceful shutdown", () => {
  it("on SIGTERM refuses new connections, finishes the request in flight, then exits 0", async () => {
    const server = await startServer(database.serviceEnv)
    const slow = await startSlowPost(server.url, JSON.stringify({ title: "in flight" }))
    await new Promise((resolve) => setTimeout(resolve, 200))
    server.child.kill("SIGTERM")
    await new Promise((resolve) => setTimeout(resolve, 300))
    // Every socket that accepted the port's connections is closed, not only the first.
    expect(listeningSockets(portOf(server.url))).toBe(0)
    await expect(fetch(new URL("/health", server.url))).rejects.toThrow()
    expect(server.child.exitCode).toBeNull()
    slow.finish()
    expect(await slow.closed).toMatch(/^HTTP\/1\.1 201 /)
    expect(await server.exited).toBe(0)
    const stored = await database.query<{ title: string }>("SELECT title FROM tasks WHERE title = 'in flight'")
    expect(stored).toHaveLength(1)
  })

  it("stops waiting for a request that never finishes at SHUTDOWN_TIMEOUT", async () => {
    const server = await startServer({ ...database.serviceEnv, SHUTDOWN_TIMEOUT: "1 second" })
    const stuck = await startSlowPost(server.url, JSON.stringify({ title: "never finished" }))
    const started = performance.now()
    server.child.kill("SIGTERM")
    const code = await server.exited
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(code).toBe(0)
    await stuck.closed
  })
})

describe("accepting connections on several sockets (ACCEPT_SOCKETS)", () => {
  it("listens on 16 sockets sharing the port by default, and serves the connections each accepts", async () => {
    const server = await startServer(database.serviceEnv)
    expect(listeningSockets(portOf(server.url))).toBe(16)
    // The kernel spreads new connections over the sockets by their address and port.
    const statuses = await Promise.all(Array.from({ length: 64 }, () => getOnNewConnection(`${server.url}/health`)))
    expect(statuses).toEqual(Array(64).fill(200))
    await server.stop()
    const one = await startServer({ ...database.serviceEnv, ACCEPT_SOCKETS: "1" })
    expect(listeningSockets(portOf(one.url))).toBe(1)
    await one.stop()
  })

  it("still refuses a port already in use, by another instance or by any other program", async () => {
    const first = await startServer(database.serviceEnv)
    const plain = net.createServer()
    const plainPort = await freePort()
    await new Promise<void>((resolve) => plain.listen(plainPort, "127.0.0.1", resolve))
    try {
      for (const port of [portOf(first.url), plainPort]) {
        const second = await runToExit({ ...database.serviceEnv, PORT: String(port), HOST: "127.0.0.1" })
        expect(second.status).toBe(1)
        expect(second.output).toContain(`Cannot start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`)
      }
      // The first instance still has every socket, and answers.
      expect(listeningSockets(portOf(first.url))).toBe(16)
      expect((await fetch(`${first.url}/health`)).status).toBe(200)
    } finally {
      plain.close()
      await first.stop()
    }
  })
})

/** A keep-alive connection that has had one answer and sits idle; `closed` resolves when the server closes it. */
const idleKeepAlive = async (url: string) => {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  let answer = ""
  socket.setEncoding("utf8")
  const answered = new Promise<void>((resolve) =>
    socket.on("data", (chunk: string) => {
      answer += chunk
      if (answer.includes("\r\n\r\n") && answer.endsWith("}")) resolve()
    })
  )
  socket.write(`GET /health HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`)
  await answered
  return { closed: new Promise<void>((resolve) => socket.once("close", () => resolve())) }
}

describe("leaving a balancer (SHUTDOWN_DELAY)", () => {
  it("fails /ready at once, serves on for the delay, then answers in-flight requests with Connection: close, " +
    "closes idle connections at once, and exits 0", async () => {
    const metricsPort = await freePort()
    const server = await startServer({
      ...database.serviceEnv,
      SHUTDOWN_DELAY: "1500 millis",
      SHUTDOWN_TIMEOUT: "10 seconds",
      METRICS_PORT: String(metricsPort)
    })
    const management = `http://127.0.0.1:${metricsPort}`
    expect((await fetch(`${management}/ready`)).status).toBe(200)
    const idle = await idleKeepAlive(server.url)
    let idleClosed = false
    void idle.closed.then(() => (idleClosed = true))
    const slow = await startSlowPost(server.url, JSON.stringify({ title: "in flight while leaving" }), { keepAlive: true })
    server.child.kill("SIGTERM")
    await new Promise((resolve) => setTimeout(resolve, 200))

    // Still serving, new connections too, but no longer ready.
    await expectProblem(await fetch(new URL("/ready", server.url)), 503)
    expect((await fetch(new URL("/health", server.url))).status).toBe(200)
    // The probes on the management port say the same.
    await expectProblem(await fetch(`${management}/ready`), 503)
    expect((await fetch(`${management}/health`)).status).toBe(200)
    expect((await fetch(new URL("/tasks", server.url), withToken())).status).toBe(200)
    expect(idleClosed).toBe(false)

    // Then it stops accepting, and the idle connection goes at once, long
    // before its keep-alive timeout (5 s) and before the request in flight ends.
    await waitFor(() => fetch(new URL("/health", server.url)).then(() => false, () => true), 5_000)
    await waitFor(async () => idleClosed, 1_000)
    expect(server.child.exitCode).toBeNull()
    slow.finish()
    const answer = await slow.closed
    expect(answer).toMatch(/^HTTP\/1\.1 201 /)
    expect(answer).toMatch(/\r\nConnection: close\r\n/i)
    expect(await server.exited).toBe(0)
    expect(server.output.some((line) => line.includes("Shutting down: /ready answers 503"))).toBe(true)
  })
})

describe("logging and configuration", () => {
  it("logs one JSON line per request with method, path, status and latency", async () => {
    const server = await startServer({ ...database.serviceEnv, LOG_FORMAT: "json" })
    const response = await fetch(new URL("/tasks/not-a-uuid?x=1", server.url), withToken())
    await server.stop()
    const lines = server.output.map((line) => JSON.parse(line) as Record<string, unknown> & { message: string })
    const access = lines.filter((line) => line.path === "/tasks/not-a-uuid")
    expect(access).toHaveLength(1)
    // Lean: what someone reads, and the request's id, which the answer carries too.
    expect(access[0]).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      level: "INFO",
      message: expect.stringMatching(/^GET \/tasks\/not-a-uuid 400 [\d.]+ms$/),
      method: "GET",
      path: "/tasks/not-a-uuid",
      status: 400,
      duration_ms: expect.any(Number),
      client_address: "127.0.0.1",
      request_id: response.headers.get("x-request-id")
    })
    const started = lines.find((line) => line.message.startsWith("Using PostgreSQL at"))
    expect(Object.keys(started ?? {}).sort()).toEqual(["level", "message", "timestamp"])
  })

  it("reads .env from the working directory, the real environment winning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "task-api-env-"))
    const variables = Object.entries(database.serviceEnv).map(([name, value]) => `${name}=${value}\n`).join("")
    writeFileSync(join(dir, ".env"), `${variables}PORT=1\nLOG_LEVEL=warning\n`)
    // PORT=1 from .env would fail to bind; the environment's PORT must win.
    const server = await startServer({ PORT: String(await freePort()) }, { cwd: dir })
    const response = await fetch(new URL("/ready", server.url))
    expect(response.status).toBe(200)
    await server.stop()
    // LOG_LEVEL=warning came from .env: no info lines, such as the access log.
    expect(server.output.filter((line) => line.includes("\"INFO\""))).toEqual([])
  })

  it("refuses to start on a database it cannot reach, saying which one", async () => {
    const result = spawnSync(process.execPath, [fileURLToPath(new URL("../../dist/start.js", import.meta.url))], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: "postgres://nobody:secret@127.0.0.1:1/nowhere",
        LOG_FORMAT: "json",
        ...testAuthEnv
      },
      encoding: "utf8",
      timeout: 30_000
    })
    expect(result.status).toBe(1)
    const output = result.stdout + result.stderr
    expect(output).toContain("Cannot start: PostgreSQL at 127.0.0.1:1/nowhere does not answer")
    expect(output).not.toContain("secret")
  })
})

describe("the Node.js version guard", () => {
  const systemNode = (() => {
    try {
      return execFileSync("/usr/bin/node", ["--version"], { encoding: "utf8" }).trim()
    } catch {
      return undefined
    }
  })()
  const isOld = systemNode !== undefined && Number(systemNode.slice(1).split(".")[0]) < 22

  it.runIf(isOld)(`fails at once with a clear message on an old Node (${systemNode})`, () => {
    for (const script of ["dist/start.js", "src/requireNode.js"]) {
      const result = spawnSync("/usr/bin/node", [fileURLToPath(new URL(`../../${script}`, import.meta.url))], {
        encoding: "utf8"
      })
      expect(result.status).toBe(1)
      expect(result.stderr).toContain("task-api needs Node.js 22.19 or newer")
      expect(result.stderr).toContain(systemNode)
    }
  })

  it("lets the current Node through", () => {
    const result = spawnSync(process.execPath, [fileURLToPath(new URL("../../src/requireNode.js", import.meta.url))])
    expect(result.status).toBe(0)
  })
})
