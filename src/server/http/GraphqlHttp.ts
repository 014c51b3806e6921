import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import type * as Types from "effect/Types"
import {
  type DocumentNode,
  execute,
  type ExecutionResult,
  getOperationAST,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  type OperationDefinitionNode,
  specifiedRules
} from "graphql"
import type { RequestParams } from "graphql-http"
import type { CompiledQuery } from "graphql-jit"
import { Authorization, CurrentOwner } from "../../api/Authorization.ts"
import { RequestDeadline } from "../../api/RequestDeadline.ts"
import { taskGraphSchema } from "../../api/TaskGraph.ts"
import { AppConfig } from "../AppConfig.ts"
import { exchangeOf } from "../observability/Exchange.ts"
import { countGraphqlError, countGraphqlOperation } from "../observability/Metrics.ts"
import { childSpan } from "../observability/Tracing.ts"
import { TaskEvents } from "../tasks/TaskEvents.ts"
import { makeTaskGraphResolvers } from "../tasks/TaskGraphResolvers.ts"
import { Draining } from "./Draining.ts"
import { publicError, withCode } from "./GraphqlErrors.ts"
import * as GraphqlExplorer from "./GraphqlExplorer.ts"
import { compiledOperation, makeDocumentCheck } from "./GraphqlDocuments.ts"
import { makeSubscriptions, wantsEventStream } from "./GraphqlSubscriptions.ts"
import {
  answer,
  asksForPage,
  graphqlResponse,
  type MediaType,
  negotiate,
  notAcceptable,
  refused,
  requestParams
} from "./GraphqlTransport.ts"
import { problem, retryAfterSeconds } from "./ProblemResponses.ts"

// The /graphql route: a document is parsed, checked against the service's
// limits and validated before anything runs; then it runs as the caller,
// over the same repository as REST, in a span of its own. How requests are
// read and answers written is GraphqlTransport's.

/**
 * A route's effect as HttpApi middleware take it. Their types leave a
 * route's failures to the router; here the edge answers them (each is a
 * problem document), and the request is in every route's context.
 */
const asMiddlewareInput = <R = never>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown>) =>
  effect as Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled, R>

/** The OpenTelemetry span of an operation: `query TaskById`, with the GraphQL semantic conventions' attributes. */
const operationSpan = (operation: OperationDefinitionNode) => () => {
  const name = operation.name?.value
  return {
    name: name === undefined ? operation.operation : `${operation.operation} ${name}`,
    attributes: {
      "graphql.operation.type": operation.operation,
      ...(name === undefined ? {} : { "graphql.operation.name": name })
    }
  }
}

/**
 * The GraphQL route at `path`, for GET (and so HEAD) and POST, and its
 * subscriptions over Server-Sent Events. It needs a TaskRepo, TaskEvents and a PageCursor, and the Authorization and RequestDeadline that
 * REST's endpoints use, so a caller has one rate limit and one deadline
 * whichever API it calls. With `explorer`, a browser's GET without a query
 * gets the GraphiQL page instead, before authentication: the page holds
 * no data, and the token is the one its user gives it.
 */
