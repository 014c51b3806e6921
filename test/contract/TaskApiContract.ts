import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { createTask, expectInvalid, expectProblem, jsonHeaders, listTasks, send, type TaskBody } from "../support/Http.ts"
import type { Target } from "../support/Targets.ts"

const uuidLower = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const rfc3339Millis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const missingId = "0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d"
const astral = "\u{1F600}" // one code point, two UTF-16 units

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Every rule of ../shared/CONTRACT.md, through HTTP. Each target (the
 * in-memory handler, PostgreSQL, the real server) runs the same suite.
 */
export const taskApiContract = (name: string, makeTarget: () => Promise<Target>) =>
  describe(`${name}: the task API contract`, () => {
    let target: Target
    beforeAll(async () => {
      target = await makeTarget()
    })
    afterAll(() => target?.close())
    beforeEach(() => target.reset())

    const count = async () => (await listTasks(target, "?limit=100")).items.length

    describe("POST /tasks", () => {
      it("creates a task: 201, Location, server-set id, status and timestamps", async () => {
        const response = await send(target, "POST", "/tasks", { title: "Write the quarterly report" })
        expect(response.status).toBe(201)
        expect(response.headers.get("content-type")).toMatch(/^application\/json/)
        const task = (await response.json()) as TaskBody
        expect(response.headers.get("location")).toBe(`/tasks/${task.id}`)
        expect(task).toEqual({
          id: expect.stringMatching(uuidLower),
          title: "Write the quarterly report",
          description: null,
          status: "pending",
          created_at: expect.stringMatching(rfc3339Millis),
          updated_at: task.created_at
        })
        expect(Math.abs(Date.parse(task.created_at) - Date.now())).toBeLessThan(60_000)
        const fetched = await target.fetch(`/tasks/${task.id}`)
        expect(await fetched.json()).toEqual(task)
      })

      it("keeps the given description and status, and ignores unknown fields and a client id", async () => {
        const task = await createTask(target, {
          title: "t",
          description: "  Numbers from finance first  ",
          status: "in_progress",
          id: missingId,
          created_at: "2000-01-01T00:00:00.000Z",
          colour: "blue"
        })
        expect(task.id).not.toBe(missingId)
        expect(task.created_at).not.toBe("2000-01-01T00:00:00.000Z")
        expect(task).not.toHaveProperty("colour")
        expect(task.description).toBe("  Numbers from finance first  ")
        expect(task.status).toBe("in_progress")
        expect((await createTask(target, { title: "t", description: null })).description).toBeNull()
      })

      it("trims the title and counts code points, not UTF-16 units", async () => {
        expect((await createTask(target, { title: "  \t padded \n " })).title).toBe("padded")
        expect((await createTask(target, { title: astral.repeat(255) })).title).toBe(astral.repeat(255))
        expect((await createTask(target, { title: ` ${"x".repeat(255)} ` })).title).toBe("x".repeat(255))
        await expectInvalid(await send(target, "POST", "/tasks", { title: astral.repeat(256) }), ["payload", "title"])
        await expectInvalid(await send(target, "POST", "/tasks", { title: "x".repeat(256) }), ["payload", "title"])
      })

      it("accepts a description of 10,000 code points and refuses one more", async () => {
        const longest = astral.repeat(10_000)
        expect((await createTask(target, { title: "t", description: longest })).description).toBe(longest)
        await expectInvalid(
          await send(target, "POST", "/tasks", { title: "t", description: "d".repeat(10_001) }),
          ["payload", "description"]
        )
      })

      it.each([
        ["a missing title", {}, ["payload", "title"]],
        ["an empty title", { title: "" }, ["payload", "title"]],
        ["a blank title", { title: " \t\n " }, ["payload", "title"]],
        ["a null title", { title: null }, ["payload", "title"]],
        ["a numeric title", { title: 42 }, ["payload", "title"]],
        ["a title with U+0000", { title: "a\u0000b" }, ["payload", "title"]],
        ["a description with U+0000", { title: "t", description: "\u0000" }, ["payload", "description"]],
        ["a null status", { title: "t", status: null }, ["payload", "status"]],
        ["an unknown status", { title: "t", status: "done" }, ["payload", "status"]]
      ])("refuses %s with a 400 naming the field, and stores nothing", async (_, body, path) => {
        await expectInvalid(await send(target, "POST", "/tasks", body), path)
        expect(await count()).toBe(0)
      })

      it("names every bad field at once", async () => {
        const problem = await expectInvalid(
          await send(target, "POST", "/tasks", { title: "", status: null, description: 5 }),
          ["payload", "title"],
          ["payload", "status"],
          ["payload", "description"]
        )
        expect(problem.title).toBe("Bad Request")
      })

      it.each([
        ["malformed JSON", "{\"title\": "],
        ["a JSON array", "[]"],
        ["a JSON string", "\"title\""],
        ["JSON null", "null"],
        ["an empty body", ""]
      ])("answers %s with a 400 problem", async (_, body) => {
        await expectProblem(await send(target, "POST", "/tasks", body), 400)
        expect(await count()).toBe(0)
      })

      it("answers a missing or non-JSON content type with 415", async () => {
        const body = JSON.stringify({ title: "t" })
        await expectProblem(await target.fetch("/tasks", { method: "POST", body: new Blob([body]) }), 415)
        await expectProblem(await send(target, "POST", "/tasks", body, { "content-type": "text/plain" }), 415)
        await expectProblem(
          await send(target, "POST", "/tasks", "title=t", { "content-type": "application/x-www-form-urlencoded" }),
          415
        )
        expect(await count()).toBe(0)
        const withCharset = await send(target, "POST", "/tasks", body, { "content-type": "application/json; charset=utf-8" })
        expect(withCharset.status).toBe(201)
      })

      it("answers a body over 64 KiB with 413, and accepts one just under", async () => {
        const padding = (bytes: number) => "x".repeat(bytes - JSON.stringify({ title: "t", description: "", pad: "" }).length)
        const atLimit = JSON.stringify({ title: "t", description: "", pad: padding(65_536) })
        expect(Buffer.byteLength(atLimit)).toBe(65_536)
        expect((await send(target, "POST", "/tasks", atLimit)).status).toBe(201)
        const over = JSON.stringify({ title: "t", description: "", pad: padding(65_537) })
        await expectProblem(await send(target, "POST", "/tasks", over), 413)
        expect(await count()).toBe(1)
      })
    })

    describe("GET /tasks/{id}", () => {
      it("reads a task, whatever the case of the id, and answers in lowercase", async () => {
        const task = await createTask(target)
        const response = await target.fetch(`/tasks/${task.id.toUpperCase()}`)
        expect(response.status).toBe(200)
        expect(await response.json()).toEqual(task)
      })

      it("answers an unknown id with a 404 problem", async () => {
        const problem = await expectProblem(await target.fetch(`/tasks/${missingId}`), 404)
        expect(problem.detail).toContain(missingId)
      })

      it.each(["not-a-uuid", "123", "0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8", "0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8dd"])(
        "answers the id %s with a 400 naming params.id",
        async (id) => {
          await expectInvalid(await target.fetch(`/tasks/${id}`), ["params", "id"])
        }
      )

      // The router gives up on long parameters unless told otherwise: the
      // answer must not depend on the length, up to what the head may hold.
      it.each([100, 101, 1_000, 15_000])("answers an id of %i characters with a 400 naming params.id, on every method", async (length) => {
        const path = `/tasks/${"a".repeat(length)}`
        for (const method of ["GET", "HEAD", "PATCH", "DELETE"]) {
          const response = await target.fetch(path, { method, headers: jsonHeaders, ...(method === "PATCH" ? { body: "{}" } : {}) })
          if (method === "HEAD") {
            expect(response.status).toBe(400)
            continue
          }
          const problem = await expectInvalid(response, ["params", "id"])
          expect(problem.errors![0]!.path).toEqual(["params", "id"])
        }
        for (const method of ["POST", "PUT"]) {
          const response = await target.fetch(path, { method, headers: jsonHeaders, body: "{}" })
          await expectProblem(response, 405)
          expect(response.headers.get("allow")).toBe("GET, HEAD, PATCH, DELETE")
        }
        expect(await count()).toBe(0)
      })
    })

    describe("PATCH /tasks/{id}", () => {
      it("changes the fields given, keeps the others, and moves updated_at", async () => {
        const task = await createTask(target, { title: "old", description: "keep me", status: "pending" })
        await sleep(5)
        const response = await send(target, "PATCH", `/tasks/${task.id}`, { title: "  new  ", status: "completed" })
        expect(response.status).toBe(200)
        const updated = (await response.json()) as TaskBody
        expect(updated).toMatchObject({ id: task.id, title: "new", description: "keep me", status: "completed" })
        expect(updated.created_at).toBe(task.created_at)
        expect(updated.updated_at).toMatch(rfc3339Millis)
        expect(Date.parse(updated.updated_at)).toBeGreaterThan(Date.parse(task.updated_at))
        expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(updated)
      })

      it("clears the description with null", async () => {
        const task = await createTask(target, { title: "t", description: "something" })
        const updated = (await (await send(target, "PATCH", `/tasks/${task.id}`, { description: null })).json()) as TaskBody
        expect(updated.description).toBeNull()
        expect(updated.title).toBe("t")
      })

      it("treats {} and an update to the same values as changing nothing, updated_at included", async () => {
        const task = await createTask(target, { title: "same", description: "d", status: "in_progress" })
        await sleep(5)
        for (const body of [{}, { title: "same" }, { title: " same ", description: "d", status: "in_progress" }]) {
          const response = await send(target, "PATCH", `/tasks/${task.id}`, body)
          expect(response.status).toBe(200)
          expect(await response.json()).toEqual(task)
        }
      })

      it("moves updated_at on every change, even two in the same millisecond", async () => {
        const task = await createTask(target)
        const first = (await (await send(target, "PATCH", `/tasks/${task.id}`, { status: "in_progress" })).json()) as TaskBody
        const second = (await (await send(target, "PATCH", `/tasks/${task.id}`, { status: "completed" })).json()) as TaskBody
        expect(Date.parse(first.updated_at)).toBeGreaterThan(Date.parse(task.updated_at))
        expect(Date.parse(second.updated_at)).toBeGreaterThan(Date.parse(first.updated_at))
      })

      it.each([
        ["a null title", { title: null }, ["payload", "title"]],
        ["a blank title", { title: "   " }, ["payload", "title"]],
        ["a null status", { status: null }, ["payload", "status"]],
        ["an unknown status", { status: "archived" }, ["payload", "status"]],
        ["a description too long", { description: "d".repeat(10_001) }, ["payload", "description"]]
      ])("refuses %s with a 400 and changes nothing", async (_, body, path) => {
        const task = await createTask(target, { title: "t", description: "d" })
        await expectInvalid(await send(target, "PATCH", `/tasks/${task.id}`, { status: "completed", ...body }), path)
        expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(task)
      })

      it("answers an unknown id with 404, a bad id with 400, and a non-JSON body with 415", async () => {
        await expectProblem(await send(target, "PATCH", `/tasks/${missingId}`, { title: "t" }), 404)
        await expectInvalid(await send(target, "PATCH", "/tasks/nope", { title: "t" }), ["params", "id"])
        const task = await createTask(target)
        await expectProblem(await send(target, "PATCH", `/tasks/${task.id}`, "{}", { "content-type": "text/plain" }), 415)
        await expectProblem(await send(target, "PATCH", `/tasks/${task.id}`, "{oops"), 400)
        expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(task)
      })
    })

    describe("DELETE /tasks/{id}", () => {
      it("answers 204 with no body, after which the task is gone", async () => {
        const task = await createTask(target)
        const response = await target.fetch(`/tasks/${task.id}`, { method: "DELETE" })
        expect(response.status).toBe(204)
        expect(await response.text()).toBe("")
        await expectProblem(await target.fetch(`/tasks/${task.id}`), 404)
        await expectProblem(await target.fetch(`/tasks/${task.id}`, { method: "DELETE" }), 404)
        await expectInvalid(await target.fetch("/tasks/x", { method: "DELETE" }), ["params", "id"])
      })
    })

    describe("GET /tasks", () => {
      const createMany = async (n: number, body: (i: number) => Record<string, unknown> = (i) => ({ title: `task ${i}` })) => {
        const created: Array<TaskBody> = []
        for (let i = 0; i < n; i++) created.push(await createTask(target, body(i)))
        return created
      }
      const newestFirst = (tasks: ReadonlyArray<TaskBody>) =>
        [...tasks].sort((a, b) =>
          a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : (a.created_at < b.created_at ? 1 : -1)
        )

      it("lists newest first, by created_at then id", async () => {
        const created = await createMany(5)
        const page = await listTasks(target)
        expect(page.items).toEqual(newestFirst(created))
        expect(page.items.at(-1)!.created_at).toBe(created[0]!.created_at)
        expect(page.next_cursor).toBeNull()
      })

      it("answers an empty list when there are no tasks", async () => {
        expect(await listTasks(target)).toEqual({ items: [], next_cursor: null })
      })

      it("pages 50 at a time by default", async () => {
        await createMany(51)
        const first = await listTasks(target)
        expect(first.items).toHaveLength(50)
        expect(first.next_cursor).toEqual(expect.any(String))
        const second = await listTasks(target, `?cursor=${encodeURIComponent(first.next_cursor!)}`)
        expect(second.items).toHaveLength(1)
        expect(second.next_cursor).toBeNull()
      })

      it("walks every task exactly once, and a last page that is exactly full has a null cursor", async () => {
        const created = await createMany(6)
        const seen: Array<TaskBody> = []
        let cursor: string | null = null
        const cursors: Array<string | null> = []
        do {
          const page: { items: ReadonlyArray<TaskBody>; next_cursor: string | null } = await listTasks(
            target,
            `?limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`
          )
          seen.push(...page.items)
          cursor = page.next_cursor
          cursors.push(cursor)
        } while (cursor !== null)
        expect(seen).toEqual(newestFirst(created))
        expect(cursors.map((c) => c === null)).toEqual([false, false, true])
      })

      it("accepts limits 1 and 100", async () => {
        await createMany(3)
        expect((await listTasks(target, "?limit=1")).items).toHaveLength(1)
        expect((await listTasks(target, "?limit=100")).items).toHaveLength(3)
      })

      it.each(["0", "101", "-1", "1.5", "abc", "", "0x10", "%205", "1e3"])("refuses limit=%s with a 400 naming query.limit", async (limit) => {
        await expectInvalid(await target.fetch(`/tasks?limit=${limit}`), ["query", "limit"])
      })

      it("filters by status, and pages within the filter", async () => {
        const created = await createMany(7, (i) => ({ title: `t${i}`, status: i % 2 === 0 ? "completed" : "pending" }))
        const completed = newestFirst(created.filter((task) => task.status === "completed"))
        const first = await listTasks(target, "?status=completed&limit=3")
        expect(first.items).toEqual(completed.slice(0, 3))
        const second = await listTasks(target, `?status=completed&limit=3&cursor=${encodeURIComponent(first.next_cursor!)}`)
        expect(second).toEqual({ items: completed.slice(3), next_cursor: null })
        expect((await listTasks(target, "?status=in_progress")).items).toEqual([])
        await expectInvalid(await target.fetch("/tasks?status=done"), ["query", "status"])
        await expectInvalid(await target.fetch("/tasks?status="), ["query", "status"])
      })

      it("takes the filters from the query: a cursor holds only a position", async () => {
        const created = newestFirst(
          await createMany(4, (i) => ({ title: `t${i}`, status: i < 2 ? "completed" : "pending" }))
        )
        const first = await listTasks(target, "?limit=1")
        expect(first.items).toEqual([created[0]])
        const rest = await listTasks(target, `?status=completed&cursor=${encodeURIComponent(first.next_cursor!)}`)
        expect(rest.items).toEqual(created.slice(1).filter((task) => task.status === "completed"))
      })

      it("never skips or repeats a task while others create and delete tasks", async () => {
        const created = await createMany(6)
        const first = await listTasks(target, "?limit=3")
        expect(first.items).toEqual(newestFirst(created).slice(0, 3))
        await sleep(2) // strictly newer, so their place in the order is certain
        await createMany(2, (i) => ({ title: `newer ${i}` }))
        await target.fetch(`/tasks/${first.items[0]!.id}`, { method: "DELETE" })
        const second = await listTasks(target, `?limit=3&cursor=${encodeURIComponent(first.next_cursor!)}`)
        expect(second.items).toEqual(newestFirst(created).slice(3, 6))
        expect(second.next_cursor).toBeNull()
      })

      it("refuses a cursor it did not issue: forged, tampered or truncated", async () => {
        await createMany(3)
        const { next_cursor } = await listTasks(target, "?limit=1")
        const cursor = next_cursor!
        const [payload, signature] = cursor.split(".") as [string, string]
        const position = Buffer.from(payload, "base64url").toString()
        const forgedPayload = Buffer.from(position.replace(/^\d{4}/, "2999")).toString("base64url")
        const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1)
        for (
          const bad of [
            "abc",
            "",
            cursor.slice(0, -3),
            cursor.slice(3),
            `${forgedPayload}.${signature}`,
            flip(cursor, 5),
            flip(cursor, cursor.length - 2),
            Buffer.from(position).toString("base64url"),
            `${payload}.`,
            `.${signature}`,
            "x".repeat(5000)
          ]
        ) {
          await expectInvalid(await target.fetch(`/tasks?cursor=${encodeURIComponent(bad)}`), ["query", "cursor"])
        }
      })

      it("ignores unknown query parameters", async () => {
        await createMany(2)
        expect((await listTasks(target, "?colour=blue&limit=1&page=7")).items).toHaveLength(1)
      })
    })

    describe("idempotent create: Idempotency-Key", () => {
      const post = (key: string, body: unknown) =>
        target.fetch("/tasks", {
          method: "POST",
          headers: { ...jsonHeaders, "idempotency-key": key },
          body: JSON.stringify(body)
        })

      it("creates one task per key, and answers a retry with the same 201", async () => {
        const first = await post("key-1", { title: "once", description: "only once" })
        expect(first.status).toBe(201)
        const body = await first.text()
        const task = JSON.parse(body) as TaskBody
        const retry = await post("key-1", { title: "  once ", description: "only once" })
        expect(retry.status).toBe(201)
        expect(await retry.text()).toBe(body)
        expect(retry.headers.get("location")).toBe(`/tasks/${task.id}`)
        expect((await post("key-2", { title: "once", description: "only once" })).status).toBe(201)
        expect(await count()).toBe(2)
      })

      it("refuses the same key with a different body (422), creating nothing", async () => {
        await post("key-3", { title: "first" })
        await expectProblem(await post("key-3", { title: "second" }), 422)
        await expectProblem(await post("key-3", { title: "first", status: "completed" }), 422)
        expect(await count()).toBe(1)
      })

      it("creates one task when the same key is retried concurrently", async () => {
        const answers = await Promise.all(Array.from({ length: 12 }, () => post("key-4", { title: "raced" })))
        expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 201))
        const ids = new Set(await Promise.all(answers.map(async (answer) => ((await answer.json()) as TaskBody).id)))
        expect(ids.size).toBe(1)
        expect(await count()).toBe(1)
      })

      it("refuses a malformed key with a 400 naming the header", async () => {
        await expectInvalid(await post("has spaces", { title: "t" }), ["headers", "idempotency-key"])
        await expectInvalid(await post("x".repeat(256), { title: "t" }), ["headers", "idempotency-key"])
        expect(await count()).toBe(0)
      })
    })

    describe("versions: ETag, If-Match, If-None-Match", () => {
      const patch = (id: string, body: unknown, headers: Record<string, string> = {}) =>
        target.fetch(`/tasks/${id}`, { method: "PATCH", headers: { ...jsonHeaders, ...headers }, body: JSON.stringify(body) })

      it("tags every answer that carries a task, and the tag moves with every change", async () => {
        const response = await send(target, "POST", "/tasks", { title: "versioned" })
        const created = (await response.json()) as TaskBody
        const tag = response.headers.get("etag")
        expect(tag).toMatch(/^"[^"]+"$/)
        expect((await target.fetch(`/tasks/${created.id}`)).headers.get("etag")).toBe(tag)
        const unchanged = await patch(created.id, {})
        expect(unchanged.headers.get("etag")).toBe(tag)
        const changed = await patch(created.id, { status: "completed" })
        expect(changed.headers.get("etag")).not.toBe(tag)
        expect((await target.fetch(`/tasks/${created.id}`)).headers.get("etag")).toBe(changed.headers.get("etag"))
      })

      it("answers 304 with no body to If-None-Match naming the current version, 200 otherwise", async () => {
        const task = await createTask(target)
        const tag = (await target.fetch(`/tasks/${task.id}`)).headers.get("etag")!
        for (const header of [tag, `W/${tag}`, `"stale", ${tag}`, "*"]) {
          const response = await target.fetch(`/tasks/${task.id}`, { headers: { "if-none-match": header } })
          expect(response.status).toBe(304)
          expect(response.headers.get("etag")).toBe(tag)
          expect(await response.text()).toBe("")
        }
        await patch(task.id, { title: "changed" })
        const stale = await target.fetch(`/tasks/${task.id}`, { headers: { "if-none-match": tag } })
        expect(stale.status).toBe(200)
        expect(((await stale.json()) as TaskBody).title).toBe("changed")
      })

      it("applies PATCH and DELETE under If-Match only at the named version, else 412 and no change", async () => {
        const task = await createTask(target, { title: "original" })
        const tag = (await target.fetch(`/tasks/${task.id}`)).headers.get("etag")!
        const first = await patch(task.id, { title: "first" }, { "if-match": tag })
        expect(first.status).toBe(200)
        for (const stale of [tag, `W/${(await first.clone().json() as TaskBody).updated_at}`, '"garbage"', ""]) {
          const refused = await patch(task.id, { title: "lost" }, { "if-match": stale })
          await expectProblem(refused, 412)
        }
        await expectProblem(await target.fetch(`/tasks/${task.id}`, { method: "DELETE", headers: { "if-match": tag } }), 412)
        expect(((await (await target.fetch(`/tasks/${task.id}`)).json()) as TaskBody).title).toBe("first")
        expect((await patch(task.id, { title: "any" }, { "if-match": "*" })).status).toBe(200)
        const current = (await target.fetch(`/tasks/${task.id}`)).headers.get("etag")!
        const deleted = await target.fetch(`/tasks/${task.id}`, { method: "DELETE", headers: { "if-match": `"x", ${current}` } })
        expect(deleted.status).toBe(204)
        await expectProblem(await patch(missingId, { title: "t" }, { "if-match": "*" }), 404)
      })

      it("never loses an update when many clients race read-modify-write with If-Match", async () => {
        const task = await createTask(target, { title: "counter", description: "0" })
        const increment = async () => {
          for (let attempt = 0; attempt < 200; attempt++) {
            const read = await target.fetch(`/tasks/${task.id}`)
            const { description } = (await read.json()) as TaskBody
            const written = await patch(task.id, { description: String(Number(description) + 1) }, {
              "if-match": read.headers.get("etag")!
            })
            if (written.status === 200) return attempt
            expect(written.status).toBe(412)
            await written.body?.cancel()
          }
          throw new Error("no write got through in 200 attempts")
        }
        const writers = 8
        const rounds = 4
        const retries = await Promise.all(
          Array.from({ length: writers }, async () => {
            let total = 0
            for (let i = 0; i < rounds; i++) total += await increment()
            return total
          })
        )
        const final = (await (await target.fetch(`/tasks/${task.id}`)).json()) as TaskBody
        expect(final.description).toBe(String(writers * rounds))
        // The race did happen: some writes were refused and retried.
        expect(retries.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
      })
    })

    describe("ownership: each user sees only their own tasks", () => {
      const asBob = (path: string, init?: RequestInit) => target.fetchAs("bob", path, init)
      const json = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
        method,
        headers: { ...jsonHeaders, ...headers },
        body: JSON.stringify(body)
      })

      it("answers another user's task exactly as a missing one, for every method", async () => {
        const task = await createTask(target, { title: "Alice's" })
        const etag = (await target.fetch(`/tasks/${task.id}`)).headers.get("etag")!
        // The same problem, word for word, as for an id that never existed.
        const sameAsMissing = async (theirs: Response, missing: Response) => {
          const [a, b] = [await expectProblem(theirs, 404), await expectProblem(missing, 404)]
          expect(a).toEqual({ ...b, detail: b.detail.replace(missingId, task.id) })
        }
        await sameAsMissing(await asBob(`/tasks/${task.id}`), await asBob(`/tasks/${missingId}`))
        await sameAsMissing(
          await asBob(`/tasks/${task.id}`, json("PATCH", { title: "Bob's now" })),
          await asBob(`/tasks/${missingId}`, json("PATCH", { title: "Bob's now" }))
        )
        // Even with the right version: a 412 would tell Bob the task exists.
        await sameAsMissing(
          await asBob(`/tasks/${task.id}`, json("PATCH", { title: "Bob's now" }, { "if-match": etag })),
          await asBob(`/tasks/${missingId}`, json("PATCH", { title: "Bob's now" }, { "if-match": etag }))
        )
        await sameAsMissing(
          await asBob(`/tasks/${task.id}`, { method: "DELETE", headers: { "if-match": "*" } }),
          await asBob(`/tasks/${missingId}`, { method: "DELETE", headers: { "if-match": "*" } })
        )
        await sameAsMissing(
          await asBob(`/tasks/${task.id}`, { method: "DELETE" }),
          await asBob(`/tasks/${missingId}`, { method: "DELETE" })
        )
        expect(await (await target.fetch(`/tasks/${task.id}`)).json()).toEqual(task)
      })

      it("lists only the caller's tasks", async () => {
        const alices = [await createTask(target, { title: "a1" }), await createTask(target, { title: "a2" })]
        const bobs = await asBob("/tasks", json("POST", { title: "b1" }))
        expect(bobs.status).toBe(201)
        const bobsTask = (await bobs.json()) as TaskBody
        expect((await listTasks(target)).items.map((task) => task.id)).toEqual(alices.map((task) => task.id).reverse())
        const bobsPage = (await (await asBob("/tasks")).json()) as { items: Array<TaskBody> }
        expect(bobsPage.items).toEqual([bobsTask])
      })

      it("refuses one user's cursor from another", async () => {
        for (let i = 0; i < 3; i++) await createTask(target, { title: `a${i}` })
        const page = await listTasks(target, "?limit=1")
        expect(page.next_cursor).not.toBeNull()
        const cursor = encodeURIComponent(page.next_cursor!)
        await expectInvalid(await asBob(`/tasks?limit=1&cursor=${cursor}`), ["query", "cursor"])
        expect((await listTasks(target, `?limit=1&cursor=${cursor}`)).items).toHaveLength(1)
      })

      it("keeps idempotency keys apart: the same key from two users makes two tasks", async () => {
        const headers = { ...jsonHeaders, "idempotency-key": "same-key" }
        const alices = await target.fetch("/tasks", { method: "POST", headers, body: JSON.stringify({ title: "t" }) })
        const bobs = await asBob("/tasks", { method: "POST", headers, body: JSON.stringify({ title: "t" }) })
        expect([alices.status, bobs.status]).toEqual([201, 201])
        const [a, b] = [(await alices.json()) as TaskBody, (await bobs.json()) as TaskBody]
        expect(a.id).not.toBe(b.id)
        expect((await asBob(`/tasks/${a.id}`)).status).toBe(404)
      })

      it("holds while two users race over the same ids", async () => {
        const tasks = await Promise.all(Array.from({ length: 8 }, (_, i) => createTask(target, { title: `a${i}` })))
        // Alice renames her tasks while Bob, at the same moment, tries to
        // read, rename and delete each of them.
        const alice = tasks.map((task) =>
          target.fetch(`/tasks/${task.id}`, json("PATCH", { title: `${task.title} renamed` })).then((r) => r.status)
        )
        const bob = tasks.flatMap((task) => [
          asBob(`/tasks/${task.id}`).then((r) => r.status),
          asBob(`/tasks/${task.id}`, json("PATCH", { title: "Bob was here" })).then((r) => r.status),
          asBob(`/tasks/${task.id}`, { method: "DELETE" }).then((r) => r.status)
        ])
        expect(await Promise.all(alice)).toEqual(tasks.map(() => 200))
        expect(new Set(await Promise.all(bob))).toEqual(new Set([404]))
        const titles = (await listTasks(target, "?limit=100")).items.map((task) => task.title).sort()
        expect(titles).toEqual(tasks.map((task) => `${task.title} renamed`).sort())
      })
    })

    describe("errors on every path", () => {
      it("answers an unknown path with a 404 problem", async () => {
        for (const path of ["/", "/nope", "/tasks/a/b", "/TASKS", "/health/x"]) {
          await expectProblem(await target.fetch(path), 404)
        }
        await expectProblem(await target.fetch("/nope", { method: "POST", headers: jsonHeaders, body: "{}" }), 404)
      })

      it.each([
        ["PUT", "/tasks", "GET, HEAD, POST"],
        ["DELETE", "/tasks", "GET, HEAD, POST"],
        ["PATCH", "/tasks", "GET, HEAD, POST"],
        ["POST", `/tasks/${missingId}`, "GET, HEAD, PATCH, DELETE"],
        ["PUT", `/tasks/${missingId}`, "GET, HEAD, PATCH, DELETE"],
        ["POST", "/health", "GET, HEAD"],
        ["DELETE", "/ready", "GET, HEAD"],
        ["POST", "/openapi.json", "GET, HEAD"],
        ["PUT", "/docs", "GET, HEAD"]
      ])("answers %s %s with 405 and Allow: %s", async (method, path, allow) => {
        const response = await target.fetch(path, { method, headers: jsonHeaders, body: "{}" })
        await expectProblem(response, 405)
        expect(response.headers.get("allow")).toBe(allow)
        expect(await count()).toBe(0)
      })
    })

    describe("security headers", () => {
      it("are on every answer, errors included, and the docs page may run only its own script", async () => {
        const task = await createTask(target)
        for (
          const response of [
            await target.fetch(`/tasks/${task.id}`),
            await target.fetch("/nope"),
            await target.fetch("/tasks", { method: "PUT" }),
            await target.fetch("/tasks/x"),
            await target.fetch("/openapi.json")
          ]
        ) {
          expect(response.headers.get("x-content-type-options")).toBe("nosniff")
          expect(response.headers.get("referrer-policy")).toBe("no-referrer")
          expect(response.headers.get("content-security-policy")).toMatch(/^default-src 'none'; frame-ancestors 'none'/)
          expect(response.headers.get("x-powered-by")).toBeNull()
        }
        const docs = (await target.fetch("/docs")).headers.get("content-security-policy")!
        expect(docs).toContain("script-src 'unsafe-inline'")
        expect(docs).toContain("connect-src 'self'")
        expect(docs).not.toMatch(/https?:/)
      })
    })

    describe("caching", () => {
      const cacheControl = (response: Response) => response.headers.get("cache-control")
      const varies = (response: Response) =>
        (response.headers.get("vary") ?? "").split(",").map((name) => name.trim().toLowerCase())

      it("keeps shared caches out of every task answer, errors included, and says it varies by token", async () => {
        const task = await createTask(target)
        const etag = (await target.fetch(`/tasks/${task.id}`)).headers.get("etag")!
        const answers: Array<[string, Response]> = [
          ["create", await send(target, "POST", "/tasks", { title: "Another" })],
          ["list", await target.fetch("/tasks")],
          ["read", await target.fetch(`/tasks/${task.id}`)],
          ["revalidation", await target.fetch(`/tasks/${task.id}`, { headers: { "if-none-match": etag } })],
          ["update", await send(target, "PATCH", `/tasks/${task.id}`, { status: "completed" })],
          ["bad input", await target.fetch("/tasks?limit=0")],
          ["missing", await target.fetch(`/tasks/${missingId}`)],
          ["no token", await target.fetchAs(undefined, "/tasks")],
          ["wrong method", await target.fetch("/tasks", { method: "PUT" })],
          ["delete", await target.fetch(`/tasks/${task.id}`, { method: "DELETE" })]
        ]
        for (const [kind, response] of answers) {
          expect(cacheControl(response), kind).toBe("private, no-cache")
          expect(varies(response), kind).toContain("authorization")
        }
        expect(answers.find(([kind]) => kind === "revalidation")![1].status).toBe(304)
      })

      it("lets a client that kept a task revalidate it with its ETag", async () => {
        const task = await createTask(target)
        const first = await target.fetch(`/tasks/${task.id}`)
        expect(cacheControl(first)).not.toContain("no-store")
        const again = await target.fetch(`/tasks/${task.id}`, { headers: { "if-none-match": first.headers.get("etag")! } })
        expect(again.status).toBe(304)
        expect(again.headers.get("etag")).toBe(first.headers.get("etag"))
      })

      it("never stores probes or what it does not recognise, and lets anyone keep the API's description briefly", async () => {
        for (const path of ["/health", "/ready", "/metrics", "/nope", "/tasksx"]) {
          expect(cacheControl(await target.fetch(path)), path).toBe("no-store")
        }
        for (const path of ["/openapi.json", "/docs"]) {
          const response = await target.fetch(path)
          expect(response.status).toBe(200)
          expect(cacheControl(response), path).toBe("public, max-age=300")
          expect(varies(response), path).not.toContain("authorization")
        }
        expect(cacheControl(await target.fetch("/docs", { method: "PUT" }))).toBe("no-store")
      })
    })

    describe("system endpoints", () => {
      it("reports health and readiness", async () => {
        for (const path of ["/health", "/ready"]) {
          const response = await target.fetch(path)
          expect(response.status).toBe(200)
          expect(await response.json()).toEqual({ status: "ok" })
        }
      })

      it("serves an OpenAPI 3.1 document that lists every endpoint and its errors", async () => {
        const response = await target.fetch("/openapi.json")
        expect(response.status).toBe(200)
        const document = (await response.json()) as {
          openapi: string
          paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>>
        }
        expect(document.openapi).toMatch(/^3\.1\./)
        const statuses = (path: string, method: string) => Object.keys(document.paths[path]?.[method]?.responses ?? {})
        expect(statuses("/tasks", "post")).toEqual(expect.arrayContaining(["201", "400", "413", "415", "422", "500", "503"]))
        expect(statuses("/tasks", "get")).toEqual(expect.arrayContaining(["200", "400", "500", "503"]))
        expect(statuses("/tasks/{id}", "get")).toEqual(expect.arrayContaining(["200", "400", "404", "503"]))
        expect(statuses("/tasks/{id}", "get")).toContain("304")
        expect(statuses("/tasks/{id}", "patch")).toEqual(expect.arrayContaining(["200", "400", "404", "412", "413", "415", "503"]))
        expect(statuses("/tasks/{id}", "delete")).toEqual(expect.arrayContaining(["204", "400", "404", "412", "503"]))
        for (const [path, method] of [["/tasks", "post"], ["/tasks", "get"], ["/tasks/{id}", "get"], ["/tasks/{id}", "patch"], ["/tasks/{id}", "delete"]] as const) {
          expect(statuses(path, method)).toEqual(expect.arrayContaining(["401", "429"]))
          expect(document.paths[path]![method]).toMatchObject({ security: [{ bearer: [] }] })
        }
        expect(document).toMatchObject({
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } }
        })
        expect(statuses("/health", "get")).toContain("200")
        expect(statuses("/ready", "get")).toEqual(expect.arrayContaining(["200", "503"]))
        const notFound = document.paths["/tasks/{id}"]!.get!.responses["404"] as {
          content: Record<string, unknown>
        }
        expect(Object.keys(notFound.content)).toEqual(["application/problem+json"])
      })

      it("serves an API page that needs no network", async () => {
        const response = await target.fetch("/docs")
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toMatch(/^text\/html/)
        const html = await response.text()
        expect(html).toContain("<script")
        expect(html).not.toMatch(/<script[^>]+src=["']https?:/)
        expect(html).not.toMatch(/<link[^>]+href=["']https?:/)
      })
    })
  })
