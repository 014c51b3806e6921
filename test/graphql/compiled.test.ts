import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { CreateTask, DeleteTask, TaskById, Tasks, UpdateTask } from "./TaskGraphClient.ts"

// graphql-jit runs what it compiles; what it cannot, graphql-js runs,
// correctly but at about half the throughput. The operations clients send
// must compile. Checked in the built code as Node loads it: under Vitest,
// graphql-jit gets a second copy of graphql (CommonJS beside ESM) and
// compiles nothing, so in-process tests run graphql-js, and the built
// server's tests run graphql-jit: the contract holds for both.
const dist = fileURLToPath(new URL("../../dist/server/http/GraphqlDocuments.js", import.meta.url))

const compiles = (document: string, operationName?: string): boolean =>
  JSON.parse(execFileSync(process.execPath, [
    "--input-type=module",
    "-e",
    `import { parse } from "graphql"
     import { compiledOperation } from ${JSON.stringify(dist)}
     const document = parse(${JSON.stringify(document)})
     const first = compiledOperation(document, ${JSON.stringify(operationName ?? null)})
     console.log(JSON.stringify(first !== undefined && compiledOperation(document, ${JSON.stringify(operationName ?? null)}) === first))`
  ], { cwd: fileURLToPath(new URL("../..", import.meta.url)), encoding: "utf8" }))

describe("compiled operations, in the built server", () => {
  it("compiles every operation of the typed client, once each", () => {
    for (const operation of [TaskById, Tasks, CreateTask, UpdateTask, DeleteTask]) {
      expect(compiles(String(operation.document)), operation.name).toBe(true)
    }
  })

  it("compiles the operation named in a document of several", () => {
    expect(compiles(`query A { tasks(first: 1) { nodes { id } } } query B { task(id: "x") { id } }`, "B")).toBe(true)
  })
})
