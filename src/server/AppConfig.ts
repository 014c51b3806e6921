import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Result from "effect/Result"
import { parseTrustedProxies } from "./http/ClientAddress.ts"
import { telemetryConfig } from "./observability/TelemetryConfig.ts"

const optional = <A>(config: Config.Config<A>) => config.pipe(Config.option, Config.map(Option.getOrUndefined))

const appConfig = Config.all({
  databaseUrl: optional(Config.Redacted("DATABASE_URL")),
  databasePoolSize: Config.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })), "DATABASE_POOL_SIZE")
    .pipe(Config.withDefault(10)),
  // Where each instance LISTENs for the task changes every instance makes (GraphQL subscriptions): a
  // session of its own, so not PgBouncer in transaction pooling. Unset: DATABASE_URL, when it is direct.
  databaseListenUrl: optional(Config.Redacted("DATABASE_LISTEN_URL")),
  dataDir: Config.String("DATA_DIR").pipe(Config.withDefault("./.data")),
  host: Config.String("HOST").pipe(Config.withDefault("0.0.0.0")),
  // 0 asks the system for a free port, as tests do.
  port: Config.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 })), "PORT").pipe(
    Config.withDefault(3000)
  ),
  logLevel: Config.Literals(["debug", "info", "warning", "error"], "LOG_LEVEL").pipe(Config.withDefault("info")),
  logFormat: Config.Literals(["pretty", "json"], "LOG_FORMAT").pipe(
    Config.withDefault(process.stdout.isTTY ? "pretty" : "json")
  ),
  // Cursors are signed with this key; set it when several instances serve
  // the same clients, or when cursors must survive a restart.
  cursorSecret: optional(Config.Redacted("CURSOR_SECRET")),
  // On SIGTERM: /ready fails at once, serving goes on this long (what a Kubernetes preStop would sleep), ...
  shutdownDelay: Config.Duration("SHUTDOWN_DELAY").pipe(Config.withDefault(Duration.zero)),
  // ... then the server stops accepting and gives requests in flight this long.
  shutdownTimeout: Config.Duration("SHUTDOWN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10))),
  databaseTimeout: Config.Duration("DATABASE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  requestTimeout: Config.Duration("REQUEST_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  // Past these, requests wait their turn, then are refused with a 503 (see http/Admission.ts).
  maxInFlight: Config.schema(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)), "MAX_IN_FLIGHT").pipe(
    Config.withDefault(64)
  ),
  maxQueueWait: Config.Duration("MAX_QUEUE_WAIT").pipe(Config.withDefault(Duration.seconds(1))),
  // Listening sockets sharing the port (SO_REUSEPORT), each accepting a connection per turn of the event
  // loop (see http/Acceptors.ts). Only Linux spreads connections over them; elsewhere one does as well.
  acceptSockets: Config.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })), "ACCEPT_SOCKETS").pipe(
    Config.withDefault(process.platform === "linux" ? 16 : 1)
  ),
  // Unset: none on the embedded database (a developer's machine), jwt on any other.
  authMode: optional(Config.Literals(["jwt", "none"], "AUTH_MODE")),
  jwtSecret: optional(Config.Redacted("JWT_SECRET")),
  jwksUrl: optional(Config.URL("JWKS_URL")),
  jwksFile: optional(Config.String("JWKS_FILE")),
  jwtIssuer: optional(Config.String("JWT_ISSUER")),
  jwtAudience: optional(Config.String("JWT_AUDIENCE")),
  jwtClockSkew: Config.Duration("JWT_CLOCK_SKEW").pipe(Config.withDefault(Duration.seconds(30))),
  // A bucket of this many requests per caller, refilled over the window; 0 turns limiting off.
  rateLimitRequests: Config.schema(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), "RATE_LIMIT_REQUESTS").pipe(
    Config.withDefault(600)
  ),
  rateLimitWindow: Config.Duration("RATE_LIMIT_WINDOW").pipe(Config.withDefault(Duration.minutes(1))),
  redisUrl: optional(Config.Redacted("REDIS_URL")),
  corsOrigins: Config.Array(Schema.String, "CORS_ORIGINS").pipe(
    Config.map((origins) => origins.map((origin) => origin.trim()).filter((origin) => origin.length > 0)),
    Config.withDefault([])
  ),
  // Proxies whose X-Forwarded-For (or Forwarded) names the client; unset, the TCP peer is the client.
  trustProxy: Config.schema(
    Schema.String.check(Schema.makeFilter((setting: string) => Result.match(parseTrustedProxies(setting), {
      onFailure: (problem) => problem,
      onSuccess: () => true
    }))),
    "TRUST_PROXY"
  ).pipe(Config.map((setting) => Result.getOrThrow(parseTrustedProxies(setting))), Config.withDefault([])),
  trustProxyHeader: Config.Literals(["x-forwarded-for", "forwarded"], "TRUST_PROXY_HEADER").pipe(
    Config.withDefault("x-forwarded-for")
  ),
  apiDocs: Config.Boolean("API_DOCS").pipe(Config.withDefault(true)),
  // GraphQL introspection (__schema, __type); off, field suggestions ("Did you mean") go too.
  graphqlIntrospection: Config.Boolean("GRAPHQL_INTROSPECTION").pipe(Config.withDefault(true)),
  // Open subscription streams (GraphQL over Server-Sent Events) one instance serves; past it, a 503.
  maxSubscriptions: Config.schema(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), "MAX_SUBSCRIPTIONS").pipe(
    Config.withDefault(1000)
  ),
  // GET /metrics (Prometheus): on the main port, or on METRICS_PORT alone, or (false) nowhere.
  metrics: Config.Boolean("METRICS").pipe(Config.withDefault(true)),
  metricsPort: optional(Config.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 })), "METRICS_PORT")),
  // The OpenTelemetry SDK's own variables (OTEL_*): see observability/TelemetryConfig.ts.
  telemetry: telemetryConfig
}).pipe(Config.map((settings) => ({
  ...settings,
  authMode: settings.authMode ?? (settings.databaseUrl === undefined ? "none" as const : "jwt" as const)
})))

type Settings = Config.Success<typeof appConfig>

export class AppConfig extends Context.Service<AppConfig, Settings>()("task-api/server/AppConfig") {
  static readonly layer = Layer.effect(AppConfig, appConfig)

  /** Variables from the process environment first, then from `.env`. */
  static readonly environment = ConfigProvider.layerAdd(
    ConfigProvider.fromDotEnv().pipe(
      Effect.catch(() => Effect.succeed(ConfigProvider.fromUnknown({})))
    )
  ).pipe(Layer.provide(NodeFileSystem.layer))

  static readonly logLevel = (level: Settings["logLevel"]): LogLevel.LogLevel =>
    level === "debug" ? "Debug" : level === "warning" ? "Warn" : level === "error" ? "Error" : "Info"
}
