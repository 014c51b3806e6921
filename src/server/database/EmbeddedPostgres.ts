/* eslint-disable security/detect-non-literal-fs-filename -- every path here is DATA_DIR, which the
   operator sets, or /proc/<pid>; none comes from a request. */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { join, resolve } from "node:path"

export class DataDirInUse extends Schema.TaggedError<DataDirInUse>()("DataDirInUse", {
  message: Schema.String
}) {}

export class EmbeddedStartFailed extends Schema.TaggedError<EmbeddedStartFailed>()("EmbeddedStartFailed", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}

const isZombie = (pid: number) => {
  try {
    // Linux: the state follows the parenthesised command name.
    return /\)\s+Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return !isZombie(pid)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

// PGlite opens a directory that another process has open without a word,
// and two writers corrupt it. A lock file with the owner's pid turns that
// into a clear error; a lock left by a process that died is taken over.
const lockDataDir = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.suspend((): Effect.Effect<string, DataDirInUse | EmbeddedStartFailed> => {
      const lockFile = join(dataDir, "task-api.lock")
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const fd = openSync(lockFile, "wx")
          writeSync(fd, String(process.pid))
          closeSync(fd)
          return Effect.succeed(lockFile)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
            return Effect.fail(new EmbeddedStartFailed({ message: `Cannot lock ${dataDir}`, cause: error }))
          }
          const owner = Number(readFileSync(lockFile, "utf8"))
          // An empty lock file (a crash between creating and writing it) reads as 0: nobody's.
          if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
            return Effect.fail(
              new DataDirInUse({
                message: `DATA_DIR ${dataDir} is in use by another task-api process (pid ${owner}); ` +
                  "stop it, or give this one its own DATA_DIR"
              })
            )
          }
          rmSync(lockFile, { force: true })
        }
      }
      return Effect.fail(new DataDirInUse({ message: `Cannot take the lock on ${dataDir}` }))
    }),
    (lockFile) => Effect.sync(() => rmSync(lockFile, { force: true }))
  )

/**
 * Runs PGlite on `dataDir` behind a PostgreSQL socket on 127.0.0.1, so the
 * service talks to it with the same client as to any PostgreSQL. PGlite is one
 * backend; its socket server queues the statements of up to `maxConnections`
 * clients, which must be at least the client's pool size (with the default
 * of one, most pooled requests fail).
 */
export const serve = (dataDir: string, options: { readonly maxConnections: number }) =>
  Effect.gen(function*() {
    const directory = resolve(dataDir)
    yield* Effect.try({
      try: () => mkdirSync(directory, { recursive: true }),
      catch: (cause) => new EmbeddedStartFailed({ message: `Cannot create DATA_DIR ${directory}`, cause })
    })
    yield* lockDataDir(directory)
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PGlite.create(directory),
        catch: (cause) => new EmbeddedStartFailed({ message: `Cannot open the embedded database in ${directory}`, cause })
      }),
      (db) => Effect.promise(() => db.close())
    )
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: options.maxConnections })
          await server.start()
          return server
        },
        catch: (cause) => new EmbeddedStartFailed({ message: "Cannot open a socket for the embedded database", cause })
      }),
      (server) => Effect.promise(() => server.stop())
    )
    return { url: `postgres://postgres@${server.getServerConn()}/postgres`, directory }
  })
