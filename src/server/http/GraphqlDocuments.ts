import { type DocumentNode, GraphQLError, Kind, parse, validate, type ValidationRule, visit } from "graphql"
import type { RequestParams } from "graphql-http"
import { compileQuery, type CompiledQuery, isCompiledQuery } from "graphql-jit"
import { taskGraphSchema } from "../../api/TaskGraph.ts"
import { parseFailure, withCode } from "./GraphqlErrors.ts"
import { graphqlLimits, limitRules } from "./GraphqlLimits.ts"

/** A document that may run, or why it may not. */
export type Checked = { readonly document: DocumentNode } | { readonly errors: ReadonlyArray<GraphQLError> }

interface Known {
  readonly checked: Checked
  /** Whether its cost depends on the request's variables (a `first` given by a variable). */
  readonly costByVariables: boolean
}

// Documents checked, by their text: clients send the same few again and
// again. Parsing and graphql-js's validation took a third of the CPU of a
// `{ __typename }` (measured: 2,120 answers/s by POST against 5,884 of
// REST's 400s); both depend on the text alone. Only documents within the
// limits are kept, so a flood of hostile ones cannot fill it; past `size`
// the oldest go.
const size = 500

const firstByVariable = (document: DocumentNode) => {
  let found = false
  visit(document, {
    Argument(argument) {
      if (argument.name.value === "first" && argument.value.kind === Kind.VARIABLE) found = true
    }
  })
  return found
}

/**
 * Checks a request's document: the service's limits first (with the
 * request's variables), so a hostile document costs little and is never
 * looked at by graphql-js's rules; then those rules. The answer for a text
 * is kept; only the limits that depend on variables run again.
 */
export const makeDocumentCheck = (rules: ReadonlyArray<ValidationRule>, options: { readonly hideSuggestions: boolean }) => {
  const validation = { maxErrors: 25, hideSuggestions: options.hideSuggestions }
  const known = new Map<string, Known>()
  const refused = (errors: ReadonlyArray<GraphQLError>): Checked => ({
    errors: errors.map((error) => withCode(error, "GRAPHQL_VALIDATION_FAILED"))
  })

  return (params: RequestParams): Checked => {
    const found = known.get(params.query)
    if (found !== undefined) {
      if (!found.costByVariables || !("document" in found.checked)) return found.checked
      const overLimits = validate(taskGraphSchema, found.checked.document, limitRules(params.variables), validation)
      return overLimits.length > 0 ? refused(overLimits) : found.checked
    }
    let document: DocumentNode
    try {
      document = parse(params.query, { maxTokens: graphqlLimits.maxTokens })
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [parseFailure(error, graphqlLimits.maxTokens)] }
      throw error
    }
    const overLimits = validate(taskGraphSchema, document, limitRules(params.variables), validation)
    if (overLimits.length > 0) return refused(overLimits)
    const errors = validate(taskGraphSchema, document, rules, validation)
    const checked = errors.length > 0 ? refused(errors) : { document }
    if (known.size >= size) known.delete(known.keys().next().value!)
    known.set(params.query, { checked, costByVariables: firstByVariable(document) })
    return checked
  }
}

// Each kept document's operations, compiled to JavaScript by graphql-jit the
// first time they run (measured: see the README's GraphQL figures). Keyed by
// the document object, so they go when it leaves the cache.
const compiled = new WeakMap<DocumentNode, Map<string | undefined, CompiledQuery | undefined>>()

/**
 * The operation, compiled; undefined when graphql-jit cannot compile it
 * (graphql-js then runs it, as it runs subscriptions' events).
 */
export const compiledOperation = (document: DocumentNode, operationName: string | null | undefined) => {
  let operations = compiled.get(document)
  if (operations === undefined) compiled.set(document, operations = new Map())
  const name = operationName ?? undefined
  if (operations.has(name)) return operations.get(name)
  const result = compileQuery(taskGraphSchema, document, name, { disablingCapturingStackErrors: true })
  const query = isCompiledQuery(result) ? result : undefined
  operations.set(name, query)
  return query
}
