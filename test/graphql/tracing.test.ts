import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ReceivedSpan } from "../support/OtlpReceiver.ts"
import { type ObservedServer, startObservedServer } from "../support/Telemetry.ts"
import { graphqlResponse } from "./GraphqlRequests.ts"

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const SERVER = 2
const INTERNAL = 1
const CLIENT = 3

describe("a GraphQL operation in a recorded trace", () => {
  let observed: ObservedServer
  beforeAll(async () => {
    observed = await startObservedServer()
  })
  afterAll(() => observed?.close())

  const operate = async (query: string, variables: Record<string, unknown> = {}) => {
    const traceId = hex(16)
    const response = await observed.send("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: graphqlResponse, traceparent: `00-${traceId}-${hex(8)}-01` },
      body: JSON.stringify({ query, variables })
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { data: Record<string, any> }
    const { collector } = observed
    const mine = () => collector.spans().filter((span) => span.traceId === traceId)
    await collector.waitFor(() => mine().some((span) => span.kind === SERVER))
    const spans = mine()
    const childrenOf = (parent: ReceivedSpan | undefined) => spans.filter((span) => span.parentSpanId === parent?.spanId)
    return { body, server: spans.find((span) => span.kind === SERVER)!, childrenOf }
  }

  it("is a span of its own under the request's, named and described as OpenTelemetry's GraphQL conventions say, with the repository and SQL beneath", async () => {
    const created = await operate(`mutation { createTask(input: { title: "traced" }) { id } }`)
    const id = created.body.data.createTask.id as string
    const mutation = created.childrenOf(created.server).find((span) => span.name === "mutation")
    expect(mutation).toMatchObject({ kind: INTERNAL, attributes: { "graphql.operation.type": "mutation" } })
    expect(mutation!.attributes["graphql.operation.name"]).toBeUndefined()
    expect(created.childrenOf(mutation).map((span) => span.name)).toEqual(["TaskRepo.create"])

    const read = await operate(`query TaskById($id: ID!) { task(id: $id) { title } }`, { id })
    expect(read.body.data.task).toEqual({ title: "traced" })
    expect(read.server).toMatchObject({ name: "POST /graphql", attributes: { "http.route": "/graphql" } })
    const serverChildren = read.childrenOf(read.server).map((span) => span.name)
    expect(serverChildren).toEqual(expect.arrayContaining(["TokenVerifier.verify", "RateLimit.consume", "query TaskById"]))
    const query = read.childrenOf(read.server).find((span) => span.name === "query TaskById")!
    expect(query.attributes).toMatchObject({ "graphql.operation.type": "query", "graphql.operation.name": "TaskById" })
    const repo = read.childrenOf(query).find((span) => span.name === "TaskRepo.findById")
    expect(repo?.kind).toBe(INTERNAL)
    expect(read.childrenOf(repo).map((span) => [span.kind, span.attributes["db.operation.name"]])).toEqual([[CLIENT, "SELECT"]])
  })
})
