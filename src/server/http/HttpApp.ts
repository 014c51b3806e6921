// The HTTP edge: the routes, and the middleware every request passes on its way to them and back.
// Request schemas decode through parsers compiled to JavaScript rather than
// interpreted (5% fewer instructions per GET by id; the 400 documents are the
// same, as the contract suite shows): enabled before any decoder is built.
import "effect/schema/SchemaJITCompiler/enable"
import * as Effect from "effect/Effect"
import type * as FindMyWay from "effect/http/FindMyWay"
import * as Layer from "effect/Layer"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import { Api } from "../../api/Api.ts"
import { AppConfig } from "../AppConfig.ts"
import * as Authorization from "../access/Authorization.ts"
import * as Cors from "./Cors.ts"
import * as DocsPage from "./DocsPage.ts"
import * as GraphqlHttp from "./GraphqlHttp.ts"
import * as HttpEdge from "./HttpEdge.ts"
import { JsonBodyGuard } from "./JsonBodyGuard.ts"
import * as MethodNotAllowed from "./MethodNotAllowed.ts"
import * as MetricsEndpoint from "./MetricsEndpoint.ts"
import { metricsPath } from "./MetricsEndpoint.ts"
import { maxHeadBytes } from "./NodeServer.ts"
import * as ProblemResponses from "./ProblemResponses.ts"
import * as RequestTimeout from "./RequestTimeout.ts"
import { SystemHttp } from "./SystemHttp.ts"
import { TasksHttp } from "../tasks/TasksHttp.ts"

// Paths are case-sensitive (RFC 3986); the router's default is not. A path
// parameter may be as long as the request head allows: past the router's
// default of 100 characters, a malformed id would be a 404 of no route
// instead of the 400 that names it.
export const routerConfig: Partial<FindMyWay.RouterConfig> = { caseSensitive: true, maxParamLength: maxHeadBytes }

export const openapiPath = "/openapi.json" as const
export const docsPath = "/docs" as const
export const graphqlPath = "/graphql" as const

/**
 * Every route of the service and the middleware around them, as AppConfig
 * sets them up. It needs a TaskRepo and a PageCursor: main provides the
 * PostgreSQL ones, tests the in-memory ones.
 */
export const routes = Layer.unwrap(Effect.map(AppConfig, (config) => {
  const { apiDocs, corsOrigins, metrics, metricsPort } = config
  const metricsHere = metrics && metricsPort === undefined
  return Layer.mergeAll(
    HttpApiBuilder.layer(Api, apiDocs ? { openapiPath } : {}).pipe(
      Layer.provide([TasksHttp, SystemHttp]),
      Layer.provide([JsonBodyGuard, ProblemResponses.ValidationProblems, RequestTimeout.layer, Authorization.layer])
    ),
    // The same Authorization and deadline layers: built once, one rate limit per caller for both APIs.
    GraphqlHttp.layer(graphqlPath, { explorer: apiDocs }).pipe(Layer.provide([RequestTimeout.layer, Authorization.layer])),
    // API_DOCS also governs the GraphQL explorer: GraphqlHttp serves it.
    apiDocs ? DocsPage.layer(docsPath) : Layer.empty,
    metricsHere ? MetricsEndpoint.route : Layer.empty,
    MethodNotAllowed.layer(Api, [
      [graphqlPath, ["GET", "POST"]],
      ...(apiDocs ? [openapiPath, docsPath] : []).map((path) => [path, ["GET"]] as const),
      ...(metricsHere ? [[metricsPath, ["GET"]] as const] : [])
    ]),
    corsOrigins.length > 0 ? Cors.layer(corsOrigins) : Layer.empty,
    // The one global middleware: it wraps every route, the 404 of none too.
    HttpEdge.layer({
      paths: { docs: docsPath, openapi: openapiPath, graphql: graphqlPath },
      trustedProxies: config.trustProxy,
      forwardedHeader: config.trustProxyHeader
    })
  )
}))
