import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { randomUUID } from "node:crypto"

export const requestIdHeader = "x-request-id"

// What a caller may name its request with: 1 to 128 visible ASCII characters.
const acceptable = /^[\x21-\x7e]{1,128}$/

/**
 * Request ids, kept beside the request's underlying message (the same
 * object whichever wrapper of the request a fiber holds), so any log line
 * written while serving it can name it, at no cost to requests that log
 * nothing.
 */
const ids = new WeakMap<object, string>()

/** The caller's `X-Request-Id` when it is acceptable, else a new one; remembered for the request's log lines. */
export const assignRequestId = (request: HttpServerRequest.HttpServerRequest): string => {
  const given = request.headers["x-request-id"]
  const id = given !== undefined && acceptable.test(given) ? given : randomUUID()
  ids.set(request.source as object, id)
  return id
}

/** The id of the request `fiber` serves, if it serves one. */
export const requestIdOf = (fiber: Fiber.Fiber<unknown, unknown>): string | undefined => {
  const request = Context.getOrUndefined(fiber.context, HttpServerRequest.HttpServerRequest)
  return request === undefined ? undefined : ids.get(request.source as object)
}

/** What a 5xx problem document names its occurrence with (RFC 9457 `instance`): the request id. */
export const instanceOf = (requestId: string) => `urn:request:${requestId}`
