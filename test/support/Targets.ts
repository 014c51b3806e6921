import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import { AppConfig } from "../../src/server/AppConfig.ts"
import * as Database from "../../src/server/Database.ts"
import * as HttpApp from "../../src/server/HttpApp.ts"
import { PageCursor } from "../../src/server/PageCursor.ts"
import { TaskRepo } from "../../src/server/TaskRepo.ts"
import { startServer, type ServerProcess } from "./ServerProcess.ts"
import { createTestDatabase } from "./TestDatabase.ts"

/** Something that serves the API: an in-process handler or a real server. */
export interface Target {
  readonly fetch: (path: string, init?: RequestInit) => Promise<Response>
  /** Forgets every task, so each test starts from an empty service. */
  readonly reset: () => Promise<void>
  readonly close: () => Promise<void>
}

/** The service's routes over the given repository, as a fetch-style handler. */
export const makeHandler = (repo: Layer.Layer<TaskRepo, unknown>, services: Layer.Layer<never> = Layer.empty) =>
  HttpRouter.toWebHandler(
    HttpApp.routes.pipe(
      Layer.provide([repo, PageCursor.layerRandom]),
      Layer.provide(HttpServer.layerServices),
      // Merged, so that request fibers (not only layer construction) see them.
      Layer.provideMerge(services)
    ),
    { disableLogger: true, routerConfig: HttpApp.routerConfig }
  )

const toFetch = (handler: (request: Request) => Promise<Response>) => (path: string, init?: RequestInit) =>
  handler(new Request(new URL(path, "http://task-api.test"), init))

export const configLayer = (variables: Record<string, string>) =>
  AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(variables))))

export const memoryTarget = async (): Promise<Target> => {
  let web = makeHandler(TaskRepo.layerMemory)
  return {
    fetch: (path, init) => toFetch(web.handler)(path, init),
    reset: async () => {
      await web.dispose()
      web = makeHandler(TaskRepo.layerMemory)
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
    fetch: toFetch(web.handler),
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

export const serverTarget = async (env: Record<string, string> = {}): Promise<ServerTarget> => {
  const database = await createTestDatabase()
  const server = await startServer({ ...database.serviceEnv, ...env })
  return {
    server,
    // Concatenated, not resolved: a path such as "//x" must reach the server as sent.
    fetch: (path, init) => fetch(server.url + path, init),
    reset: async () => void await database.query("TRUNCATE tasks"),
    close: async () => {
      await server.stop()
      await database.drop()
    }
  }
}
