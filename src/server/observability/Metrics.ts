import * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"

// Every instrument lives in Effect's default metric registry, which both the
// Prometheus exposition and the OTLP exporter read. Names are the
// OpenTelemetry semantic conventions' (exported as they are over OTLP);
// `prometheusNames` says how Prometheus users know them. Updates pass the
// empty context: the registry is the default one, found without a fiber.
const registry = Context.empty()
const prometheusNames = new Map<string, string>()

const seconds = { unit: "seconds" }

const counter = (name: string, prometheusName: string, description: string, attributes?: Metric.Metric.AttributeSet) => {
  prometheusNames.set(name, prometheusName)
  return Metric.counter(name, { description, incremental: true, ...(attributes ? { attributes } : {}) })
}

/** Callers pass one value per label set; every set is made once and kept. */
const perLabels = <M>(make: (labels: string) => M) => {
  const made = new Map<string, M>()
  return (labels: string): M => {
    let metric = made.get(labels)
    if (metric === undefined) made.set(labels, metric = make(labels))
    return metric
  }
}

// -- HTTP server ---------------------------------------------------------

// The conventions' advised buckets for http.server.request.duration.
const httpBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
prometheusNames.set("http.server.request.duration", "http_server_request_duration_seconds")
prometheusNames.set("http.server.active_requests", "http_server_active_requests")

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"])
/** A method label from a bounded set: the conventions' `_OTHER` for any method HTTP does not define. */
export const methodLabel = (method: string) => knownMethods.has(method) ? method : "_OTHER"

/** The route label of a request that matched no route: every unknown path shares it. */
export const unmatchedRoute = "unmatched"

const requestDurations = perLabels((labels) => {
  const [method, route, status] = labels.split(" ")
  return Metric.histogram("http.server.request.duration", {
    description: "Duration of HTTP server requests.",
    boundaries: httpBuckets,
    attributes: {
      ...seconds,
      "http.request.method": method!,
      "http.route": route!,
      "http.response.status_code": status!
    }
  })
})

// Counted in a variable and read when the metrics are: a request pays for an
// increment, not for two lookups in the registry.
let active = 0
Metric.registerUnsafe(
  Metric.gauge("http.server.active_requests", { description: "Number of active HTTP server requests." }),
  registry,
  { get: () => ({ value: active }), update: () => {}, modify: () => {} }
)

// Subscriptions (GraphQL over Server-Sent Events) open on this instance, as active requests are.
let subscriptions = 0
prometheusNames.set("task_api.graphql.subscriptions", "task_api_graphql_subscriptions")
Metric.registerUnsafe(
  Metric.gauge("task_api.graphql.subscriptions", { description: "GraphQL subscription streams open on this instance." }),
  registry,
  { get: () => ({ value: subscriptions }), update: () => {}, modify: () => {} }
)
export const subscriptionOpened = () => void subscriptions++
export const subscriptionClosed = () => void subscriptions--

/** One answered request: its method (bounded), route template (or `unmatched`), status and duration. */
export const recordRequest = (method: string, route: string, status: number, durationSeconds: number) =>
  requestDurations(`${method} ${route} ${status}`).updateUnsafe(durationSeconds, registry)

export const requestStarted = () => void active++
export const requestEnded = () => void active--

// -- Database ------------------------------------------------------------

prometheusNames.set("db.client.operation.duration", "db_client_operation_duration_seconds")
const databaseBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]
const operationDurations = perLabels((operation) =>
  Metric.histogram("db.client.operation.duration", {
    description: "Duration of database client operations.",
    boundaries: databaseBuckets,
    attributes: { ...seconds, "db.system.name": "postgresql", "db.operation.name": operation }
  })
)

/** One repository operation on the database, by the SQL operation it performs. */
export const recordDatabaseOperation = (operation: string, durationSeconds: number) =>
  operationDurations(operation).updateUnsafe(durationSeconds, registry)

// -- The service's own ---------------------------------------------------

