import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withToken } from "../support/Auth.ts"
import { type ServerTarget, serverTarget } from "../support/Targets.ts"
import { dataOf, graphql, servedSdl } from "./GraphqlRequests.ts"
import { taskGraphContract } from "./TaskGraphContract.ts"
import { graphqlLimitsSuite } from "./TaskGraphLimits.ts"
import { graphqlOverHttpSuite } from "./TaskGraphTransport.ts"

taskGraphContract("the built server over HTTP", () => serverTarget())
graphqlOverHttpSuite("the built server", serverTarget)
graphqlLimitsSuite("the built server", serverTarget)

describe("the built server's /graphql", () => {
  let target: ServerTarget
  beforeAll(async () => {
    target = await serverTarget()
  })
  afterAll(() => target?.close())

  it("serves the schema of schema.graphql", async () => {
    expect(await servedSdl(target)).toBe(readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"))
  })

  it("answers HEAD with GET's status and headers, and no body", async () => {
    const response = await fetch(`${target.server.url}/graphql?query=${encodeURIComponent("{ __typename }")}`, withToken({
      method: "HEAD"
    }))
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8")
    expect(await response.text()).toBe("")
  })

  it("is measured under the route /graphql, and its operations by type", async () => {
    dataOf(await graphql(target, "{ __typename }"))
    const metrics = await (await fetch(`${target.server.url}/metrics`)).text()
    expect(metrics).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/graphql"[^}]*\} [1-9]/)
    expect(metrics).toMatch(/task_api_graphql_operations_total\{graphql_operation_type="query"\} [1-9]/)
  })
})
