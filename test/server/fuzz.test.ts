import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTask } from "../support/Http.ts"
import { serverTarget, type ServerTarget } from "../support/Targets.ts"

// Random input from the outside never makes the server fail: whatever is
// sent, the answer is a success or a 4xx, never a 5xx.
describe("the server under random input", () => {
  let target: ServerTarget
  let existingId: string
  beforeAll(async () => {
    target = await serverTarget({ LOG_LEVEL: "warning" })
    existingId = (await createTask(target)).id
  })
  afterAll(() => target.close())

  const runs = { numRuns: 150 }
  const expectNo5xx = async (method: string, path: string, init: RequestInit = {}) => {
    const response = await target.fetch(path, { method, ...init })
    const body = await response.text()
    if (response.status >= 500) expect.fail(`${method} ${path} answered ${response.status}: ${body}`)
    if (response.status >= 400) expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/)
  }

  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    fc.constantFrom("\u0000", "null", "-1", "1e309", "💥".repeat(300), " ", "%00", "../..", "' OR 1=1 --")
  )
  const jsonish = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        title: fc.oneof(text, fc.jsonValue()),
        description: fc.oneof(text, fc.jsonValue()),
        status: fc.oneof(fc.constantFrom("pending", "in_progress", "completed"), text, fc.jsonValue())
      },
      { requiredKeys: [] }
    )
  )
  const body = fc.oneof(jsonish.map((value) => JSON.stringify(value) ?? ""), text)
  const contentType = fc.option(
    fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/xml", "", "*/*"),
    { nil: undefined }
  )
  const taskPath = fc.oneof(
    fc.constant(() => `/tasks/${existingId}`),
    fc.uuid().map((id) => () => `/tasks/${id}`),
    text.map((segment) => () => `/tasks/${encodeURIComponent(segment)}`)
  )

  it("POST and PATCH with random bodies and content types", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("POST", "PATCH"), taskPath, body, contentType, async (method, path, payload, type) => {
        await expectNo5xx(method, method === "POST" ? "/tasks" : path(), {
          body: payload,
          headers: type === undefined ? {} : { "content-type": type }
        })
      }),
      runs
    )
  })

  it("GET /tasks with random queries", async () => {
    const key = fc.oneof(fc.constantFrom("limit", "status", "cursor"), text)
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, text), { maxLength: 5 }), async (pairs) => {
        await expectNo5xx("GET", `/tasks?${new URLSearchParams(pairs).toString()}`)
      }),
      runs
    )
  })

  it("random methods on random paths", async () => {
    const segment = fc.oneof(fc.constantFrom("tasks", "health", "ready", "docs", "openapi.json", existingId, ""), text)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"),
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        async (method, segments) => {
          await expectNo5xx(method, `/${segments.map(encodeURIComponent).join("/")}`, {
            ...(method === "GET" || method === "HEAD" ? {} : { body: "{}", headers: { "content-type": "application/json" } })
          })
        }
      ),
      runs
    )
  })
})
