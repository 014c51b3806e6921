import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery, lexicographicSortSchema, printSchema } from "graphql"
import { expect } from "vitest"
import { defaultUser } from "../support/Auth.ts"
import type { Target } from "../support/Targets.ts"

/** A GraphQL error as the service answers it. */
export interface GraphqlErrorBody {
  readonly message: string
  readonly path?: ReadonlyArray<string | number>
  readonly locations?: ReadonlyArray<{ readonly line: number; readonly column: number }>
  readonly extensions: {
    readonly code: string
    readonly field?: ReadonlyArray<string | number>
    readonly limit?: string
    readonly errors?: ReadonlyArray<{ readonly field: ReadonlyArray<string | number>; readonly message: string }>
  }
}

export interface GraphqlAnswer<Data = any> {
  readonly status: number
  readonly headers: Headers
  readonly data?: Data | null
  readonly errors?: ReadonlyArray<GraphqlErrorBody>
}

export interface GraphqlTask {
  readonly id: string
  readonly title: string
  readonly description: string | null
  readonly status: "PENDING" | "IN_PROGRESS" | "COMPLETED"
  readonly createdAt: string
  readonly updatedAt: string
  readonly etag: string
}

export const taskFields = "id title description status createdAt updatedAt etag"

export const graphqlResponse = "application/graphql-response+json"

/** Sends one GraphQL request by POST, as `user` (the default test user unless named; undefined for no token). */
export const graphql = async <Data = any>(
  target: Pick<Target, "fetchAs">,
  query: string,
  variables?: Record<string, unknown>,
  options: { readonly user?: string | undefined; readonly headers?: Record<string, string>; readonly operationName?: string } = {}
): Promise<GraphqlAnswer<Data>> => {
  const response = await target.fetchAs("user" in options ? options.user : defaultUser, "/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: graphqlResponse, ...options.headers },
    body: JSON.stringify({
      query,
      ...(variables === undefined ? {} : { variables }),
      ...(options.operationName === undefined ? {} : { operationName: options.operationName })
    })
  })
  const text = await response.text()
  expect(response.headers.get("content-type"), text).toMatch(/^application\/(graphql-response\+)?json/)
  const body = JSON.parse(text) as { data?: Data | null; errors?: ReadonlyArray<GraphqlErrorBody> }
  return { status: response.status, headers: response.headers, ...body }
}

/** Asserts a result with no errors and returns its data. */
export const dataOf = <Data>(answer: GraphqlAnswer<Data>): Data => {
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined()
  expect(answer.status).toBe(200)
  return answer.data as Data
}

/** Asserts exactly one error, with this code (and this field, when given), and returns it. */
export const expectError = (answer: GraphqlAnswer, code: string, field?: ReadonlyArray<string | number>) => {
  expect(answer.errors?.map((error) => error.extensions.code), JSON.stringify(answer.errors)).toEqual([code])
  const error = answer.errors![0]!
  if (field !== undefined) expect(error.extensions.field).toEqual(field)
  expect(error.message.length).toBeGreaterThan(0)
  expect(error.message).not.toContain("\n")
  return error
}

export const createTaskMutation = `mutation Create($input: CreateTaskInput!, $key: String) {
  createTask(input: $input, idempotencyKey: $key) { ${taskFields} }
}`

/** Creates a task by GraphQL, checking what every creation must give. */
export const createGraphqlTask = async (
  target: Pick<Target, "fetchAs">,
  input: Record<string, unknown> = { title: "A task" },
  options: { readonly user?: string; readonly key?: string } = {}
): Promise<GraphqlTask> => {
  const { createTask } = dataOf(
    await graphql<{ createTask: GraphqlTask }>(
      target,
      createTaskMutation,
      { input, ...(options.key === undefined ? {} : { key: options.key }) },
      options.user === undefined ? {} : { user: options.user }
    )
  )
  expect(createTask.updatedAt).toBe(createTask.createdAt)
  return createTask
}

/** The schema a service serves, as its introspection tells it, in the SDL that `npm run graphql` writes. */
export const servedSdl = async (target: Pick<Target, "fetchAs">) => {
  const introspection = dataOf(
    await graphql<IntrospectionQuery>(target, getIntrospectionQuery({ descriptions: true, specifiedByUrl: true }))
  )
  return printSchema(lexicographicSortSchema(buildClientSchema(introspection))) + "\n"
}
