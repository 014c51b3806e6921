import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import { childSpan } from "../observability/Tracing.ts"

/**
 * Runs a statement in a CLIENT span when the request's trace is recorded,
 * named as the database conventions name it (`SELECT task_api`), with
 * `db.query.text` the parameterised SQL: bound values never travel. The
 * service runs with Effect's own statement spans off (see Telemetry), so an
 * unrecorded request makes no span for its statements.
 */
export const makeStatementSpans = Effect.map(PgClient.PgClient, ({ config }) => {
  const { database, host, port } = config
  return <A>(statement: Statement.Statement<A>): Effect.Effect<ReadonlyArray<A>, SqlError> =>
    childSpan(statement, () => {
      const [text] = statement.compile()
      const operation = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? "SQL"
      return {
        name: database === undefined ? operation : `${operation} ${database}`,
        kind: "client",
        attributes: {
          "db.system.name": "postgresql",
          ...(database === undefined ? {} : { "db.namespace": database }),
          "db.operation.name": operation,
          "db.query.text": text,
          ...(host === undefined ? {} : { "server.address": host }),
          ...(port === undefined ? {} : { "server.port": port })
        }
      }
    })
})
