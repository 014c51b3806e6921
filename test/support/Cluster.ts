import { type ChildProcess, spawn } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { testSecret } from "./Auth.ts"
import { isReachable } from "./Reachable.ts"
import { freePort, type ServerProcess, startServer } from "./ServerProcess.ts"
import { adminUrl, createTestDatabase, type TestDatabase, testDatabaseKind } from "./TestDatabase.ts"
import { waitFor } from "./Wait.ts"

const deploy = fileURLToPath(new URL("../../deploy/", import.meta.url))

// Whatever ends this process (a failed hook, an interrupted run), none of
// the daemons below may outlive it and hold their ports. A signal is raised
// again once they are gone, so that it still ends the process as before.
const children = new Set<ChildProcess>()
const killChildren = () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}
process.once("exit", killChildren)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killChildren()
    process.kill(process.pid, signal)
  })
}
const own = (child: ChildProcess) => {
  children.add(child)
  child.once("exit", () => children.delete(child))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sends `signal`, and SIGKILL if the process is still there after `graceMs`. */
const terminate = async (child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs: number) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
  await exited
  clearTimeout(timer)
}

interface Daemon {
  readonly output: Array<string>
  readonly stop: () => Promise<void>
}

/** Runs `command` in the foreground and resolves once it accepts connections on `port`. */
const startDaemon = async (
  command: string,
  args: ReadonlyArray<string>,
  port: number,
  options: { readonly env?: Record<string, string>; readonly cwd?: string; readonly debianPackage: string }
): Promise<Daemon> => {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  own(child)
  const output: Array<string> = []
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8")
    let buffered = ""
    stream.on("data", (chunk: string) => {
      buffered += chunk
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      output.push(...lines)
    })
  }
  let failure: Error | undefined
  child.once("error", (error: NodeJS.ErrnoException) => {
    failure = error.code === "ENOENT"
      ? new Error(`${command} is not installed (Debian: apt-get install ${options.debianPackage})`)
      : error
  })
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()))
  const stop = () => terminate(child, exited, "SIGTERM", 5_000)
  const deadline = Date.now() + 10_000
  while (!(await isReachable("127.0.0.1", port))) {
    if (failure !== undefined) throw failure
    if (child.exitCode !== null) {
      await exited
      throw new Error(`${command} exited with ${child.exitCode}:\n${output.join("\n")}`)
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`${command} did not listen on ${port} within 10 s:\n${output.join("\n")}`)
    }
    await sleep(50)
  }
  return { output, stop }
}

/**
 * PgBouncer with deploy/pgbouncer/pgbouncer.ini, included unchanged from the
 * wrapper its header comment describes, in front of `database`. Its log goes
 * to stderr, which the daemon collects, so that PgBouncer (as `nobody` when
 * run by root) needs to write nowhere.
 */
export const startPgbouncer = async (databaseUrl: string, scratch: string) => {
  const target = new URL(databaseUrl)
  const user = decodeURIComponent(target.username || "postgres")
  const password = decodeURIComponent(target.password)
  const port = await freePort()
  writeFileSync(join(scratch, "userlist.txt"), `"${user}" "${password}"\n`, { mode: 0o644 })
  writeFileSync(
    join(scratch, "pgbouncer.ini"),
    [
      `%include ${join(deploy, "pgbouncer", "pgbouncer.ini")}`,
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      // Clients get in unchecked (on 127.0.0.1 only); PgBouncer's own login to
      // PostgreSQL takes the password from the auth file, if the URL has one.
      "auth_type = trust",
      `auth_file = ${join(scratch, "userlist.txt")}`,
      "unix_socket_dir =",
      "logfile =",
      "pidfile =",
      "[databases]",
      `tasks = host=${target.hostname} port=${target.port || "5432"} dbname=${target.pathname.slice(1)}`
    ].join("\n") + "\n",
    { mode: 0o644 }
  )
  const asRoot = process.getuid?.() === 0
  const daemon = await startDaemon(
    "pgbouncer",
    [...(asRoot ? ["-u", "nobody"] : []), join(scratch, "pgbouncer.ini")],
    port,
    { debianPackage: "pgbouncer" }
  )
  const url = new URL(`postgres://127.0.0.1:${port}/tasks`)
  url.username = target.username
  url.password = target.password
  return { ...daemon, url: url.href }
}

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
    // Readable by anyone: as root, PgBouncer drops to `nobody`.
    const scratch = mkdtempSync(join(tmpdir(), "task-api-cluster-"))
    chmodSync(scratch, 0o755)
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

    const pgbouncer = await startPgbouncer(database.url, scratch)
    closers.push(pgbouncer.stop)

    const env: Record<string, string> = {
      DATABASE_URL: pgbouncer.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      AUTH_MODE: "jwt",
      JWT_SECRET: testSecret,
      SHUTDOWN_DELAY: "3 seconds",
      SHUTDOWN_TIMEOUT: "10 seconds",
      LOG_LEVEL: "warning",
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
