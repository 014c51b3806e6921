import * as ByteSize from "effect/ByteSize"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as IpNetwork from "effect/net/IpNetwork"
import * as Option from "effect/Option"
import type * as Types from "effect/Types"
import { maxBodyBytes } from "../../api/JsonBody.ts"
import { CurrentExchange, Exchange, instanceOf, requestIdFor, requestIdHeader } from "../observability/Exchange.ts"
import { methodLabel, recordRequest, requestEnded, requestStarted, unmatchedRoute } from "../observability/Metrics.ts"
import { endServerSpan, routeTemplate, withinServerSpan } from "../observability/ServerSpans.ts"
import { RequestTelemetry } from "../observability/Telemetry.ts"
import { randomHex } from "../observability/Tracing.ts"
import { AccessLog } from "./AccessLog.ts"
import { answerHeaders, type AnswerHeaderPaths } from "./AnswerHeaders.ts"
import { type ForwardedHeader, trustedProxyMiddleware } from "./ClientAddress.ts"
import { answerFailure, retryAfterSeconds, toProblem, withInstance } from "./ProblemResponses.ts"

const maxBodySize = ByteSize.bytes(maxBodyBytes)

const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

type HttpEffect = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>

/**
 * The global router middleware every request passes once, in one pass of
 * plain code around the routes: it names the request (X-Request-Id), caps
 * request bodies, turns every failure into a problem document, gives the
 * answer its headers (security, caching, and what the rooms below put in the
 * request's Exchange: rate limits, challenges), clears the deadline, records
 * the request's metrics and server span, and writes the access log line.
 * One wrapper rather than one per concern, and none at the server: a
 * middleware given to HttpRouter.serve takes every request off the
 * framework's single-frame path. Metrics and tracing are decided once, here,
 * so a service without them pays nothing.
 */
export const layer = (options: {
  readonly paths: AnswerHeaderPaths
  readonly trustedProxies: ReadonlyArray<IpNetwork.IpNetwork>
  readonly forwardedHeader: ForwardedHeader
}) =>
  HttpRouter.middleware(
    Effect.gen(function*() {
      const line = yield* AccessLog
      const { beginRequest, metrics } = yield* RequestTelemetry
      const headersFor = answerHeaders(options.paths)
      // Behind trusted proxies, the request the edge sees names the client, not the proxy.
      const throughProxies = options.trustedProxies.length === 0
        ? undefined
        : trustedProxyMiddleware(options.trustedProxies, options.forwardedHeader)

      const edge = (httpEffect: HttpEffect) =>
        Effect.withFiber((fiber) => {
          const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
          const requestId = requestIdFor(request)
          const clock = beginRequest === undefined ? undefined : fiber.getRef(Clock.Clock)
          const trace = clock === undefined ? undefined : beginRequest!(request.method, request.headers, clock)
          const exchange = new Exchange(
            trace === undefined
              ? { request_id: requestId }
              : { request_id: requestId, trace_id: trace.traceId, span_id: trace.span?.spanId ?? randomHex(8) },
            trace?.span !== undefined
          )
          if (metrics) requestStarted()
          // Into the request's own context, which the request restores when
          // it ends (as the router does with its match): no Effect step to
          // provide them, and `answer` still sees the router's match.
          fiber.setContext(
            Context.add(Context.add(fiber.context, CurrentExchange, exchange), HttpIncomingMessage.MaxBodySize, maxBodySize)
          )

          const answer = (response: HttpServerResponse.HttpServerResponse) => {
            if (exchange.deadline !== undefined) clearTimeout(exchange.deadline)
            const routePath = Context.getOrUndefined(fiber.context, HttpRouter.RouteContext)?.route.path
            const route = routePath === undefined ? undefined : routeTemplate(routePath)
            const path = pathOf(request.url)
            const problem = toProblem(response, request)
            const { status } = problem
            // Every header the answer gets, merged once.
            const headers: Record<string, string> = { ...headersFor(path, status), [requestIdHeader]: requestId }
            if (exchange.headers !== undefined) Object.assign(headers, exchange.headers)
            if (status === 503 && headers["retry-after"] === undefined && problem.headers["retry-after"] === undefined) {
              headers["retry-after"] = retryAfterSeconds
            }
            let answered = HttpServerResponse.setHeaders(problem, headers)
            if (status >= 500) answered = withInstance(answered, instanceOf(requestId))
            const elapsed = performance.now() - exchange.started
            if (metrics) {
              requestEnded()
              recordRequest(methodLabel(request.method), route ?? unmatchedRoute, status, elapsed / 1000)
            }
            if (trace?.span !== undefined) endServerSpan(trace.span, request, answered, route, clock!)
            if (line !== undefined) {
              const ms = Math.round(elapsed * 100) / 100
              line(request.method, path, status, ms, Option.getOrUndefined(request.remoteAddress), exchange.correlation)
            }
            return answered
          }

          const answered = Effect.matchCauseEffect(httpEffect, {
            onSuccess: (response) => Effect.succeed(answer(response)),
            onFailure: (cause) => Effect.map(answerFailure(cause, request), answer)
          })
          return trace?.span === undefined ? answered : withinServerSpan(answered, trace.span)
        })

      // Every failure is answered here; the cast only restores the router's
      // marker type for errors that middleware may leave to the next one.
      return (httpEffect) =>
        (throughProxies === undefined ? edge(httpEffect) : throughProxies(edge(httpEffect))) as Effect.Effect<
          HttpServerResponse.HttpServerResponse,
          Types.unhandled,
          HttpServerRequest.HttpServerRequest
        >
    }),
    { global: true }
  )
