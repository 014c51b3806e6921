import { isSqlError, type SqlError } from "effect/sql/SqlError"

/** Why the database cannot serve right now: a kind to count the failure by, and a line for the log. */
export interface Unavailability {
  /** The SQLSTATE, the socket's error code, or the failure's tag: failures of one kind share it. */
  readonly kind: string
  /** The kind and the server's (or the socket's) own message. Never the URL, so never a password. */
  readonly description: string
}

// SQLSTATE classes that say the server cannot take the statement now, whatever
// it was: 08 connection exception, 53 insufficient resources (too many
// connections, disk full, out of memory), 57 operator intervention (shutdown,
// restart, a terminated backend, a cancelled statement).
const unavailableClasses = new Set(["08", "53", "57"])

/**
 * What the failure says of itself: the server's error fields (an
 * ErrorResponse, with its SQLSTATE), or a socket's error code.
 */
const detailsOf = (error: SqlError) => {
  const cause: { readonly code?: unknown; readonly message?: unknown; readonly severity?: unknown } =
    typeof error.reason.cause === "object" && error.reason.cause !== null ? error.reason.cause : {}
  const code = typeof cause.code === "string" ? cause.code : undefined
  return {
    sqlState: typeof cause.severity === "string" ? code : undefined,
    code,
    message: typeof cause.message === "string" && cause.message.length > 0 ? cause.message : undefined
  }
}

/**
 * What a failed statement means for the client, judged by what failed rather
 * than by message texts. The database is unavailable (a 503 the client may
 * retry) when a connection could not be established, whatever the server
 * answered (a role or database closed to connections, too many connections,
 * authentication, a database that does not exist, TLS, DNS, a timeout); when
 * the connection was lost under a statement; when the server refused the
 * statement for its own state (the SQLSTATE classes above); or when the
 * driver marks the failure as worth retrying (deadlock, serialization, lock or
 * statement timeout). Anything else the database rejected for its content (a
 * syntax error, a constraint the code did not expect) is a bug: undefined.
 */
export const unavailability = (error: SqlError): Unavailability | undefined => {
  const { reason } = error
  const { code, message, sqlState } = detailsOf(error)
  const unavailable = reason.operation === "connect" ||
    reason._tag === "ConnectionError" ||
    reason.isRetryable ||
    (sqlState !== undefined && unavailableClasses.has(sqlState.slice(0, 2)))
  if (!unavailable) return undefined
  const what = reason.operation === "connect"
    ? "Cannot connect to the database"
    : reason._tag === "ConnectionError"
    ? "Lost the connection to the database"
    : "The database refused the statement"
  const kind = code ?? reason._tag
  return {
    kind,
    description: `${what}: ${sqlState === undefined ? kind : `SQLSTATE ${sqlState}`}: ` +
      (message ?? reason.message ?? reason._tag)
  }
}

/** A failure to reach the database, as the log tells it: with its SQLSTATE or socket error when it has one. */
export const describeFailure = (error: { readonly message: string }): string =>
  (isSqlError(error) ? unavailability(error)?.description : undefined) ?? error.message
