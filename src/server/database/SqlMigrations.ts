import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"

/**
 * Loads `NNNN_name.sql` files as migrations. Effect's file-system loader
 * only loads JavaScript modules, and the PostgreSQL driver prepares every
 * statement, which refuses several commands at once: each file is split into
 * its statements and they run one by one, inside the migrator's transaction.
 */
export const fromSqlDirectory = (directory: string): Migrator.Loader<FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files = yield* fs.readDirectory(directory)
    const migrations: Array<Migrator.ResolvedMigration> = []
    for (const file of files) {
      const match = /^(\d+)_(.+)\.sql$/.exec(file)
      if (match === null) continue
      const text = yield* fs.readFileString(path.join(directory, file))
      migrations.push([Number(match[1]), match[2]!, Effect.succeed(runStatements(splitStatements(text)))])
    }
    return migrations.sort(([a], [b]) => a - b)
  }).pipe(
    Effect.mapError((cause) =>
      new Migrator.MigrationError({ kind: "ImportError", message: `Cannot read migrations in ${directory}`, cause })
    )
  )

const runStatements = (statements: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true }))

/**
 * Splits SQL text on the semicolons that end statements, leaving alone those
 * inside quotes, dollar-quoted bodies and comments.
 */
export const splitStatements = (text: string): Array<string> => {
  const statements: Array<string> = []
  let start = 0
  let i = 0
  const skipTo = (terminator: string, from: number) => {
    const end = text.indexOf(terminator, from)
    return end === -1 ? text.length : end + terminator.length
  }
  while (i < text.length) {
    const char = text.charAt(i)
    if (char === "'" || char === "\"") {
      i = skipTo(char, i + 1)
    } else if (char === "-" && text[i + 1] === "-") {
      i = skipTo("\n", i + 2)
    } else if (char === "/" && text[i + 1] === "*") {
      i = skipTo("*/", i + 2)
    } else if (char === "$") {
      const tag = /^\$[A-Za-z_0-9]*\$/.exec(text.slice(i))
      i = tag === null ? i + 1 : skipTo(tag[0], i + tag[0].length)
    } else if (char === ";") {
      statements.push(text.slice(start, i))
      i += 1
      start = i
    } else {
      i += 1
    }
  }
  statements.push(text.slice(start))
  return statements.map((statement) => statement.trim()).filter((statement) => !isOnlyComments(statement))
}

const isOnlyComments = (statement: string) =>
  statement.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "").trim() === ""
