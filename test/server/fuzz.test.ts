import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { maxBodyBytes } from "../../src/api/JsonBody.ts"
import { maxHeadBytes } from "../../src/server/http/NodeServer.ts"
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
    const shown = `${method} ${path.slice(0, 120)}${path.length > 120 ? `... (${path.length} characters)` : ""}`
    if (response.status >= 500) expect.fail(`${shown} answered ${response.status}: ${body}`)
    if (response.status >= 400) {
      expect(response.headers.get("content-type"), shown).toMatch(/^application\/problem\+json/)
      if (method !== "HEAD") expect(JSON.parse(body)).toMatchObject({ status: response.status })
    }
    return response.status
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

  // Every length limit the service or its libraries know, and either side of
  // it: the router's parameter limit (100), a title (255), a cursor (512), the
  // request head (16 KiB, then 431) and the body (64 KiB, then 413). Short
  // random strings alone never reach them.
  const limits = [0, 36, 100, 255, 512, 8 * 1024, maxHeadBytes - 300, maxHeadBytes, maxBodyBytes - 20, maxBodyBytes]
  const lengthNear = (ceiling: number) =>
    fc.oneof(
      fc.constantFrom(...limits.filter((limit) => limit <= ceiling)).chain((limit) =>
        fc.integer({ min: Math.max(0, limit - 3), max: limit + 3 })
      ),
      fc.integer({ min: 0, max: ceiling })
    )
  /** A string of exactly `length` characters drawn from `alphabet`, repeating a random pattern. */
  const sized = (ceiling: number, alphabet: fc.Arbitrary<string>) =>
    fc.tuple(lengthNear(ceiling), fc.array(alphabet, { minLength: 1, maxLength: 16 })).map(([length, pattern]) =>
      Array.from({ length }, (_, i) => pattern[i % pattern.length]).join("")
    )
  // What a URL or a header may carry without the client itself refusing it.
  const visible = fc.mapToConstant({ num: 95, build: (code) => String.fromCharCode(0x20 + code) })
  const anyUnit = fc.oneof(visible, fc.constantFrom("\u00e9", "\u{1F600}", "\u0000", "\n", "\""))

  it("path segments of every length up to past the head limit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "HEAD", "PATCH", "DELETE", "POST", "PUT", "OPTIONS"),
        sized(maxHeadBytes + 100, anyUnit),
        async (method, segment) => {
          const path = `/tasks/${encodeURIComponent(segment)}`
          const status = await expectNo5xx(method, path, {
            ...(method === "GET" || method === "HEAD" ? {} : { body: "{}", headers: { "content-type": "application/json" } })
          })
          // Whatever its length, a segment that is not an id is a 400 (or a
          // 405 for a method the path does not take), until the head is too
          // large to read at all.
          if (segment.length === 0) return
          const expected = ["POST", "PUT", "OPTIONS"].includes(method) ? 405 : 400
          if (path.length < maxHeadBytes - 1024) expect(status, `${method} ${path.slice(0, 120)}`).toBe(expected)
          else expect([expected, 431]).toContain(status)
        }
      ),
      { numRuns: 60 }
    )
  })

  it("query values of every length up to past the head limit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("limit", "status", "cursor", "other"),
        sized(maxHeadBytes + 100, anyUnit),
        async (key, value) => {
          await expectNo5xx("GET", `/tasks?${new URLSearchParams([[key, value]]).toString()}`)
        }
      ),
      { numRuns: 60 }
    )
  })

  it("header values of every length up to past the head limit", async () => {
    const name = fc.constantFrom("authorization", "if-match", "if-none-match", "idempotency-key", "content-type", "x-other")
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PATCH", "DELETE"),
        name,
        fc.oneof(sized(maxHeadBytes + 100, visible), sized(maxHeadBytes, visible).map((value) => `Bearer ${value}`)),
        async (method, header, value) => {
          const path = method === "POST" || (method === "GET" && header === "x-other") ? "/tasks" : `/tasks/${existingId}`
          const headers = new Headers({ "content-type": "application/json" })
          headers.set(header, value)
          await expectNo5xx(method, path, {
            headers,
            ...(method === "GET" ? {} : { body: JSON.stringify({ title: "sized header" }) })
          })
        }
      ),
      { numRuns: 60 }
    )
  })

  it("bodies of every size up to past 64 KiB, as JSON fields and as raw text", async () => {
    const body = fc.oneof(
      fc.tuple(fc.constantFrom("title", "description", "status", "other"), sized(maxBodyBytes + 100, anyUnit)).map((
        [field, value]
      ) => JSON.stringify({ title: "t", [field]: value })),
      sized(maxBodyBytes + 100, anyUnit)
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("POST", "PATCH"), body, async (method, payload) => {
        await expectNo5xx(method, method === "POST" ? "/tasks" : `/tasks/${existingId}`, {
          body: payload,
          headers: { "content-type": "application/json" }
        })
      }),
      { numRuns: 60 }
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
