import { type ExecutionResult, GraphQLError, type GraphQLFormattedError } from "graphql"
import type { TaskGraphErrorCode } from "../../api/TaskGraph.ts"
import { TaskGraphFailure } from "../tasks/TaskGraphResolvers.ts"
import { isTokenLimit, limitError } from "./GraphqlLimits.ts"

// What a GraphQL answer may tell a client about a failure: every error has
// the contract's `extensions.code`, and only errors this service words
// itself keep their message. Nothing else reaches the client: no SQL, no
// driver text, no stack.

export const withCode = (error: GraphQLError, code: TaskGraphErrorCode): GraphQLError =>
  new GraphQLError(error.message, {
    ...(error.nodes === undefined ? {} : { nodes: error.nodes }),
    ...(error.source === undefined ? {} : { source: error.source }),
    ...(error.positions === undefined ? {} : { positions: error.positions }),
    extensions: { ...error.extensions, code }
  })

/** A document that does not parse: GRAPHQL_PARSE_FAILED, or the token limit's GRAPHQL_VALIDATION_FAILED. */
export const parseFailure = (error: GraphQLError, maxTokens: number): GraphQLError =>
  isTokenLimit(error)
    ? withCode(limitError("tokens", `The document has more than ${maxTokens} tokens, the limit.`), "GRAPHQL_VALIDATION_FAILED")
    : withCode(error, "GRAPHQL_PARSE_FAILED")

/** An error of an executed operation as the client sees it, and whether it is a bug the client is not told about. */
export const publicError = (
  error: GraphQLError,
  result: ExecutionResult
): { readonly error: GraphQLFormattedError; readonly hidden: boolean } => {
  if (error.originalError instanceof TaskGraphFailure) return { error: error.toJSON(), hidden: false }
  // No data at all: graphql-js refused the request's variables before
  // running anything (a request error, worded by graphql-js from the
  // schema and the variables alone: 'Variable "$input" has invalid value
  // at .title: ...').
  if (result.data === undefined) {
    return { error: withCode(error, "BAD_USER_INPUT").toJSON(), hidden: false }
  }
  const { locations, path } = error.toJSON()
  return {
    error: {
      message: "Internal server error",
      ...(locations === undefined ? {} : { locations }),
      ...(path === undefined ? {} : { path }),
      extensions: { code: "INTERNAL_SERVER_ERROR" satisfies TaskGraphErrorCode }
    },
    hidden: true
  }
}
