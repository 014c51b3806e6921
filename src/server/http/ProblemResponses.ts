import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApiError from "effect/http-api/HttpApiError"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as SchemaIssue from "effect/SchemaIssue"
import { maxBodyBytes } from "../../api/JsonBody.ts"
import { countUnavailable } from "../observability/Metrics.ts"
import { deadlineOf } from "./RequestTimeout.ts"

export const problemContentType = "application/problem+json"

// Every 503 is an outage the service recovers from by itself (the database,
// a deadline, the token keys): it tells clients when to try again.
export const retryAfterSeconds = "5"

const titles = new Map<number, string>([
  [400, "Bad Request"],
  [401, "Unauthorized"],
  [404, "Not Found"],
  [405, "Method Not Allowed"],
  [406, "Not Acceptable"],
  [408, "Request Timeout"],
  [413, "Content Too Large"],
  [415, "Unsupported Media Type"],
  [429, "Too Many Requests"],
  [431, "Request Header Fields Too Large"],
  [500, "Internal Server Error"],
  [503, "Service Unavailable"]
])

const details = new Map<number, string>([
  [400, "The request could not be read."],
  [413, `The request body is larger than ${maxBodyBytes} bytes.`],
  [415, "The request body must be application/json."],
  [500, "The server failed to handle the request."],
  [503, "The service is unavailable; try again shortly."]
])

/** An RFC 9457 problem document with `about:blank` as its type. */
export const problemDocument = (status: number, detail: string) => ({
  type: "about:blank",
  title: titles.get(status) ?? "Error",
  status,
  detail
})

export const problem = (
  status: number,
  detail: string,
  headers?: Record<string, string>
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.jsonUnsafe(
    problemDocument(status, detail),
    { status, contentType: problemContentType, ...(headers ? { headers } : {}) }
  )

// Whatever produced an error response without a body of its own (the
// router's empty 404, the body reader's 413, a defect's 500, a 415 in plain
// text), the client gets a problem document. A JSON body is a document its
// route chose, such as GraphQL's 400 listing a document's errors, and is
// left as it is. The original headers, such as `Allow`, are kept.
export const toProblem = (
  response: HttpServerResponse.HttpServerResponse,
  request: HttpServerRequest.HttpServerRequest
): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400 || isJson(response)) return response
  const detail = response.status === 404
    ? `No resource at ${request.method} ${request.url.split("?")[0]}.`
    : details.get(response.status) ?? titles.get(response.status) ?? "The request failed."
  const { "content-type": _, "content-length": __, ...headers } = response.headers
  return problem(response.status, detail, headers)
}

/** Whether the answer has a body in `application/json` or a `+json` type (problem+json, graphql-response+json). */
const isJson = (response: HttpServerResponse.HttpServerResponse) => {
  if (response.body._tag === "Empty") return false
  const mediaType = (response.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  return mediaType === "application/json" || (mediaType.startsWith("application/") && mediaType.endsWith("+json"))
}

/**
 * A 5xx problem document with its occurrence named (RFC 9457 `instance`),
 * so a user who reports the error hands operators the key to its log lines
 * and trace. Only 5xx answers pay for rewriting the body.
 */
export const withInstance = (
  response: HttpServerResponse.HttpServerResponse,
  instance: string
): HttpServerResponse.HttpServerResponse => {
  const { body } = response
  if (body._tag !== "Uint8Array" || !body.contentType.startsWith(problemContentType)) return response
  const document = JSON.parse(body.text ?? new TextDecoder().decode(body.body)) as Record<string, unknown>
  const { "content-type": _, "content-length": __, ...headers } = response.headers
  return HttpServerResponse.jsonUnsafe(
    { ...document, instance },
    { status: response.status, contentType: problemContentType, headers }
  )
}

/**
 * The answer to a request that failed: the problem document of its cause.
 * A request cut short by its deadline is a 503; a 500 logs its cause (the
 * body never carries it).
 */
export const answerFailure = (
  cause: Cause.Cause<unknown>,
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  const deadline = deadlineOf(cause)
  if (deadline !== undefined) {
    countUnavailable("deadline")
    return Effect.succeed(problem(503, `The request took longer than ${Duration.format(deadline)}; try again shortly.`))
  }
  return Effect.flatMap(HttpServerError.causeResponse(cause), ([response]) =>
    response.status >= 500 && !Cause.hasInterruptsOnly(cause)
      ? Effect.as(Effect.logError("Request failed", cause), toProblem(response, request))
      : Effect.succeed(toProblem(response, request)))
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const slots = { Params: "params", Headers: "headers", Query: "query", Payload: "payload" } as const

/**
 * Request validation failures as 400 problems that name each bad field, with
 * a `detail` line that names the first one.
 */
export const ValidationProblems = HttpApiMiddleware.layerSchemaErrorTransform(
  HttpApiMiddleware.ProblemDetails,
  (error) => {
    if (error.kind === "Body" || error.kind === "ResponseHeaders") {
      return Effect.andThen(
        Effect.logError("Response encoding failed", error.cause),
        Effect.fail(new HttpApiError.InternalServerErrorProblem({ detail: details.get(500)! }))
      )
    }
    const slot = slots[error.kind]
    const errors = formatIssues(error.cause.issue).issues.map((issue) => ({
      path: [slot, ...(issue.path ?? []).map((segment) => {
        const key = typeof segment === "object" ? segment.key : segment
        return typeof key === "number" ? key : String(key)
      })],
      message: issue.message
    }))
    const first = errors[0]
    const detail = first === undefined
      ? "The request is invalid."
      : first.path.length === 1 && slot === "payload"
      ? `The request body is invalid: ${first.message}.`
      : `Invalid ${first.path.join(".")}: ${first.message}.` +
        (errors.length > 1 ? ` (${errors.length - 1} more problem${errors.length > 2 ? "s" : ""})` : "")
    return Effect.fail(new HttpApiError.BadRequestProblem({ detail, errors }))
  }
)

