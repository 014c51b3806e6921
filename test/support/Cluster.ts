import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { testSecret } from "./Auth.ts"
import { own, startDaemon, terminate } from "./Daemon.ts"
import { startPgbouncer } from "./Pgbouncer.ts"
import { freePort, type ServerProcess, startServer } from "./ServerProcess.ts"
import { adminUrl, createTestDatabase, type TestDatabase, testDatabaseKind } from "./TestDatabase.ts"
import { waitFor } from "./Wait.ts"

const deploy = fileURLToPath(new URL("../../deploy/", import.meta.url))

/** A server's status on HAProxy's stats page: UP, DOWN, or on the way, such as "UP 1/2". */
export type BalancerState = string

export interface Stopped {
  /** The exit code, or null when a signal ended the process. */
  readonly code: number | null
  /** From the signal to the exit. */
  readonly ms: number
}

export interface Cluster {
  /** HAProxy: where every client request goes. */
  readonly url: string
  /** HAProxy's stats page; `/;csv` for the servers' states. */
  readonly statsUrl: string
  /** The database the instances share, reached directly as its administrator. */
  readonly database: TestDatabase
  /** Each instance's own address and HAProxy's name for it (app1, app2, app3). */
  readonly instances: ReadonlyArray<{ readonly name: string; readonly url: string }>
  /**
   * HAProxy's output: its warnings (a server going DOWN) and one line per
   * request, except those it drops when its stdout is not read fast enough.
   */
  readonly balancerLog: ReadonlyArray<string>
  /** Everything instance `i` has written, across its restarts. */
  readonly instanceLog: (i: number) => ReadonlyArray<string>
  /** SIGTERM, and the exit code and how long the instance took to exit. */
  readonly stop: (i: number) => Promise<Stopped>
  readonly kill9: (i: number) => Promise<Stopped>
  /** Starts instance `i` again on its port, and resolves once its own /ready answers 200. */
  readonly restart: (i: number) => Promise<void>
  readonly isRunning: (i: number) => boolean
  /** What HAProxy's health checks make of instance `i`. */
  readonly balancerState: (i: number) => Promise<BalancerState>
  /**
   * HAProxy's statistics for the backend, by server name (app1..app3, and
   * BACKEND for the whole): its CSV columns, such as hrsp_2xx, wretr, wredis.
   * Unlike its log, which it drops when stdout is not read fast enough, they
   * miss no request.
   */
  readonly balancerStats: () => Promise<Record<string, Record<string, string>>>
  /** Resolves once HAProxy sees instance `i` in `state`, with how long that took. */
  readonly waitForBalancer: (i: number, state: BalancerState, limitMs?: number) => Promise<number>
  readonly close: () => Promise<void>
}

const isAlive = (server: ServerProcess | undefined) =>
  server !== undefined && server.child.exitCode === null && server.child.signalCode === null

const isReady = (url: string) =>
  fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) }).then(async (response) => {
    await response.body?.cancel()
    return response.status === 200
  }, () => false)

/**
 * The deployment of deploy/compose.yaml on this machine, on free ports of
 * 127.0.0.1: three instances of the built server (dist/) behind HAProxy, on
 * a fresh database through PgBouncer, sharing rate limits in a Redis of
 * their own. `instanceEnv` adds to (or replaces) the instances' variables.
 * If any step fails, whatever was started is stopped before the error.
 */
