import type { IncomingMessage, ServerResponse } from "node:http"
import { instanceOf, requestIdFor, requestIdHeader } from "../observability/Exchange.ts"
import { countUnavailable, methodLabel, recordRequest, unmatchedRoute } from "../observability/Metrics.ts"
import type { Shedding } from "./Admission.ts"
import { answerHeaders, type AnswerHeaderPaths } from "./AnswerHeaders.ts"
import { problemContentType, problemDocument } from "./ProblemResponses.ts"

// A second: about how long the queue it could not join holds.
const retryAfterSeconds = "1"
const detail = "The service is at capacity; try again in a second."

// The routes a refused request was for, as /metrics labels them; it never
// reached the router, and the shed ones are nearly all task requests.
const routeOf = (path: string) =>
  path === "/tasks" ? "/tasks" : /^\/tasks\/[^/]+$/.test(path) ? "/tasks/{id}" : unmatchedRoute

/**
 * How an overloaded instance says "not now": a 503 problem document with
 * Retry-After, written by Node directly, with the headers every answer
 * carries, counted in /metrics like every answer (and as
 * task_api_unavailable_total{cause="overload"}), and logged once every few
 * seconds rather than per request.
 */
export const shedding = (paths: AnswerHeaderPaths, warn: (message: string) => void): Shedding => {
  const headersFor = answerHeaders(paths)
  return {
    refuse: (request, response) => refuse(headersFor, request, response),
    report: (refused, inFlight, waiting) =>
      warn(
        `Overloaded: answered ${refused} requests 503 in the last few seconds, ` +
          `with ${inFlight} being served and ${waiting} waiting for their turn`
      )
  }
}

const refuse = (
  headersFor: ReturnType<typeof answerHeaders>,
  request: IncomingMessage,
  response: ServerResponse
) => {
  const url = request.url ?? "/"
  const query = url.indexOf("?")
  const path = query === -1 ? url : url.slice(0, query)
  const requestId = requestIdFor(request)
  const body = JSON.stringify({ ...problemDocument(503, detail), instance: instanceOf(requestId) })
  countUnavailable("overload")
  recordRequest(methodLabel(request.method ?? ""), routeOf(path), 503, 0)
  // Closed after the answer: a client that comes straight back must come
  // through the door again, where it waits in the kernel's accept queue at no
  // cost to the service, instead of spinning on 503s the service must read.
  response.shouldKeepAlive = false
  response.writeHead(503, {
    ...headersFor(path, 503),
    [requestIdHeader]: requestId,
    "retry-after": retryAfterSeconds,
    "content-type": problemContentType,
    "content-length": Buffer.byteLength(body)
  })
  response.end(request.method === "HEAD" ? undefined : body)
}
