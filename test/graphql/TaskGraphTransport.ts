import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bearer } from "../support/Auth.ts"
import { expectProblem, listTasks } from "../support/Http.ts"
import type { Target } from "../support/Targets.ts"
import { createGraphqlTask, dataOf, expectError, graphql, graphqlResponse } from "./GraphqlRequests.ts"

/**
 * GraphQL over HTTP as the specification has it, through the service's
 * edge: media types, status codes, methods, and the edge's own answers
 * (authentication, rate limits, request ids, caching) in front of it.
 * `makeTarget` serves the API with the tests' settings and these.
 */
export const graphqlOverHttpSuite = (name: string, makeTarget: (env?: Record<string, string>) => Promise<Target>) =>
  describe(`${name}: GraphQL over HTTP`, () => {
    let target: Target
    beforeAll(async () => {
      target = await makeTarget()
    })
    afterAll(() => target?.close())

    const post = (body: string, headers: Record<string, string> = {}) =>
      target.fetch("/graphql", { method: "POST", headers: { "content-type": "application/json", ...headers }, body })

    const get = (query: string, extra: Record<string, string> = {}, init: RequestInit = {}) =>
      target.fetch(`/graphql?${new URLSearchParams({ query, ...extra })}`, init)

    const count = async () => (await listTasks(target, "?limit=100")).items.length

    describe("media types and status codes", () => {
      it("answers in graphql-response+json when accepted, else in application/json", async () => {
        const query = JSON.stringify({ query: "{ __typename }" })
        const cases: ReadonlyArray<[accept: string | undefined, mediaType: string]> = [
          [graphqlResponse, graphqlResponse],
          [`${graphqlResponse}, application/json;q=0.9`, graphqlResponse],
          [`application/json, ${graphqlResponse}`, graphqlResponse],
          [`${graphqlResponse};q=0.5, application/json`, "application/json"],
          ["application/json", "application/json"],
          ["*/*", "application/json"],
          [undefined, "application/json"]
        ]
        for (const [accept, mediaType] of cases) {
          const response = await post(query, accept === undefined ? {} : { accept })
          expect(response.status, accept).toBe(200)
          expect(response.headers.get("content-type"), accept).toBe(`${mediaType}; charset=utf-8`)
          expect(await response.json()).toEqual({ data: { __typename: "Query" } })
        }
      })

      it("answers 406 when it can send nothing the client accepts", async () => {
        const response = await post(JSON.stringify({ query: "{ __typename }" }), { accept: "text/html" })
        await expectProblem(response, 406)
      })

      it("answers a document that does not parse or validate with 400 under graphql-response+json, 200 under JSON", async () => {
        for (const [query, code] of [["{", "GRAPHQL_PARSE_FAILED"], ["{ nope }", "GRAPHQL_VALIDATION_FAILED"]] as const) {
          const strict = await graphql(target, query)
          expect(strict.status).toBe(400)
          expect(strict.headers.get("content-type")).toMatch(/^application\/graphql-response\+json/)
          expect(strict.data).toBeUndefined()
          expectError(strict, code)
          const lenient = await graphql(target, query, undefined, { headers: { accept: "application/json" } })
          expect(lenient.status).toBe(200)
          expectError(lenient, code)
        }
      })

      it("answers field errors with the data it has and a 200 under either media type", async () => {
        const answer = await graphql(target, `{ task(id: "nope") { id } }`)
        expect(answer.status).toBe(200)
        expect(answer.data).toEqual({ task: null })
        expectError(answer, "BAD_USER_INPUT", ["id"])
      })

      it("runs the operation named by operationName, and refuses a document whose operation is ambiguous", async () => {
        const document = "query A { __typename } query B { tasks { nodes { id } } }"
        expect(dataOf(await graphql(target, document, undefined, { operationName: "A" }))).toEqual({ __typename: "Query" })
        expectError(await graphql(target, document), "GRAPHQL_VALIDATION_FAILED")
        expectError(await graphql(target, document, undefined, { operationName: "C" }), "GRAPHQL_VALIDATION_FAILED")
      })

      it("refuses subscriptions on this transport", async () => {
        const answer = await graphql(target, "subscription { taskEvents { id } }")
        expect(answer.status).toBe(400)
        expectError(answer, "GRAPHQL_VALIDATION_FAILED")
      })
    })

    describe("methods", () => {
      it("serves queries by GET, with variables and operationName in the query string", async () => {
        await createGraphqlTask(target, { title: "by GET" })
        const response = await get("query Titles($first: Int) { tasks(first: $first) { nodes { title } } }", {
          variables: JSON.stringify({ first: 1 }),
          operationName: "Titles"
        }, { headers: { accept: graphqlResponse } })
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toMatch(/^application\/graphql-response\+json/)
        expect(await response.json()).toEqual({ data: { tasks: { nodes: [{ title: "by GET" }] } } })
      })

      it("answers HEAD as GET, and refuses a mutation by GET or HEAD with 405 and Allow: POST, running nothing", async () => {
        const head = await get("{ __typename }", {}, { method: "HEAD" })
        expect(head.status).toBe(200)
        expect(head.headers.get("content-type")).toMatch(/^application\/json/)
        const before = await count()
        for (const method of ["GET", "HEAD"]) {
          const response = await get(`mutation { createTask(input: { title: "by ${method}" }) { id } }`, {}, { method })
          expect(response.status).toBe(405)
          expect(response.headers.get("allow")).toBe("POST")
          if (method === "GET") await expectProblem(response, 405)
        }
        expect(await count()).toBe(before)
      })

      it("answers other methods with 405 and Allow: GET, HEAD, POST", async () => {
        for (const method of ["PUT", "PATCH", "DELETE", "OPTIONS"]) {
          const response = await target.fetch("/graphql", { method })
          await expectProblem(response, 405)
          expect(response.headers.get("allow")).toBe("GET, HEAD, POST")
        }
      })
    })

    describe("requests that are not GraphQL requests", () => {
      it.each([
        ["malformed JSON", "{\"query\": "],
        ["a JSON array", "[]"],
        ["no query", "{\"variables\": {}}"],
        ["a query that is not a string", "{\"query\": 42}"],
        ["variables that are not an object", "{\"query\": \"{ __typename }\", \"variables\": [1]}"],
        ["an empty body", ""]
      ])("answers %s with a 400 problem", async (_, body) => {
        await expectProblem(await post(body, { accept: graphqlResponse }), 400)
      })

      it("answers a body that is not JSON with 415, and one over 64 KiB with 413", async () => {
        await expectProblem(await post("query=%7B__typename%7D", { "content-type": "application/x-www-form-urlencoded" }), 415)
        await expectProblem(await target.fetch("/graphql", { method: "POST", body: new Blob(["{}"]) }), 415)
        const huge = JSON.stringify({ query: `{ __typename }${" ".repeat(70_000)}` })
        await expectProblem(await post(huge), 413)
      })
    })

    describe("the edge around it", () => {
      it("gives GraphQL answers the headers of a task answer", async () => {
        for (const response of [await post(JSON.stringify({ query: "{ __typename }" })), await post("{")]) {
          expect(response.headers.get("cache-control")).toBe("private, no-cache")
          expect(response.headers.get("vary")).toMatch(/Authorization/)
          expect(response.headers.get("x-content-type-options")).toBe("nosniff")
          expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
          expect(response.headers.get("ratelimit-remaining")).not.toBeNull()
        }
      })

      it("answers a missing or bad token with a 401 problem and WWW-Authenticate, before running anything", async () => {
        const before = await count()
        const mutation = JSON.stringify({ query: `mutation { createTask(input: { title: "no token" }) { id } }` })
        const headers = { "content-type": "application/json", accept: graphqlResponse }
        const none = await target.fetchAs(undefined, "/graphql", { method: "POST", headers, body: mutation })
        await expectProblem(none, 401)
        expect(none.headers.get("www-authenticate")).toBe(`Bearer realm="task-api"`)
        const bad = await target.fetchAs(undefined, "/graphql", {
          method: "POST",
          headers: { ...headers, authorization: "Bearer not-a-jwt" },
          body: mutation
        })
        await expectProblem(bad, 401)
        expect(bad.headers.get("www-authenticate")).toMatch(/error="invalid_token"/)
        const lowercase = await target.fetchAs(undefined, "/graphql", {
          method: "POST",
          headers: { ...headers, authorization: bearer().authorization.replace("Bearer", "bEaReR") },
          body: JSON.stringify({ query: "{ __typename }" })
        })
        expect(lowercase.status).toBe(200)
        expect(await count()).toBe(before)
      })

      it("takes one request from the caller's bucket per operation, and answers an empty one with 429 before running", async () => {
        const service = await makeTarget({ RATE_LIMIT_REQUESTS: "2" })
        try {
          const create = (title: string) => graphql(service, `mutation { createTask(input: { title: "${title}" }) { id } }`)
          const first = await create("one")
          expect(first.headers.get("ratelimit-remaining")).toBe("1")
          dataOf(await create("two"))
          const refused = await service.fetchAs("alice", "/graphql", {
            method: "POST",
            headers: { "content-type": "application/json", accept: graphqlResponse },
            body: JSON.stringify({ query: `mutation { createTask(input: { title: "three" }) { id } }` })
          })
          await expectProblem(refused, 429)
          expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
          // REST shares the bucket: it is empty there too, and holds two tasks.
          await expectProblem(await service.fetchAs("alice", "/tasks"), 429)
          const bob = dataOf(await graphql(service, "{ tasks { nodes { id } } }", undefined, { user: "bob" }))
          expect(bob).toEqual({ tasks: { nodes: [] } })
        } finally {
          await service.close()
        }
      })

      // (The HTTP metrics of /graphql, under http_route="/graphql", are checked on the built server: server.test.ts.)
      it("counts operations by type, never by name, and errors by code", async () => {
        dataOf(await graphql(target, "query Named { __typename }"))
        await createGraphqlTask(target)
        const metrics = await (await target.fetch("/metrics")).text()
        expect(metrics).toMatch(/task_api_graphql_operations_total\{graphql_operation_type="query"\} [1-9]/)
        expect(metrics).toMatch(/task_api_graphql_operations_total\{graphql_operation_type="mutation"\} [1-9]/)
        expect(metrics).not.toContain("Named")
        expect(metrics).toMatch(/task_api_graphql_errors_total\{code="BAD_USER_INPUT"\} [1-9]/)
      })
    })
  })
