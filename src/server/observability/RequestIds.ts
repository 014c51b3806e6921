import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { randomUUID } from "node:crypto"

export const requestIdHeader = "x-request-id"

// What a caller may name its request with: 1 to 128 visible ASCII characters.
const acceptable = /^[\x21-\x7e]{1,128}$/

/** What ties a log line to its request: the request id, and the trace and span when tracing is on. */
export interface Correlation {
  readonly request_id: string
  readonly trace_id?: string
  readonly span_id?: string
}

/**
 * Each request's correlation, kept beside the request's underlying message
 * (the same object whichever wrapper of the request a fiber holds), so any
 * log line written while serving it can name it, at no cost to requests that
 * log nothing.
 */
const correlations = new WeakMap<object, Correlation>()

/** The caller's `X-Request-Id` when it is acceptable, else a new one. */
export const requestIdFor = (request: HttpServerRequest.HttpServerRequest): string => {
  const given = request.headers["x-request-id"]
  return given !== undefined && acceptable.test(given) ? given : randomUUID()
}

/** Remembers what a request's log lines carry. */
export const rememberCorrelation = (request: HttpServerRequest.HttpServerRequest, correlation: Correlation) =>
  void correlations.set(request.source as object, correlation)

/** The correlation of the request `fiber` serves, if it serves one. */
export const requestCorrelationOf = (fiber: Fiber.Fiber<unknown, unknown>): Correlation | undefined => {
  const request = Context.getOrUndefined(fiber.context, HttpServerRequest.HttpServerRequest)
  return request === undefined ? undefined : correlations.get(request.source as object)
}

/** What a 5xx problem document names its occurrence with (RFC 9457 `instance`): the request id. */
export const instanceOf = (requestId: string) => `urn:request:${requestId}`
