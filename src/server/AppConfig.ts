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

const appConfig = Config.all({
  databaseUrl: Config.Redacted("DATABASE_URL").pipe(
    Config.option,
    Config.map(Option.getOrUndefined)
  ),
  databasePoolSize: Config.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })), "DATABASE_POOL_SIZE")
    .pipe(Config.withDefault(10)),
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
  cursorSecret: Config.Redacted("CURSOR_SECRET").pipe(Config.option, Config.map(Option.getOrUndefined)),
  shutdownTimeout: Config.Duration("SHUTDOWN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10))),
  databaseTimeout: Config.Duration("DATABASE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  requestTimeout: Config.Duration("REQUEST_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5)))
})

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
