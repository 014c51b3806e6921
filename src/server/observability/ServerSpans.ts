import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { ServiceSpan } from "./Tracing.ts"

// The SERVER span itself is Effect's: the HTTP server opens one per request
// while a tracer is on, as a child of the caller's W3C `traceparent` (its
// sampled flag respected), and gives it the HTTP conventions' attributes
// (method, url.path and url.scheme, server and client address, user agent,
// status code), failing it on a 5xx. What it cannot know is added here.

const templates = new Map<string, string>()

/** A router path (`/tasks/:id`) as the OpenAPI document writes it (`/tasks/{id}`). */
export const routeTemplate = (path: string): string => {
  let template = templates.get(path)
  if (template === undefined) templates.set(path, template = path.replace(/:(\w+)/g, "{$1}"))
  return template
}

const serverSpanOf = (fiber: Fiber.Fiber<unknown, unknown>) => {
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  return span instanceof ServiceSpan && span.kind === "server" ? span : undefined
}

/** The caller's W3C `tracestate`, kept on the request's span, so every span of the trace here carries it. */
export const adoptTraceState = (fiber: Fiber.Fiber<unknown, unknown>, request: HttpServerRequest.HttpServerRequest) => {
  const traceState = request.headers["tracestate"]
  const span = traceState === undefined || traceState.length > 512 ? undefined : serverSpanOf(fiber)
  if (span !== undefined && Option.isSome(span.parent)) span.traceState = traceState
}

/**
 * Names the request's span for its route (`GET /tasks/{id}`, or only the
 * method when no route matched), with `http.route` as the OpenAPI document
 * writes it, and `error.type` on a 5xx.
 */
export const describeServerSpan = (
  fiber: Fiber.Fiber<unknown, unknown>,
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  route: string | undefined
) => {
  const span = serverSpanOf(fiber)
  if (span === undefined || !span.sampled) return
  span.name = route === undefined ? request.method : `${request.method} ${route}`
  // The router names the route in its own form (`/tasks/:id`).
  if (route === undefined) span.attributes.delete("http.route")
  else span.attribute("http.route", route)
  if (response.status >= 500) span.attribute("error.type", String(response.status))
}
