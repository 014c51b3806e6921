// Timestamps are rendered by PostgreSQL in the wire format, so rows need no
// Date round trip in JavaScript. The output names shadow the columns, so
// ORDER BY must qualify them (`tasks.created_at`) to sort by the indexed
// timestamp rather than the formatted string.
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** A task's columns as the domain's Task: what every statement that answers tasks selects. */
export const taskColumns = `id, title, description, status, ${iso("created_at")} AS created_at, ${iso("updated_at")} AS updated_at`
