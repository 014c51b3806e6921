import SwaggerParser from "@apidevtools/swagger-parser"
import createClient from "openapi-fetch"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { paths } from "../generated/task-api.ts"
import { bearer } from "../support/Auth.ts"
import { memoryTarget, serverTarget, type ServerTarget } from "../support/Targets.ts"

type Document = Parameters<typeof SwaggerParser.validate>[0] & {
  readonly components: { readonly securitySchemes: Record<string, unknown> }
}

describe("the exported OpenAPI document", () => {
  it("is what the server serves at /openapi.json", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "task-api-openapi-")), "openapi.json")
    const script = fileURLToPath(new URL("../../scripts/openapi.ts", import.meta.url))
    const result = spawnSync(process.execPath, [script, file], { encoding: "utf8" })
    expect(result.status).toBe(0)
    const target = await memoryTarget()
    const served = await (await target.fetch("/openapi.json")).json()
    await target.close()
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(served)
  })

  // The validator under most Node OpenAPI tooling (client generators, mock
  // servers, gateways): what it refuses, those tools refuse. `npm test` also
  // lints the document with Redocly.
  it("is valid OpenAPI 3.1 to swagger-parser, with a lowercase bearer scheme", async () => {
    const target = await memoryTarget()
    const served = (await (await target.fetch("/openapi.json")).json()) as Document
    await target.close()
    // validate() dereferences the object it is given: hand it a copy.
    await expect(SwaggerParser.validate(structuredClone(served))).resolves.toBeDefined()
    expect(served.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" })
  })
})

// A client generated from the document alone (openapi-typescript types,
// openapi-fetch calls; `npm run typecheck` regenerates the types), driving
// the real server: the document describes what the server does.
describe("a client generated from the document", () => {
  let target: ServerTarget
  beforeAll(async () => {
    target = await serverTarget({ LOG_LEVEL: "warning" })
  })
  afterAll(() => target.close())

  it("creates, lists, patches and deletes tasks, and reads problems", async () => {
    const client = createClient<paths>({ baseUrl: target.server.url, headers: bearer() })

    const created = await client.POST("/tasks", { body: { title: "From the outside", status: "in_progress" } })
    expect(created.response.status).toBe(201)
    const task = created.data!
    expect(task).toMatchObject({ title: "From the outside", status: "in_progress", description: null })
    expect(created.response.headers.get("location")).toBe(`/tasks/${task.id}`)

    const listed = await client.GET("/tasks", { params: { query: { limit: 10, status: "in_progress" } } })
    expect(listed.data).toEqual({ items: [task], next_cursor: null })

    const patched = await client.PATCH("/tasks/{id}", {
      params: { path: { id: task.id } },
      body: { status: "completed", description: "done from outside" }
    })
    expect(patched.data).toMatchObject({ id: task.id, status: "completed", description: "done from outside" })

    const deleted = await client.DELETE("/tasks/{id}", { params: { path: { id: task.id } } })
    expect(deleted.response.status).toBe(204)

    const missing = await client.GET("/tasks/{id}", { params: { path: { id: task.id } } })
    expect(missing.response.status).toBe(404)
    expect(missing.error).toMatchObject({ type: "about:blank", title: "Not Found", status: 404 })

    const invalid = await client.GET("/tasks", { params: { query: { limit: 101 } } })
    expect(invalid.response.status).toBe(400)
    expect(invalid.error).toMatchObject({ status: 400, errors: [{ path: ["query", "limit"] }] })
  })
})
