import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import { randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"

export const requestIdHeader = "x-request-id"

// What a caller may name its request with: 1 to 128 visible ASCII characters.
const acceptable = /^[\x21-\x7e]{1,128}$/

/** The caller's `X-Request-Id` when it is acceptable, else a new one. */
export const requestIdFor = (request: Pick<HttpServerRequest.HttpServerRequest | IncomingMessage, "headers">): string => {
  const given = request.headers["x-request-id"]
  return typeof given === "string" && acceptable.test(given) ? given : randomUUID()
}

/** What a 5xx problem document names its occurrence with (RFC 9457 `instance`): the request id. */
export const instanceOf = (requestId: string) => `urn:request:${requestId}`

/** What ties a log line to its request: the request id, and the trace and span when tracing is on. */
export interface Correlation {
  readonly request_id: string
  readonly trace_id?: string
  readonly span_id?: string
}

/**
 * One request while the service answers it, made by the HTTP edge when it
 * arrives and found in the request fiber's context by every room below:
 * what its log lines carry, whether its trace is recorded, and what its
 * answer will carry whatever that answer is (a success, a failure or a
 * timeout), so that no room has to wrap the response, or hook its writing,
 * to add a header.
 */
export class Exchange {
  readonly started = performance.now()
  /** Headers for the answer, added by the rooms below the edge: RateLimit-*, Retry-After, WWW-Authenticate. */
  headers: Record<string, string> | undefined = undefined
  /** The request deadline's timer, which the edge clears once the answer is ready. */
  deadline: ReturnType<typeof setTimeout> | undefined = undefined

  readonly correlation: Correlation
  /** Whether the request's trace is recorded: then every step makes its span, and none may be skipped. */
  readonly recorded: boolean

  constructor(correlation: Correlation, recorded: boolean) {
    this.correlation = correlation
    this.recorded = recorded
  }

  addHeaders(headers: Record<string, string>) {
    this.headers = this.headers === undefined ? headers : { ...this.headers, ...headers }
  }
}

export class CurrentExchange extends Context.Service<CurrentExchange, Exchange>()("task-api/server/observability/Exchange") {}

/** The exchange of the request `fiber` serves, if it serves one. */
export const exchangeOf = (fiber: Fiber.Fiber<unknown, unknown>): Exchange | undefined =>
  Context.getOrUndefined(fiber.context, CurrentExchange)