export const layer = (path: `/${string}`, options: { readonly explorer: boolean }) => HttpRouter.use(Effect.fnUntraced(function*(router) {
  const { graphqlIntrospection, maxSubscriptions } = yield* AppConfig
  const subscribe = makeSubscriptions({ events: yield* TaskEvents, maxOpen: maxSubscriptions, drain: yield* Draining })
  const authorization = yield* Authorization
  const deadline = yield* RequestDeadline
  const resolvers = yield* makeTaskGraphResolvers
  const rules = graphqlIntrospection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule]
  // Without introspection, errors must not tell the schema either ("Did you mean ...?").
  const hideSuggestions = !graphqlIntrospection
  const checked = makeDocumentCheck(rules, { hideSuggestions })

  const run = (
    document: DocumentNode,
    operation: OperationDefinitionNode,
    params: RequestParams,
    compiled: CompiledQuery | undefined
  ) =>
    childSpan(
      Effect.contextWith((context: Context.Context<CurrentOwner>) => {
        // Aborted only if the request is interrupted: Effect.promise's own
        // signal is aborted after every run, and each abort makes a
        // DOMException with its stack (4% of the CPU of a small query).
        const controller = new AbortController()
        const contextValue = resolvers.bind(context, controller.signal)
        return Effect.onInterrupt(
          Effect.promise(() =>
            Promise.resolve(
              compiled !== undefined
                ? compiled.query(undefined, contextValue, params.variables)
                : execute({
                  schema: taskGraphSchema,
                  document,
                  operationName: params.operationName,
                  variableValues: params.variables,
                  contextValue,
                  abortSignal: controller.signal,
                  hideSuggestions
                })
            )
          ),
          () => Effect.sync(() => controller.abort())
        )
      }),
      operationSpan(operation)
    )

  /** The result as the client sees it: errors it may read, the rest masked and logged. */
  const respond = (mediaType: MediaType, result: ExecutionResult) =>
    Effect.withFiber((fiber) => {
      if (result.errors === undefined) return Effect.succeed(answer(mediaType, 200, result))
      const hidden: Array<GraphQLError> = []
      const errors = result.errors.map((error) => {
        const shown = publicError(error, result)
        if (shown.hidden) hidden.push(error)
        const code = String(shown.error.extensions?.code)
        countGraphqlError(code)
        if (code === "UNAVAILABLE") exchangeOf(fiber)?.addHeaders({ "retry-after": retryAfterSeconds })
        return shown.error
      })
      // A request error (no data) is a 400 under graphql-response+json; a result with data, a 200.
      const status = result.data === undefined && mediaType === graphqlResponse ? 400 : 200
      const answered = answer(mediaType, status, { ...result, errors })
      // Logged as REST's 500s are, with what failed as the cause.
      return hidden.length === 0
        ? Effect.succeed(answered)
        : Effect.as(
          Effect.forEach(hidden, (error) => Effect.logError("Request failed", Cause.die(error.originalError ?? error)), {
            discard: true
          }),
          answered
        )
    })

  const serve = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // A graphql-sse subscription; what it cannot stream is answered in graphql-response+json.
    const eventStream = request.method === "POST" && wantsEventStream(request.headers.accept)
    const mediaType = eventStream ? graphqlResponse : negotiate(request.headers.accept)
    if (mediaType === undefined) return notAcceptable()
    const params = yield* requestParams
    if (HttpServerResponse.isHttpServerResponse(params)) return params
    const parsed = checked(params)
    if ("errors" in parsed) return refused(mediaType, parsed.errors)
    const { document } = parsed
    const operation = getOperationAST(document, params.operationName)
    if (operation === null || operation === undefined) {
      const message = params.operationName === undefined || params.operationName === null
        ? "The document holds several operations: name the one to run in operationName."
        : `The document holds no operation named ${params.operationName}.`
      return refused(mediaType, [withCode(new GraphQLError(message), "GRAPHQL_VALIDATION_FAILED")])
    }
    if (operation.operation === "subscription") {
      if (!eventStream) {
        return refused(mediaType, [
          withCode(
            new GraphQLError("A subscription is served over Server-Sent Events: POST it with Accept: text/event-stream.", {
              nodes: operation
            }),
            "GRAPHQL_VALIDATION_FAILED"
          )
        ])
      }
      countGraphqlOperation("subscription")
      return yield* childSpan(CurrentOwner.use((owner) => subscribe(document, params, owner)), operationSpan(operation))
    }
    // GET (and HEAD) must not change anything: GraphQL over HTTP, and HTTP itself.
    if (operation.operation === "mutation" && request.method !== "POST") {
      return problem(405, "A mutation is sent by POST; GET serves queries only.", { allow: "POST" })
    }
    countGraphqlOperation(operation.operation)
    const compiled = compiledOperation(document, params.operationName)
    return yield* respond(mediaType, yield* run(document, operation, params, compiled))
  })

  // Authorization and the deadline are HttpApi middleware, given the endpoint
  // they guard; they read nothing of it, and this one is not part of the REST API.
  const group = HttpApiGroup.make("graphql").add(HttpApiEndpoint.post("graphql", path))
  const guarded = {
    endpoint: group.endpoints.graphql as unknown as HttpApiEndpoint.Top,
    group: group as unknown as HttpApiGroup.Top
  }
  const credential = HttpApiBuilder.securityDecode(Authorization.security.bearer)
  const handler = deadline(
    asMiddlewareInput(Effect.flatMap(credential, (credential) =>
      authorization.bearer(asMiddlewareInput<CurrentOwner>(serve), { credential, ...guarded }))),
    guarded
  )
  const explorer = options.explorer ? yield* GraphqlExplorer.make(path) : undefined
  const get = explorer === undefined
    ? handler
    : Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => asksForPage(request) ? explorer : handler)
  yield* router.add("GET", path, get)
  yield* router.add("POST", path, handler)
}))