export const startCluster = async (instanceEnv: Record<string, string> = {}): Promise<Cluster> => {
  if ((await testDatabaseKind) !== "postgres") {
    const { hostname, port } = new URL(adminUrl)
    throw new Error(`The cluster test needs PostgreSQL (none answers at ${hostname}:${port || 5432}; see TEST_DATABASE_URL)`)
  }
  const closers: Array<() => Promise<void>> = []
  const close = async () => {
    const errors: Array<unknown> = []
    for (const closer of closers.splice(0).reverse()) {
      try {
        await closer()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "Stopping the cluster failed")
  }
  try {
    // Redis's working directory, though it saves nothing.
    const scratch = mkdtempSync(join(tmpdir(), "task-api-cluster-"))
    closers.push(async () => rmSync(scratch, { recursive: true, force: true }))

    const database = await createTestDatabase()
    closers.push(() => database.drop())

    const redisPort = await freePort()
    const redis = await startDaemon(
      "redis-server",
      ["--port", String(redisPort), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
      redisPort,
      { cwd: scratch, debianPackage: "redis-server" }
    )
    closers.push(redis.stop)

    const pgbouncer = await startPgbouncer(database.url)
    closers.push(pgbouncer.stop)

    const env: Record<string, string> = {
      DATABASE_URL: pgbouncer.url,
      // As deploy/compose.yaml: subscriptions LISTEN on PostgreSQL itself, past PgBouncer.
      DATABASE_LISTEN_URL: database.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      AUTH_MODE: "jwt",
      JWT_SECRET: testSecret,
      SHUTDOWN_DELAY: "3 seconds",
      SHUTDOWN_TIMEOUT: "10 seconds",
      LOG_LEVEL: "warning",
      // HAProxy reaches the instances from 127.0.0.1 here, as from its
      // fixed address in deploy/compose.yaml.
      TRUST_PROXY: "127.0.0.1",
      ...instanceEnv
    }
    // Fixed ports, so that a restarted instance is where HAProxy expects it.
    const ports = await Promise.all([0, 1, 2].map(() => freePort()))
    const instances = ports.map((port, i) => ({
      name: `app${i + 1}`,
      url: `http://127.0.0.1:${port}`,
      port,
      server: undefined as ServerProcess | undefined,
      history: [] as Array<ServerProcess>
    }))
    const instance = (i: number) => {
      const found = instances[i]
      if (found === undefined) throw new Error(`There is no instance ${i}`)
      return found
    }
    const restart = async (i: number) => {
      const target = instance(i)
      if (isAlive(target.server)) throw new Error(`${target.name} is still running`)
      const server = await startServer({ ...env, PORT: String(target.port) })
      own(server.child)
      target.server = server
      target.history.push(server)
      await waitFor(() => isReady(target.url), 15_000)
    }
    const halt = async (i: number, signal: NodeJS.Signals): Promise<Stopped> => {
      const target = instance(i)
      const server = target.server
      if (server === undefined) throw new Error(`${target.name} is not running`)
      const signalled = performance.now()
      const code = await server.stop(signal)
      target.server = undefined
      return { code, ms: performance.now() - signalled }
    }
    closers.push(async () => {
      await Promise.all(instances.map(async ({ server }) => {
        if (server !== undefined) await terminate(server.child, server.exited, "SIGTERM", 15_000)
      }))
    })
    // allSettled: on a failure, the others must have finished starting before the closers stop them.
    const started = await Promise.allSettled(instances.map((_, i) => restart(i)))
    for (const outcome of started) if (outcome.status === "rejected") throw outcome.reason

    const haproxyPort = await freePort()
    const statsPort = await freePort()
    const haproxy = await startDaemon("haproxy", ["-db", "-f", join(deploy, "haproxy", "haproxy.cfg")], haproxyPort, {
      env: {
        TASK_API_1: `127.0.0.1:${ports[0]}`,
        TASK_API_2: `127.0.0.1:${ports[1]}`,
        TASK_API_3: `127.0.0.1:${ports[2]}`,
        HAPROXY_PORT: String(haproxyPort),
        HAPROXY_STATS_PORT: String(statsPort)
      },
      debianPackage: "haproxy"
    })
    closers.push(haproxy.stop)
    const statsUrl = `http://127.0.0.1:${statsPort}`

    const balancerStats = async () => {
      const csv = await (await fetch(`${statsUrl}/;csv`, { signal: AbortSignal.timeout(2_000) })).text()
      const [header = [], ...rows] = csv.trim().split("\n").map((line) => line.replace(/^# /, "").split(","))
      return Object.fromEntries(
        rows.filter((cells) => cells[0] === "task_api" && cells[1] !== "FRONTEND").map((cells) => [
          cells[1]!,
          Object.fromEntries(header.map((name, column) => [name, cells[column] ?? ""]))
        ])
      )
    }
    const balancerState = async (i: number): Promise<BalancerState> =>
      (await balancerStats())[instance(i).name]?.status ?? "missing"
    const waitForBalancer = (i: number, state: BalancerState, limitMs = 10_000) =>
      waitFor(async () => (await balancerState(i)) === state, limitMs)
    await Promise.all(instances.map((_, i) => waitForBalancer(i, "UP")))

    return {
      url: `http://127.0.0.1:${haproxyPort}`,
      statsUrl,
      database,
      instances: instances.map(({ name, url }) => ({ name, url })),
      balancerLog: haproxy.output,
      instanceLog: (i) => instance(i).history.flatMap((server) => server.output),
      stop: (i) => halt(i, "SIGTERM"),
      kill9: (i) => halt(i, "SIGKILL"),
      restart,
      isRunning: (i) => isAlive(instance(i).server),
      balancerState,
      balancerStats,
      waitForBalancer,
      close
    }
  } catch (error) {
    await close().catch(() => {})
    throw error
  }
}
