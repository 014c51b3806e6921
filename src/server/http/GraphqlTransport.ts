import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type { GraphQLError, GraphQLFormattedError } from "graphql"
import { parseRequestParams, type RequestParams } from "graphql-http"
import { maxBodyBytes } from "../../api/JsonBody.ts"
import { PayloadTooLarge } from "../../domain/TaskErrors.ts"
import { countGraphqlError } from "../observability/Metrics.ts"
import { problem } from "./ProblemResponses.ts"

// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): how
// a GraphQL request is read (by GET or POST, as graphql-http reads it) and in
// which media type and with which status it is answered. What is not a
// GraphQL request at all is answered by the edge's problem documents.

export const graphqlResponse = "application/graphql-response+json"
export type MediaType = typeof graphqlResponse | "application/json"

/** The media ranges of an Accept header that the client accepts at all (q > 0), with their weights. */
const acceptedRanges = (accept: string) => {
  const ranges: Array<{ readonly name: string; readonly weight: number }> = []
  for (const range of accept.toLowerCase().split(",")) {
    const [name = "", ...parameters] = range.split(";").map((part) => part.trim())
    const q = parameters.find((parameter) => parameter.startsWith("q="))
    const weight = q === undefined ? 1 : Number(q.slice(2))
    if (weight > 0) ranges.push({ name, weight })
  }
  return ranges
}

/**
 * The media type to answer in. `application/graphql-response+json` when
 * the client accepts it at least as much as JSON (its status codes tell
 * request errors from results); `application/json` for JSON, `*\/*` or no
 * Accept at all, as the specification asks; nothing we can send, else.
 */
export const negotiate = (accept: string | undefined): MediaType | undefined => {
  if (accept === undefined || accept.trim() === "") return "application/json"
  let best: { readonly type: MediaType; readonly weight: number } | undefined
  for (const { name, weight } of acceptedRanges(accept)) {
    const type: MediaType | undefined = name === graphqlResponse
      ? graphqlResponse
      : name === "application/json" || name === "application/*" || name === "*/*"
      ? "application/json"
      : undefined
    if (type === undefined) continue
    if (best === undefined || weight > best.weight || (weight === best.weight && type === graphqlResponse)) {
      best = { type, weight }
    }
  }
  return best?.type
}

/**
 * Whether a request is a browser's visit rather than a GraphQL request: a
 * GET (or HEAD) with no `query`, that names text/html in its Accept higher
 * than either JSON type. A browser's navigation does (`*\/*` does not
 * count); a GraphQL client names JSON, at least as high, or alone.
 */
export const asksForPage = (request: HttpServerRequest.HttpServerRequest) => {
  if (request.method !== "GET" && request.method !== "HEAD") return false
  const accept = request.headers.accept
  if (accept === undefined) return false
  const query = request.url.indexOf("?")
  if (query !== -1 && new URLSearchParams(request.url.slice(query + 1)).has("query")) return false
  let html = 0
  let json = 0
  for (const { name, weight } of acceptedRanges(accept)) {
    if (name === "text/html") html = Math.max(html, weight)
    else if (name === graphqlResponse || name === "application/json") json = Math.max(json, weight)
  }
  return html > json
}

/** What a client that accepts neither media type gets. */
export const notAcceptable = () =>
  problem(406, `GraphQL answers in ${graphqlResponse} or application/json.`, {
    accept: `${graphqlResponse}; charset=utf-8, application/json; charset=utf-8`
  })

export const answer = (mediaType: MediaType, status: number, body: unknown) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: `${mediaType}; charset=utf-8` })

/**
 * A request error (the document does not parse or validate, its variables
 * do not fit): no data, and a 400 under graphql-response+json. Under
 * application/json, whose clients may not read a 4xx body, a 200.
 */
export const refused = (mediaType: MediaType, errors: ReadonlyArray<GraphQLError | GraphQLFormattedError>) => {
  for (const error of errors) countGraphqlError(String(error.extensions?.code))
  return answer(mediaType, mediaType === graphqlResponse ? 400 : 200, { errors })
}

const jsonMediaType = /^application\/json\s*(;|$)/i

/** The request's query, variables and operation name, read as graphql-http reads them. */
export const requestParams = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const post = request.method === "POST"
  if (post && Number(request.headers["content-length"]) > maxBodyBytes) {
    return yield* new PayloadTooLarge({ detail: `The request body is larger than ${maxBodyBytes} bytes.` })
  }
  // Only a JSON body is read: graphql-http answers any other with a 415.
  const body = post && jsonMediaType.test(request.headers["content-type"] ?? "") ? yield* request.text : null
  return yield* Effect.tryPromise({
    try: () =>
      parseRequestParams({
        // HEAD is GET without the body.
        method: post ? "POST" : "GET",
        url: request.url,
        headers: request.headers,
        body,
        raw: undefined,
        context: undefined
      }),
    catch: (error) => error instanceof Error ? error.message : "Unreadable request"
  }).pipe(
    Effect.map((params) =>
      Array.isArray(params)
        ? params[1].status === 415
          ? problem(415, "A GraphQL request by POST must be application/json.")
          : problem(params[1].status, "GraphQL is served by GET and POST.")
        : params as RequestParams
    ),
    Effect.catch((reason) => Effect.succeed(problem(400, `The GraphQL request is invalid: ${reason}.`)))
  )
})

