import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import { AppConfig } from "../../src/server/AppConfig.ts"
import * as Database from "../../src/server/database/Database.ts"
import * as HttpApp from "../../src/server/http/HttpApp.ts"
import { PageCursor } from "../../src/server/tasks/PageCursor.ts"
import { TaskEvents } from "../../src/server/tasks/TaskEvents.ts"
import { TaskRepo } from "../../src/server/tasks/TaskRepo.ts"
import { testAuthEnv, withToken } from "./Auth.ts"
import { startPgbouncer } from "./Pgbouncer.ts"
import { startServer, type ServerProcess } from "./ServerProcess.ts"
import { createTestDatabase } from "./TestDatabase.ts"

/** Something that serves the API: an in-process handler or a real server. */
export interface Target {
  /** Sends as the default test user, unless `init` carries its own Authorization header. */
  readonly fetch: (path: string, init?: RequestInit) => Promise<Response>
  /** Sends as `user`, or with no token at all when `user` is undefined. */
  readonly fetchAs: (user: string | undefined, path: string, init?: RequestInit) => Promise<Response>
  /** Forgets every task, so each test starts from an empty service. */
  readonly reset: () => Promise<void>
  readonly close: () => Promise<void>
}

/** AppConfig from these variables alone; fresh, so two configs in one build never share. */
export const configLayer = (variables: Record<string, string>) =>
  Layer.fresh(AppConfig.layer).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(variables))))

/**
 * The service's routes over the given repository, as a fetch-style handler.
 * It authenticates as the service does on PostgreSQL (AUTH_MODE=jwt, with the
 * tests' key), unless `env` says otherwise (undefined unsets a variable).
 */
export const makeHandler = (
  repo: Layer.Layer<TaskRepo, unknown>,
  services: Layer.Layer<never> = Layer.empty,
  env: Record<string, string | undefined> = {}
) =>
  HttpRouter.toWebHandler(
    HttpApp.routes.pipe(
      // Subscribers hear of the repository's commits within the process.
      Layer.provide([repo.pipe(Layer.provideMerge(TaskEvents.layerLocal)), PageCursor.layerRandom, configLayer(definedOnly({ AUTH_MODE: "jwt", ...testAuthEnv, ...env }))]),
      Layer.provide(HttpServer.layerServices),
      // Merged, so that request fibers (not only layer construction) see them.
      Layer.provideMerge(services)
    ),
    { disableLogger: true, routerConfig: HttpApp.routerConfig }
  )

const definedOnly = (variables: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(variables).filter(([, value]) => value !== undefined)) as Record<string, string>

type Fetch = (path: string, init?: RequestInit) => Promise<Response>

const toFetch = (handler: (request: Request) => Promise<Response>): Fetch => (path, init) =>
  handler(new Request(new URL(path, "http://task-api.test"), init))

/** `fetch` and `fetchAs` over a fetch that sends what it is given. */
export const asUsers = (send: Fetch): Pick<Target, "fetch" | "fetchAs"> => ({
  fetch: (path, init) => send(path, withToken(init)),
  fetchAs: (user, path, init) => {
    if (user === undefined) return send(path, init)
    const headers = new Headers(init?.headers)
    headers.delete("authorization")
    return send(path, withToken({ ...init, headers }, user))
  }
})

/**
 * The service in process on the in-memory repository, with these settings:
 * `send` sends what it is given, `fetchAs` sends as a user (or with no token).
 */
export const memoryService = (env: Record<string, string | undefined> = {}, services: Layer.Layer<never> = Layer.empty) => {
  const web = makeHandler(TaskRepo.layerMemory, services, env)
  const send = toFetch(web.handler)
  return { send, fetchAs: asUsers(send).fetchAs, dispose: () => web.dispose() }
}

/** The service in process on the in-memory repository, with these settings besides the tests' own. */
export const memoryTarget = async (env: Record<string, string | undefined> = {}): Promise<Target> => {
  let web = makeHandler(TaskRepo.layerMemory, Layer.empty, env)
  return {
    ...asUsers((path, init) => toFetch(web.handler)(path, init)),
    reset: async () => {
      await web.dispose()
      web = makeHandler(TaskRepo.layerMemory, Layer.empty, env)
    },
    close: () => web.dispose()
  }
}

export const postgresTarget = async (): Promise<Target> => {
  const database = await createTestDatabase()
  const web = makeHandler(
    TaskRepo.layer.pipe(
      Layer.provide(Database.layer),
      Layer.provide(configLayer(database.serviceEnv))
    )
  )
  // The first request builds the layers, which migrate the new database.
  await toFetch(web.handler)("/ready")
  return {
    ...asUsers(toFetch(web.handler)),
    reset: async () => void await database.query("TRUNCATE tasks"),
    close: async () => {
      await web.dispose()
      await database.drop()
    }
  }
}

export interface ServerTarget extends Target {
  readonly server: ServerProcess
}

/**
 * The built server on a database of its own, reached directly or, with
 * `pooler`, through PgBouncer (deploy/pgbouncer) in that pooling mode.
 */
export const serverTarget = async (
  env: Record<string, string> = {},
  options: { readonly pooler?: "transaction" | "session" } = {}
): Promise<ServerTarget> => {
  const database = await createTestDatabase()
  const closers: Array<() => Promise<void> | void> = [() => database.drop()]
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer()
  }
  try {
    let databaseUrl = database.url
    if (options.pooler !== undefined) {
      // Round robin: a statement that depends on landing on the connection
      // that prepared it fails at once, not only under load.
      const pgbouncer = await startPgbouncer(database.url, { poolMode: options.pooler, roundRobin: true })
      closers.push(pgbouncer.stop)
      databaseUrl = pgbouncer.url
    }
    const server = await startServer({ ...database.serviceEnv, DATABASE_URL: databaseUrl, ...env })
    closers.push(async () => void await server.stop())
    return {
      server,
      // Concatenated, not resolved: a path such as "//x" must reach the server as sent.
      ...asUsers((path, init) => fetch(server.url + path, init)),
      reset: async () => void await database.query("TRUNCATE tasks"),
      close
    }
  } catch (error) {
    await close().catch(() => {})
    throw error
  }
}
