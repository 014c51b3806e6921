import { buildSchema, findBreakingChanges, findDangerousChanges } from "graphql"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { taskGraphSchema, taskGraphSdl } from "../../src/api/TaskGraph.ts"
import { memoryTarget, type Target } from "../support/Targets.ts"
import { servedSdl } from "./GraphqlRequests.ts"

// The schema as an artefact: schema.graphql (npm run graphql) is what the
// server serves, and it keeps every promise of the contract's SDL.

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8")

describe("the GraphQL schema", () => {
  it("is written, up to date, in schema.graphql (npm run graphql)", () => {
    expect(read("../../schema.graphql")).toBe(taskGraphSdl())
  })

  it("breaks nothing of the contract's SDL, and endangers nothing: it only adds", () => {
    const contract = buildSchema(read("./contract.graphql"))
    expect(findBreakingChanges(contract, taskGraphSchema)).toEqual([])
    expect(findDangerousChanges(contract, taskGraphSchema)).toEqual([])
    // Every type of the contract is there, and nothing else is.
    expect(Object.keys(taskGraphSchema.getTypeMap()).sort()).toEqual(Object.keys(contract.getTypeMap()).sort())
  })

  describe("as served", () => {
    let target: Target
    beforeAll(async () => {
      target = await memoryTarget()
    })
    afterAll(() => target?.close())

    it("is the schema of schema.graphql, as introspection tells it", async () => {
      expect(await servedSdl(target)).toBe(read("../../schema.graphql"))
    })
  })
})