const tasksCreated = counter("task_api.tasks.created", "task_api_tasks_created_total", "Tasks created.")
const tasksUpdated = counter("task_api.tasks.updated", "task_api_tasks_updated_total", "Task updates applied.")
const tasksDeleted = counter("task_api.tasks.deleted", "task_api_tasks_deleted_total", "Tasks deleted.")
const replays = counter(
  "task_api.idempotent_replays",
  "task_api_idempotent_replays_total",
  "Creates answered with the task an earlier request with the same Idempotency-Key made."
)
const rateLimited = counter("task_api.rate_limited", "task_api_rate_limited_total", "Requests refused with 429.")
const unauthorized = perLabels((reason) =>
  counter("task_api.unauthorized", "task_api_unauthorized_total", "Requests refused with 401, by reason.", { reason })
)
const unavailable = perLabels((cause) =>
  counter(
    "task_api.unavailable",
    "task_api_unavailable_total",
    "Requests answered 503, by cause: database, deadline, keys, overload.",
    { cause }
  )
)
const dropped = perLabels((signal) =>
  counter(
    "task_api.telemetry.dropped",
    "task_api_telemetry_dropped_total",
    "Spans and log records dropped because the collector could not take them.",
    { signal }
  )
)
const graphqlOperations = perLabels((type) =>
  counter(
    "task_api.graphql.operations",
    "task_api_graphql_operations_total",
    "GraphQL operations executed, by type (query, mutation, subscription); never by name, which clients choose.",
    { "graphql.operation.type": type }
  )
)
const graphqlErrors = perLabels((code) =>
  counter(
    "task_api.graphql.errors",
    "task_api_graphql_errors_total",
    "Errors in GraphQL answers, by extensions.code: most come with a 200, which the HTTP metrics count as a success.",
    { code }
  )
)
prometheusNames.set("task_api.ready", "task_api_ready")
const ready = Metric.gauge("task_api.ready", {
  description: "1 while the instance is ready to serve (its database answers, it is not shutting down), else 0."
})
ready.updateUnsafe(1, registry)

// Counters that alerts read start at 0, so the first increase is seen as one.
for (const metric of [tasksCreated, tasksUpdated, tasksDeleted, replays, rateLimited]) metric.updateUnsafe(0, registry)
for (const cause of ["database", "deadline", "keys", "overload"]) unavailable(cause).updateUnsafe(0, registry)
for (const type of ["query", "mutation", "subscription"]) graphqlOperations(type).updateUnsafe(0, registry)
for (const code of ["INTERNAL_SERVER_ERROR", "UNAVAILABLE"]) graphqlErrors(code).updateUnsafe(0, registry)

export const countTaskCreated = () => tasksCreated.updateUnsafe(1, registry)
export const countTaskUpdated = () => tasksUpdated.updateUnsafe(1, registry)
export const countTaskDeleted = () => tasksDeleted.updateUnsafe(1, registry)
export const countReplay = () => replays.updateUnsafe(1, registry)
export const countRateLimited = () => rateLimited.updateUnsafe(1, registry)
export const countUnauthorized = (reason: string) => unauthorized(reason).updateUnsafe(1, registry)
export const countUnavailable = (cause: "database" | "deadline" | "keys" | "overload") =>
  unavailable(cause).updateUnsafe(1, registry)
export const countGraphqlOperation = (type: "query" | "mutation" | "subscription") => graphqlOperations(type).updateUnsafe(1, registry)
export const countGraphqlError = (code: string) => graphqlErrors(code).updateUnsafe(1, registry)
export const telemetryDropped = (signal: string) => {
  const metric = dropped(signal)
  return (count: number) => metric.updateUnsafe(count, registry)
}

/** Why the instance is not ready, if it is not: each cause sets its own flag. */
const notReadyBecause = new Set<string>()
export const setReady = (cause: "database" | "shutdown", isReady: boolean) => {
  if (isReady) notReadyBecause.delete(cause)
  else notReadyBecause.add(cause)
  ready.updateUnsafe(notReadyBecause.size === 0 ? 1 : 0, registry)
}

// -- Prometheus ------------------------------------------------------------

/** Every instrument in the Prometheus text exposition format, as `GET /metrics` answers it. */
export const prometheusExposition = () =>
  PrometheusMetrics.formatUnsafe(registry, { metricNameMapper: (name) => prometheusNames.get(name) ?? name })

export const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
