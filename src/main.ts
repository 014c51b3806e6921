import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Runtime from "effect/Runtime"
import * as HttpRouter from "effect/http/HttpRouter"
import * as Duration from "effect/Duration"
import * as AccessLog from "./server/http/AccessLog.ts"
import { makeAdmission } from "./server/http/Admission.ts"
import * as Authorization from "./server/access/Authorization.ts"
import { AppConfig } from "./server/AppConfig.ts"
import * as Database from "./server/database/Database.ts"
import * as Draining from "./server/http/Draining.ts"
import * as HttpApp from "./server/http/HttpApp.ts"
import * as MetricsEndpoint from "./server/http/MetricsEndpoint.ts"
import { makeNodeServer, maxHeadBytes } from "./server/http/NodeServer.ts"
import { shedding } from "./server/http/Overload.ts"
import { readiness } from "./server/http/SystemHttp.ts"
import { PageCursor } from "./server/tasks/PageCursor.ts"
import { RequestTimeout } from "./server/http/RequestTimeout.ts"
import * as Telemetry from "./server/observability/Telemetry.ts"
import { TaskEvents } from "./server/tasks/TaskEvents.ts"
import { TaskRepo } from "./server/tasks/TaskRepo.ts"

// What every fiber sees, request fibers included: the loggers, telemetry
// (with no OTEL_* variable set, no span is made: creating and dropping them
// cost 6 to 10% of throughput, measured), the log level and the deadline.
// The access log writes through the logger on a terminal, and over OTLP
// when log records are exported, so it is built on them.
const Settings = Layer.unwrap(Effect.map(
  AppConfig,
  ({ logFormat, logLevel, metrics, requestTimeout, telemetry }) =>
    AccessLog.layer({ logFormat, logLevel }).pipe(Layer.provideMerge(Layer.mergeAll(
      Telemetry.layer({ settings: telemetry, metricsServed: metrics, logFormat }),
      Layer.succeed(References.MinimumLogLevel, AppConfig.logLevel(logLevel)),
      Layer.succeed(RequestTimeout, requestTimeout),
      Draining.layerState
    )))
))

// METRICS_PORT: /metrics on a port of its own, instead of the main one.
const MetricsPort = Layer.unwrap(Effect.gen(function*() {
  const { host, metrics, metricsPort, telemetry } = yield* AppConfig
  const warnings = Layer.effectDiscard(Telemetry.warnAboutSettings(telemetry))
  if (!metrics || metricsPort === undefined) return warnings
  const check = readiness(yield* TaskRepo, yield* Draining.Draining)
  const context = yield* Effect.context<never>()
  return Layer.merge(
    MetricsEndpoint.serveOnPort(host, metricsPort, {
      ready: () =>
        Effect.runPromiseWith(context)(Effect.match(check, {
          onSuccess: () => ({ ready: true }) as const,
          onFailure: (unavailable) => ({ ready: false, detail: unavailable.detail ?? "The instance is not ready." }) as const
        }))
    }),
    warnings
  )
}))

// On SIGTERM/SIGINT the server stops accepting, lets in-flight requests
// finish (up to SHUTDOWN_TIMEOUT), and only then is the pool closed.
// Past MAX_IN_FLIGHT, requests wait their turn at the door, before any work,
// and are refused with a 503 rather than wait past MAX_QUEUE_WAIT.
const HttpServerLive = Layer.unwrap(Effect.gen(function*() {
  const { acceptSockets, host, maxInFlight, maxQueueWait, port, shutdownTimeout } = yield* AppConfig
  const context = yield* Effect.context<never>()
  const warn = (message: string) => void Effect.runForkWith(context)(Effect.logWarning(message))
  const admission = makeAdmission(
    { maxInFlight, maxQueueWaitMs: Duration.toMillis(maxQueueWait) },
    shedding({ docs: HttpApp.docsPath, openapi: HttpApp.openapiPath, graphql: HttpApp.graphqlPath }, warn)
  )
  return NodeHttpServer.layer(
    makeNodeServer({ maxHeaderBytes: maxHeadBytes, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, acceptors: acceptSockets }, admission),
    { host, port, backlog: 4096, gracefulShutdownTimeout: shutdownTimeout }
  )
}))

const Server = HttpRouter.serve(HttpApp.routes, { disableLogger: true, routerConfig: HttpApp.routerConfig })

// Built after the server, so released before it: on SIGTERM the instance
// first fails /ready and keeps serving for SHUTDOWN_DELAY.
const ServerLeavingCleanly = Layer.unwrap(Effect.map(AppConfig, ({ shutdownDelay, shutdownTimeout }) =>
  Draining.layerOnShutdown({ delay: shutdownDelay, timeout: shutdownTimeout }))).pipe(
    Layer.provideMerge(Layer.merge(Server, MetricsPort))
  )

// Built bottom-up: the database is migrated before the port opens, so no
// request arrives at a server that cannot answer it yet. Authorization (the
// same layer the routes use, so built once) comes before the database: a
// missing JWT key or an unreachable Redis is told at once, not after waiting
// for a database that may not answer either.
const Main = ServerLeavingCleanly.pipe(
  Layer.provide(HttpServerLive),
  // The repository tells TaskEvents of its commits, where the database does not (see TaskEvents.layer).
  Layer.provide(Layer.mergeAll(TaskRepo.layer, PageCursor.layer).pipe(Layer.provideMerge(TaskEvents.layer))),
  Layer.provide(Database.layer),
  Layer.provide(Authorization.layer),
  Layer.provide(Settings),
  Layer.provide(AppConfig.layer),
  Layer.provide(AppConfig.environment)
)

// A failure to start is told in one line (which database, which variable);
// only a defect, a bug, gets a stack trace. A shutdown asked for by
// SIGTERM/SIGINT that completes is a clean exit (0), not the 130 of an
// interrupted program.
Layer.launch(Main).pipe(
  Effect.tapError((error) =>
    Effect.logError(`Cannot start: ${error.message || (error.cause instanceof Error ? error.cause.message : error)}`)
  ),
  Effect.tapDefect((defect) => Effect.logError("Unexpected failure", defect)),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) =>
      Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)
  })
)
