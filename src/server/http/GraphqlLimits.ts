import {
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule
} from "graphql"
import { taskPageLimits } from "../../api/TaskGraph.ts"

/**
 * What one GraphQL document may ask, checked before it runs. Real clients of
 * this schema stay far below each: its deepest data is 4 fields down
 * (`tasks { edges { node { id } } }`), graphql-js's introspection query is
 * 163 tokens, and a screen shows a page or two of tasks.
 */
export const graphqlLimits = {
  /** Nested data fields. Introspection is left out: graphql-js's MaxIntrospectionDepthRule bounds its cycles. */
  maxDepth: 10,
  /** Aliases in the document: each may run a field again. */
  maxAliases: 30,
  /** Tokens, counted by the parser, which stops there. */
  maxTokens: 2000,
  /**
   * Rows the document may read: each `tasks` page costs its `first`, any
   * other root field 1. A board of three full columns (3 x 100) fits; the
   * largest answer is five of REST's largest pages, for one request from
   * the caller's bucket (a task may hold 40 KB of description).
   */
  maxCost: 500,
  /** Items a `tasks` page may hold, as REST's `limit`. */
  maxFirst: taskPageLimits.maximum
} as const

export type GraphqlLimit = "depth" | "aliases" | "tokens" | "cost" | "first"

export const limitError = (limit: GraphqlLimit, message: string, nodes?: ReadonlyArray<FieldNode | OperationDefinitionNode>) =>
  new GraphQLError(message, { ...(nodes === undefined ? {} : { nodes }), extensions: { limit } })

const isIntrospection = (field: FieldNode) => field.name.value.startsWith("__")

/** What a selection asks for, below where it is used. */
interface Measure {
  readonly depth: number
  readonly cost: number
}

const nothing: Measure = { depth: 0, cost: 0 }

/**
 * The `first` a `tasks` field asks for: written in the document, from the
 * request's variables, or the variable's or the argument's default. A value
 * that is not an integer costs the default here; graphql-js refuses it later.
 */
const firstOf = (field: FieldNode, operation: OperationDefinitionNode, variables: ReadonlyMap<string, unknown>): number => {
  const value = field.arguments?.find((argument) => argument.name.value === "first")?.value
  if (value?.kind === Kind.INT) return Number(value.value)
  if (value?.kind !== Kind.VARIABLE) return taskPageLimits.default
  const name = value.name.value
  if (variables.has(name)) {
    const given = variables.get(name)
    return typeof given === "number" && Number.isInteger(given) ? given : taskPageLimits.default
  }
  const fallback = operation.variableDefinitions?.find((definition) => definition.variable.name.value === name)?.defaultValue
  return fallback?.kind === Kind.INT ? Number(fallback.value) : taskPageLimits.default
}

/**
 * Depth, cost and each `tasks` page's size, for every operation of the
 * document, with the request's variables. Fragments are measured once each
 * (a document that spreads fragments into one another cannot make the walk
 * exponential) and a fragment that spreads itself counts nothing here:
 * graphql-js's own rules refuse it.
 */
const operationLimits = (variables: ReadonlyMap<string, unknown>): ValidationRule => (context: ValidationContext) => ({
  OperationDefinition(operation) {
    const measured = new Map<string, Measure>()
    const onPath = new Set<string>()
    const refused = new Set<FieldNode>()

    const measureFragment = (fragment: FragmentDefinitionNode, atRoot: boolean): Measure => {
      const key = `${atRoot ? "root" : "below"}:${fragment.name.value}`
      const known = measured.get(key)
      if (known !== undefined) return known
      if (onPath.has(fragment.name.value)) return nothing
      onPath.add(fragment.name.value)
      const measure = measureSelections(fragment.selectionSet, atRoot)
      onPath.delete(fragment.name.value)
      measured.set(key, measure)
      return measure
    }

    const measureSpread = (name: string, atRoot: boolean): Measure => {
      const fragment = context.getFragment(name)
      return fragment === undefined || fragment === null ? nothing : measureFragment(fragment, atRoot)
    }

    const measureField = (field: FieldNode, atRoot: boolean): Measure => {
      if (isIntrospection(field)) return nothing
      const below = field.selectionSet === undefined ? nothing : measureSelections(field.selectionSet, false)
      let cost = atRoot ? 1 : 0
      if (field.name.value === "tasks") {
        const first = firstOf(field, operation, variables)
        if (first > graphqlLimits.maxFirst && !refused.has(field)) {
          refused.add(field)
          context.reportError(limitError(
            "first",
            `tasks asks for ${first} items; a page holds at most ${graphqlLimits.maxFirst}.`,
            [field]
          ))
        }
        cost = Math.max(first, 0)
      }
      return { depth: 1 + below.depth, cost: cost + below.cost }
    }

    const measureSelections = (selectionSet: SelectionSetNode, atRoot: boolean): Measure => {
      let depth = 0
      let cost = 0
      for (const selection of selectionSet.selections) {
        const measure = selection.kind === Kind.FIELD
          ? measureField(selection, atRoot)
          : selection.kind === Kind.INLINE_FRAGMENT
          ? measureSelections(selection.selectionSet, atRoot)
          : measureSpread(selection.name.value, atRoot)
        depth = Math.max(depth, measure.depth)
        cost += measure.cost
      }
      return { depth, cost }
    }

    const { cost, depth } = measureSelections(operation.selectionSet, true)
    if (depth > graphqlLimits.maxDepth) {
      context.reportError(limitError(
        "depth",
        `The operation nests fields ${depth} deep; the limit is ${graphqlLimits.maxDepth}.`,
        [operation]
      ))
    }
    if (cost > graphqlLimits.maxCost) {
      context.reportError(limitError(
        "cost",
        `The operation would cost ${cost} (each tasks page costs its first, any other root field 1); ` +
          `the limit is ${graphqlLimits.maxCost}.`,
        [operation]
      ))
    }
  }
})

const aliasLimit: ValidationRule = (context) => {
  const aliased: Array<FieldNode> = []
  return {
    Field(field) {
      if (field.alias !== undefined) aliased.push(field)
    },
    Document: {
      leave() {
        if (aliased.length > graphqlLimits.maxAliases) {
          context.reportError(limitError(
            "aliases",
            `The document has ${aliased.length} aliases; the limit is ${graphqlLimits.maxAliases}.`
          ))
        }
      }
    }
  }
}

/** The service's limits as validation rules, for a request with these variables. */
export const limitRules = (variables: Readonly<Record<string, unknown>> | null | undefined): ReadonlyArray<ValidationRule> => [
  aliasLimit,
  operationLimits(new Map(Object.entries(variables ?? {})))
]

/** Whether a parse error is the parser's token limit rather than bad syntax. */
export const isTokenLimit = (error: GraphQLError) => /contains more than \d+ tokens/.test(error.message)
