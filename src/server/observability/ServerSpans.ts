import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { ServiceSpan } from "./Tracing.ts"

const templates = new Map<string, string>()

/** A router path (`/tasks/:id`) as the OpenAPI document writes it (`/tasks/{id}`). */
export const routeTemplate = (path: string): string => {
  let template = templates.get(path)
  if (template === undefined) templates.set(path, template = path.replace(/:(\w+)/g, "{$1}"))
  return template
}

/** A 5xx as the span's outcome: the conventions make a server span an error only then. */
class ServerError extends Error {
  readonly _tag: string
  constructor(status: number) {
    super(`HTTP ${status}`)
    this._tag = String(status)
  }
}

/**
 * Runs a request whose trace is recorded inside its SERVER span: the tracer
 * is on for it alone (the service runs with it off, so a request that is not
 * recorded makes no span at all). A request cut short still ends its span.
 */
export const withinServerSpan = <A, E, R>(effect: Effect.Effect<A, E, R>, span: ServiceSpan) =>
  Effect.withTracerEnabled(effect, true).pipe(
    Effect.provideService(Tracer.ParentSpan, span),
    Effect.onInterrupt(() => Effect.clockWith((clock) => Effect.sync(() => span.end(clock.currentTimeNanosUnsafe(), Exit.interrupt()))))
  )

/**
 * Names the request's span for its route (`GET /tasks/{id}`, or only the
 * method when no route matched), gives it the HTTP semantic conventions'
 * attributes, and ends it, failed on a 5xx. The query is left out: it is
 * the caller's, and may carry anything.
 */
export const endServerSpan = (
  span: ServiceSpan,
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  route: string | undefined,
  clock: Clock.Clock
) => {
  const method = request.method
  span.name = route === undefined ? method : `${method} ${route}`
  const host = request.headers.host ?? ""
  const colon = host.lastIndexOf(":")
  const hasPort = colon > host.lastIndexOf("]")
  span.attribute("http.request.method", method)
  // The router names the route in its own form (`/tasks/:id`).
  if (route === undefined) span.attributes.delete("http.route")
  else span.attribute("http.route", route)
  span.attribute("http.response.status_code", response.status)
  span.attribute("url.path", request.url.split("?")[0])
  span.attribute("url.scheme", "http")
  if (host !== "") span.attribute("server.address", hasPort ? host.slice(0, colon) : host)
  if (hasPort) span.attribute("server.port", Number(host.slice(colon + 1)))
  if (Option.isSome(request.remoteAddress)) span.attribute("client.address", request.remoteAddress.value)
  const userAgent = request.headers["user-agent"]
  if (userAgent !== undefined) span.attribute("user_agent.original", userAgent)
  if (response.status >= 500) span.attribute("error.type", String(response.status))
  span.end(clock.currentTimeNanosUnsafe(), response.status >= 500 ? Exit.fail(new ServerError(response.status)) : Exit.void)
}
