import { getIntrospectionQuery } from "graphql"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { listTasks } from "../support/Http.ts"
import type { Target } from "../support/Targets.ts"
import { createGraphqlTask, dataOf, type GraphqlAnswer, graphql } from "./GraphqlRequests.ts"

/** Asserts a request error naming this limit, and only limit errors: graphql-js's own rules did not run. */
const expectRefusedBy = (answer: GraphqlAnswer, limit: string) => {
  expect(answer.status).toBe(400)
  expect(answer.data).toBeUndefined()
  const errors = answer.errors ?? []
  expect(errors.length).toBeGreaterThan(0)
  for (const error of errors) expect(error.extensions.code).toBe("GRAPHQL_VALIDATION_FAILED")
  expect(errors.map((error) => error.extensions.limit)).toContain(limit)
  expect(errors.some((error) => error.message.includes("limit") || error.message.includes("at most"))).toBe(true)
}

const nested = (depth: number, field = "a") => `${`${field} { `.repeat(depth - 1)}${field}${" }".repeat(depth - 1)}`
const aliases = (count: number, field: string) => Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(" ")

/**
 * Hostile documents are refused before anything runs, each by the limit it
 * breaks (GRAPHQL_VALIDATION_FAILED, `extensions.limit` naming it). Mutations
 * show that nothing ran: no task is stored. `makeTarget` serves the API with
 * the tests' settings and these.
 */
export const graphqlLimitsSuite = (name: string, makeTarget: (env?: Record<string, string>) => Promise<Target>) =>
  describe(`${name}: GraphQL's limits`, () => {
    let target: Target
    beforeAll(async () => {
      target = await makeTarget()
    })
    afterAll(() => target?.close())
    beforeEach(() => target.reset())

    const count = async () => (await listTasks(target, "?limit=100")).items.length

    describe("depth", () => {
      it("refuses a document 40 fields deep without looking further into it", async () => {
        expectRefusedBy(await graphql(target, `{ ${nested(40)} }`), "depth")
        expectRefusedBy(await graphql(target, `{ ${nested(11)} }`), "depth")
      })

      it("counts fragments where they are spread, and leaves introspection to graphql-js's own limit", async () => {
        const deep = `query { ...F1 } fragment F1 on Query { x { ...F2 } } fragment F2 on X { ${nested(10, "y")} }`
        expectRefusedBy(await graphql(target, deep), "depth")
        // The introspection query is 15 fields deep, all of them introspection.
        expect(dataOf(await graphql(target, getIntrospectionQuery({ descriptions: true, specifiedByUrl: true })))).toMatchObject({
          __schema: { queryType: { name: "Query" } }
        })
        const cyclic = `{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }`
        const refused = await graphql(target, cyclic)
        expect(refused.status).toBe(400)
        expect(refused.errors?.[0]?.message).toMatch(/introspection depth/i)
      })

      it("serves the deepest real query", async () => {
        await createGraphqlTask(target)
        const page = dataOf(await graphql(target, `{ tasks { edges { node { id } } pageInfo { hasNextPage } } }`))
        expect(page.tasks.edges).toHaveLength(1)
      })
    })

    describe("aliases", () => {
      it("refuses 500 aliases, and 31 aliased creates without creating anything", async () => {
        expectRefusedBy(await graphql(target, `{ ${aliases(500, "__typename")} }`), "aliases")
        expectRefusedBy(await graphql(target, `mutation { ${aliases(31, `createTask(input: { title: "x" }) { id }`)} }`), "aliases")
        expect(await count()).toBe(0)
      })

      it("runs 30", async () => {
        dataOf(await graphql(target, `mutation { ${aliases(30, `createTask(input: { title: "x" }) { id }`)} }`))
        expect(await count()).toBe(30)
      })
    })

    describe("tokens", () => {
      it("refuses a document of more than 2000 tokens, as the parser stops there", async () => {
        const answer = await graphql(target, `{ ${"__typename ".repeat(3000)}}`)
        expectRefusedBy(answer, "tokens")
        expect(answer.errors).toHaveLength(1)
        expect(answer.errors![0]!.message).toContain("2000 tokens")
      })
    })

    describe("cost and the size of a page", () => {
      it("refuses tasks pages over 100, written in the document, in a variable or as its default", async () => {
        expectRefusedBy(await graphql(target, `{ tasks(first: 500) { nodes { id } } }`), "first")
        const byVariable = `query($n: Int) { tasks(first: $n) { nodes { id } } }`
        expectRefusedBy(await graphql(target, byVariable, { n: 101 }), "first")
        expectRefusedBy(await graphql(target, `query($n: Int = 1000) { tasks(first: $n) { nodes { id } } }`), "first")
        dataOf(await graphql(target, byVariable, { n: 100 }))
        // The document is known now (checked documents are kept by their text): its variables are still measured.
        expectRefusedBy(await graphql(target, byVariable, { n: 101 }), "first")
        const sixPages = `query($n: Int) { ${aliases(6, "tasks(first: $n) { nodes { id } }")} }`
        dataOf(await graphql(target, sixPages, { n: 80 }))
        expectRefusedBy(await graphql(target, sixPages, { n: 90 }), "cost")
      })

      it("refuses a document whose pages add up to more than 500 rows, and runs one of exactly 500", async () => {
        expectRefusedBy(await graphql(target, `{ ${aliases(6, "tasks(first: 100) { nodes { id } }")} }`), "cost")
        const fivePages = aliases(5, "tasks(first: 100) { nodes { id } }")
        expectRefusedBy(await graphql(target, `{ one: task(id: "x") { id } ${fivePages} }`), "cost")
        dataOf(await graphql(target, `{ ${fivePages} }`))
      })

      it("measures fragments spread into one another once each, and refuses what they multiply to", async () => {
        const fragments = Array.from({ length: 20 }, (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`).join(" ")
        const bomb = `query { ...F20 } fragment F0 on Query { tasks(first: 1) { nodes { id } } } ${fragments}`
        expectRefusedBy(await graphql(target, bomb), "cost")
      })
    })

    describe("introspection", () => {
      it("is on by default, with suggestions", async () => {
        expect(dataOf(await graphql(target, `{ __type(name: "Task") { name } }`))).toEqual({ __type: { name: "Task" } })
        expect(JSON.stringify(await graphql(target, "{ tassks { id } }"))).toContain("Did you mean")
      })

      it("is off with GRAPHQL_INTROSPECTION=false, and so are field suggestions", async () => {
        const service = await makeTarget({ GRAPHQL_INTROSPECTION: "false" })
        try {
          for (const query of ["{ __schema { types { name } } }", `{ __type(name: "Task") { name } }`]) {
            const answer = await graphql(service, query)
            expect(answer.status).toBe(400)
            expect(answer.errors?.[0]?.extensions.code).toBe("GRAPHQL_VALIDATION_FAILED")
            expect(answer.errors?.[0]?.message).toMatch(/introspection/)
          }
          const answers = [
            await graphql(service, "{ tassks { id } }"),
            await graphql(service, "{ tasks(status: COMPLETE) { nodes { id } } }"),
            await graphql(service, "query($s: TaskStatus) { tasks(status: $s) { nodes { id } } }", { s: "COMPLETE" }),
            await graphql(service, `mutation { createTask(input: { titel: "x" }) { id } }`)
          ]
          for (const answer of answers) {
            expect(answer.errors?.length).toBeGreaterThan(0)
            expect(JSON.stringify(answer)).not.toMatch(/Did you mean|tasks"|title"/)
          }
          // What a client may always ask.
          expect(dataOf(await graphql(service, "{ __typename }"))).toEqual({ __typename: "Query" })
        } finally {
          await service.close()
        }
      })
    })
  })
