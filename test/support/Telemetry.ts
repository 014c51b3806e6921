import { tokenFor } from "./Auth.ts"
import { type OtlpReceiver, startOtlpReceiver } from "./OtlpReceiver.ts"
import { startServer, type ServerProcess } from "./ServerProcess.ts"
import { createTestDatabase, type TestDatabase } from "./TestDatabase.ts"

export interface ObservedServer {
  readonly server: ServerProcess
  readonly collector: OtlpReceiver
  readonly database: TestDatabase
  /** Sends as `user` (a bearer token for them), with these headers. */
  readonly send: (path: string, init?: RequestInit & { readonly user?: string }) => Promise<Response>
  readonly close: () => Promise<void>
}

/**
 * The built server on a database of its own, exporting to a collector of the
 * test's, quickly: spans and log records leave every 100 ms, metrics every
 * 500 ms.
 */
export const startObservedServer = async (env: Record<string, string> = {}): Promise<ObservedServer> => {
  const collector = await startOtlpReceiver()
  const database = await createTestDatabase()
  const server = await startServer({
    ...database.serviceEnv,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_BSP_SCHEDULE_DELAY: "100",
    OTEL_METRIC_EXPORT_INTERVAL: "500",
    ...env
  })
  return {
    server,
    collector,
    database,
    send: (path, init = {}) => {
      const headers = new Headers(init.headers)
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${tokenFor(init.user ?? "alice")}`)
      return fetch(server.url + path, { ...init, headers })
    },
    close: async () => {
      await server.stop()
      await collector.close()
      await database.drop()
    }
  }
}
