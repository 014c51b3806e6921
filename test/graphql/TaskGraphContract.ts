import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { createTask, listTasks, send, type TaskBody } from "../support/Http.ts"
import { readEvents, subscriptionRequest, taskEventsQuery } from "../support/EventStream.ts"
import type { Target } from "../support/Targets.ts"
import {
  createGraphqlTask,
  createTaskMutation,
  dataOf,
  expectError,
  graphql,
  type GraphqlAnswer,
  graphqlResponse,
  type GraphqlTask,
  taskFields
} from "./GraphqlRequests.ts"

const uuidLower = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const rfc3339Millis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const missingId = "0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d"
const astral = "\u{1F600}" // one code point, two UTF-16 units

const taskQuery = `query Task($id: ID!) { task(id: $id) { ${taskFields} } }`
const pageQuery = `query Page($first: Int, $after: String, $status: TaskStatus) {
  tasks(first: $first, after: $after, status: $status) {
    edges { cursor node { id title status } }
    nodes { id }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
  }
}`
const updateMutation = `mutation Update($id: ID!, $input: UpdateTaskInput!, $ifMatch: String) {
  updateTask(id: $id, input: $input, ifMatch: $ifMatch) { ${taskFields} }
}`
const deleteMutation = `mutation Delete($id: ID!, $ifMatch: String) { deleteTask(id: $id, ifMatch: $ifMatch) }`

interface Page {
  readonly tasks: {
    readonly edges: ReadonlyArray<{ readonly cursor: string; readonly node: { id: string; title: string; status: string } }>
    readonly nodes: ReadonlyArray<{ readonly id: string }>
    readonly pageInfo: {
      readonly hasNextPage: boolean
      readonly endCursor: string | null
      readonly hasPreviousPage: boolean
      readonly startCursor: string | null
    }
  }
}

/** A task as REST answers it, from the same task as GraphQL answered it. */
const asRest = (task: GraphqlTask): TaskBody => ({
  id: task.id,
  title: task.title,
  description: task.description,
  status: task.status.toLowerCase(),
  created_at: task.createdAt,
  updated_at: task.updatedAt
})

/**
 * Every rule of ../shared/GRAPHQL.md about tasks, through POST /graphql, and
 * that REST and GraphQL serve the same tasks by the same rules. Each target
 * (the in-memory handler, PostgreSQL, the built server) runs the same suite.
 */
export const taskGraphContract = (name: string, makeTarget: () => Promise<Target>) =>
  describe(`${name}: the GraphQL contract`, () => {
    let target: Target
    beforeAll(async () => {
      target = await makeTarget()
    })
    afterAll(() => target?.close())
    beforeEach(() => target.reset())

    const page = async (variables: Record<string, unknown>) => dataOf(await graphql<Page>(target, pageQuery, variables)).tasks
    const count = async () => (await listTasks(target, "?limit=100")).items.length

    describe("task(id) and node(id)", () => {
      it("answer the task, with REST's id, timestamps and ETag", async () => {
        const rest = await createTask(target, { title: "Write the report", description: "Numbers first", status: "in_progress" })
        const { task } = dataOf(await graphql<{ task: GraphqlTask }>(target, taskQuery, { id: rest.id.toUpperCase() }))
        expect(task).toEqual({
          id: rest.id,
          title: "Write the report",
          description: "Numbers first",
          status: "IN_PROGRESS",
          createdAt: rest.created_at,
          updatedAt: rest.updated_at,
          etag: (await target.fetch(`/tasks/${rest.id}`)).headers.get("etag")
        })
        const { node } = dataOf(
          await graphql(target, `query($id: ID!) { node(id: $id) { __typename id ... on Task { title } } }`, { id: rest.id })
        )
        expect(node).toEqual({ __typename: "Task", id: rest.id, title: "Write the report" })
      })

      it("answer null, the same, for a missing task and for another owner's", async () => {
        const bobs = await createGraphqlTask(target, { title: "Bob's secret" }, { user: "bob" })
        const missing = await graphql(target, taskQuery, { id: missingId })
        const others = await graphql(target, taskQuery, { id: bobs.id })
        expect(missing.data).toEqual({ task: null })
        expect(others.data).toEqual({ task: null })
        expect(missing.errors).toBeUndefined()
        expect(others.errors).toBeUndefined()
        const node = `query($id: ID!) { node(id: $id) { id } }`
        expect(dataOf(await graphql(target, node, { id: bobs.id }))).toEqual({ node: null })
        expect(JSON.stringify(others)).not.toContain("Bob")
      })

      it("refuse an id that is not a UUID with BAD_USER_INPUT naming it, as REST's 400", async () => {
        const answer = await graphql(target, taskQuery, { id: "not-a-uuid" })
        expect(answer.data).toEqual({ task: null })
        expectError(answer, "BAD_USER_INPUT", ["id"])
        expectError(await graphql(target, `{ node(id: "42") { id } }`), "BAD_USER_INPUT", ["id"])
      })
    })

    describe("tasks(first, after, status)", () => {
      it("lists the caller's tasks newest first, 20 by default, every edge with a cursor", async () => {
        const created: Array<TaskBody> = []
        for (let index = 0; index < 22; index++) created.push(await createTask(target, { title: `task ${index}` }))
        await createGraphqlTask(target, { title: "Bob's" }, { user: "bob" })
        const tasks = await page({})
        expect(tasks.edges.map((edge) => edge.node.id)).toEqual(created.reverse().slice(0, 20).map((task) => task.id))
        expect(tasks.nodes.map((node) => node.id)).toEqual(tasks.edges.map((edge) => edge.node.id))
        for (const edge of tasks.edges) expect(edge.cursor.length).toBeGreaterThan(0)
        expect(tasks.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: tasks.edges[0]!.cursor })
        expect(tasks.pageInfo.endCursor).toBe(tasks.edges.at(-1)!.cursor)
      })

      it("answers an empty page with null cursors", async () => {
        expect((await page({})).pageInfo).toEqual({
          hasNextPage: false,
          endCursor: null,
          hasPreviousPage: false,
          startCursor: null
        })
      })

      it("pages by 2 through every task, none skipped or repeated, the last page ending with a null endCursor", async () => {
        const created = new Set<string>()
        for (let index = 0; index < 7; index++) created.add((await createGraphqlTask(target, { title: `t${index}` })).id)
        const seen: Array<string> = []
        let after: string | null = null
        let pages = 0
        do {
          const tasks: Page["tasks"] = await page({ first: 2, after })
          seen.push(...tasks.edges.map((edge) => edge.node.id))
          expect(tasks.pageInfo.hasNextPage).toBe(tasks.pageInfo.endCursor !== null)
          after = tasks.pageInfo.endCursor
          pages++
        } while (after !== null)
        expect(pages).toBe(4)
        expect(seen).toHaveLength(7)
        expect(new Set(seen)).toEqual(created)
        // A last page that is exactly full says so too.
        await createGraphqlTask(target, { title: "t7" })
        const full = await page({ first: 4, after: (await page({ first: 4 })).pageInfo.endCursor })
        expect(full.edges).toHaveLength(4)
        expect(full.pageInfo).toMatchObject({ hasNextPage: false, endCursor: null })
      })

      it("filters by status", async () => {
        await createTask(target, { title: "a", status: "completed" })
        await createTask(target, { title: "b" })
        await createGraphqlTask(target, { title: "c", status: "COMPLETED" })
        const completed = await page({ status: "COMPLETED" })
        expect(completed.edges.map((edge) => [edge.node.title, edge.node.status])).toEqual([["c", "COMPLETED"], ["a", "COMPLETED"]])
        expect((await page({ status: null })).edges).toHaveLength(3)
      })

      it("takes REST's next_cursor as after, and its endCursor is REST's cursor", async () => {
        for (let index = 0; index < 5; index++) await createTask(target, { title: `t${index}` })
        const first = await listTasks(target, "?limit=2")
        expect(first.items.map((task) => task.title)).toEqual(["t4", "t3"])
        const second = await page({ first: 2, after: first.next_cursor })
        expect(second.edges.map((edge) => edge.node.title)).toEqual(["t2", "t1"])
        const last = await listTasks(target, `?limit=2&cursor=${encodeURIComponent(second.pageInfo.endCursor!)}`)
        expect(last.items.map((task) => task.title)).toEqual(["t0"])
        expect(last.next_cursor).toBeNull()
      })

      it("refuses first outside 1..100 and a cursor it did not issue (or issued to another owner) with BAD_USER_INPUT", async () => {
        await createTask(target)
        await createTask(target)
        for (const first of [0, -1]) expectError(await graphql(target, pageQuery, { first }), "BAD_USER_INPUT", ["first"])
        const { endCursor } = (await page({ first: 1 })).pageInfo
        // A character of the signature changed for certain (the last one carries padding bits a decoder may ignore).
        const at = endCursor!.length - 2
        const tampered = endCursor!.slice(0, at) + (endCursor![at] === "A" ? "B" : "A") + endCursor!.slice(at + 1)
        for (const after of ["forged", tampered, endCursor!.slice(0, 20)]) {
          expectError(await graphql(target, pageQuery, { after }), "BAD_USER_INPUT", ["after"])
        }
        const bob = await graphql(target, pageQuery, { after: endCursor }, { user: "bob" })
        expectError(bob, "BAD_USER_INPUT", ["after"])
      })
    })

    describe("createTask(input, idempotencyKey)", () => {
      it("creates a task: trimmed title, PENDING and no description unless given, stored for REST too", async () => {
        const task = await createGraphqlTask(target, { title: "  \t padded \n " })
        expect(task).toEqual({
          id: expect.stringMatching(uuidLower),
          title: "padded",
          description: null,
          status: "PENDING",
          createdAt: expect.stringMatching(rfc3339Millis),
          updatedAt: task.createdAt,
          etag: `"${task.createdAt}"`
        })
        const stored = await target.fetch(`/tasks/${task.id}`)
        expect(await stored.json()).toEqual(asRest(task))
        expect(stored.headers.get("etag")).toBe(task.etag)
        const described = await createGraphqlTask(target, { title: "t", description: "  as given  ", status: "COMPLETED" })
        expect(described).toMatchObject({ description: "  as given  ", status: "COMPLETED" })
        expect((await createGraphqlTask(target, { title: "t", description: null })).description).toBeNull()
        expect((await createGraphqlTask(target, { title: astral.repeat(255) })).title).toBe(astral.repeat(255))
        expect((await createGraphqlTask(target, { title: "d", description: astral.repeat(10_000) })).description)
          .toBe(astral.repeat(10_000))
      })

      it.each([
        ["an empty title", { title: "" }, ["input", "title"]],
        ["a blank title", { title: " \t\n " }, ["input", "title"]],
        ["a title of 256 code points", { title: astral.repeat(256) }, ["input", "title"]],
        ["a title with U+0000", { title: "a\u0000b" }, ["input", "title"]],
        ["a description of 10,001 code points", { title: "t", description: "d".repeat(10_001) }, ["input", "description"]],
        ["a description with U+0000", { title: "t", description: "\u0000" }, ["input", "description"]],
        ["a null status", { title: "t", status: null }, ["input", "status"]]
      ])("refuses %s with BAD_USER_INPUT naming the field, and stores nothing", async (_, input, field) => {
        const answer = await graphql(target, createTaskMutation, { input })
        expect(answer.data).toBeNull()
        expectError(answer, "BAD_USER_INPUT", field)
        expect(await count()).toBe(0)
      })

      it("names the first bad field and lists every one", async () => {
        const error = expectError(
          await graphql(target, createTaskMutation, { input: { title: "", status: null } }),
          "BAD_USER_INPUT",
          ["input", "title"]
        )
        expect(error.extensions.errors?.map((problem) => problem.field)).toEqual([["input", "title"], ["input", "status"]])
        expect(error.message).toMatch(/1 more problem/)
      })

      it("refuses a title literally null, or a variable that does not fit its type, before anything runs", async () => {
        const literal = await graphql(target, `mutation { createTask(input: { title: null }) { id } }`)
        expect(literal.status).toBe(400)
        expectError(literal, "GRAPHQL_VALIDATION_FAILED")
        const variable = await graphql(target, createTaskMutation, { input: { title: null } })
        expect(variable.status).toBe(400)
        expect(variable.data).toBeUndefined()
        expect(expectError(variable, "BAD_USER_INPUT").message).toMatch(/\$input/)
        expect(await count()).toBe(0)
      })

      it("creates one task per idempotency key, and answers a retry with it", async () => {
        const first = await createGraphqlTask(target, { title: "once" }, { key: "key-1" })
        const again = await createGraphqlTask(target, { title: "once" }, { key: "key-1" })
        expect(again).toEqual(first)
        // Keys are per user.
        expect((await createGraphqlTask(target, { title: "once" }, { key: "key-1", user: "bob" })).id).not.toBe(first.id)
        expect(await count()).toBe(1)
      })

      it("refuses a key used with another input (IDEMPOTENCY_KEY_REUSED) and a malformed key, creating nothing", async () => {
        await createGraphqlTask(target, { title: "once" }, { key: "key-2" })
        const reused = await graphql(target, createTaskMutation, { input: { title: "twice" }, key: "key-2" })
        expect(reused.data).toBeNull()
        expectError(reused, "IDEMPOTENCY_KEY_REUSED")
        expectError(
          await graphql(target, createTaskMutation, { input: { title: "t" }, key: "has space" }),
          "BAD_USER_INPUT",
          ["idempotencyKey"]
        )
        expect(await count()).toBe(1)
      })

      it("shares idempotency keys with REST's Idempotency-Key", async () => {
        const rest = await target.fetch("/tasks", {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": "shared-key" },
          body: JSON.stringify({ title: "either way" })
        })
        const restTask = (await rest.json()) as TaskBody
        const task = await createGraphqlTask(target, { title: "either way" }, { key: "shared-key" })
        expect(asRest(task)).toEqual(restTask)
        expectError(
          await graphql(target, createTaskMutation, { input: { title: "another" }, key: "shared-key" }),
          "IDEMPOTENCY_KEY_REUSED"
        )
      })
    })

    describe("updateTask(id, input, ifMatch)", () => {
      const update = (id: string, input: Record<string, unknown>, ifMatch?: string, user?: string) =>
        graphql<{ updateTask: GraphqlTask }>(
          target,
          updateMutation,
          { id, input, ...(ifMatch === undefined ? {} : { ifMatch }) },
          user === undefined ? {} : { user }
        )

      it("changes the fields given and keeps the others; description: null clears it", async () => {
        const task = await createGraphqlTask(target, { title: "before", description: "keep me" })
        const { updateTask } = dataOf(await update(task.id, { status: "COMPLETED" }))
        expect(updateTask).toMatchObject({ title: "before", description: "keep me", status: "COMPLETED" })
        expect(updateTask.updatedAt > task.updatedAt).toBe(true)
        expect(updateTask.etag).toBe(`"${updateTask.updatedAt}"`)
        const cleared = dataOf(await update(task.id, { description: null, title: "  after " })).updateTask
        expect(cleared).toMatchObject({ title: "after", description: null, status: "COMPLETED" })
      })

      it("changes nothing, updatedAt included, with an empty input", async () => {
        const task = await createGraphqlTask(target)
        expect(dataOf(await update(task.id, {})).updateTask).toEqual(task)
      })

      it.each([
        ["a null title", { title: null }, ["input", "title"]],
        ["a blank title", { title: "  " }, ["input", "title"]],
        ["a null status", { status: null }, ["input", "status"]],
        ["a description with U+0000", { description: "a\u0000" }, ["input", "description"]]
      ])("refuses %s with BAD_USER_INPUT naming the field, changing nothing", async (_, input, field) => {
        const task = await createGraphqlTask(target)
        expectError(await update(task.id, input), "BAD_USER_INPUT", field)
        expect(dataOf(await graphql(target, taskQuery, { id: task.id })).task).toEqual(task)
      })

      it("applies with ifMatch at the current version (GraphQL's etag or REST's ETag), and refuses a stale one", async () => {
        const task = await createGraphqlTask(target)
        const changed = dataOf(await update(task.id, { title: "v2" }, task.etag)).updateTask
        const stale = await update(task.id, { title: "v3" }, task.etag)
        expect(stale.data).toBeNull()
        expectError(stale, "PRECONDITION_FAILED")
        const restEtag = (await target.fetch(`/tasks/${task.id}`)).headers.get("etag")!
        expect(restEtag).toBe(changed.etag)
        expect(dataOf(await update(task.id, { title: "v3" }, restEtag)).updateTask.title).toBe("v3")
        expectError(await update(task.id, { title: "v4" }, "W/" + restEtag), "PRECONDITION_FAILED")
        expect(dataOf(await update(task.id, { title: "v4" }, "*")).updateTask.title).toBe("v4")
      })

      it("answers NOT_FOUND, the same, for a missing task and another owner's, with or without ifMatch", async () => {
        const bobs = await createGraphqlTask(target, { title: "Bob's" }, { user: "bob" })
        const missing = expectError(await update(missingId, { title: "x" }), "NOT_FOUND")
        const others = expectError(await update(bobs.id, { title: "x" }), "NOT_FOUND")
        expect(others.message).toBe(missing.message.replace(missingId, bobs.id))
        expectError(await update(bobs.id, { title: "x" }, bobs.etag), "NOT_FOUND")
        expectError(await update("nope", { title: "x" }), "BAD_USER_INPUT", ["id"])
        expect(dataOf(await graphql(target, taskQuery, { id: bobs.id }, { user: "bob" })).task).toEqual(bobs)
      })
    })

    describe("deleteTask(id, ifMatch)", () => {
      const touch = async (id: string) => dataOf(await graphql(target, updateMutation, { id, input: { title: "moved on" } }))
      const remove = (id: string, ifMatch?: string, user?: string) =>
        graphql<{ deleteTask: string }>(
          target,
          deleteMutation,
          { id, ...(ifMatch === undefined ? {} : { ifMatch }) },
          user === undefined ? {} : { user }
        )

      it("deletes the task and answers its id; then it is gone", async () => {
        const task = await createGraphqlTask(target)
        expect(dataOf(await remove(task.id.toUpperCase()))).toEqual({ deleteTask: task.id })
        expect(dataOf(await graphql(target, taskQuery, { id: task.id }))).toEqual({ task: null })
        expectError(await remove(task.id), "NOT_FOUND")
      })

      it("honours ifMatch, and answers another owner's task as a missing one", async () => {
        const task = await createGraphqlTask(target)
        const bobs = await createGraphqlTask(target, { title: "Bob's" }, { user: "bob" })
        await touch(task.id)
        expectError(await remove(task.id, task.etag), "PRECONDITION_FAILED")
        expectError(await remove(bobs.id), "NOT_FOUND")
        expectError(await remove(bobs.id, bobs.etag), "NOT_FOUND")
        expect(dataOf(await remove(bobs.id, bobs.etag, "bob"))).toEqual({ deleteTask: bobs.id })
      })
    })

    describe("one service, two APIs", () => {
      it("reads, updates (with REST's ETag) and deletes by GraphQL a task created by REST", async () => {
        const created = await send(target, "POST", "/tasks", { title: "from REST" })
        const rest = (await created.json()) as TaskBody
        const etag = created.headers.get("etag")!
        const { task } = dataOf(await graphql<{ task: GraphqlTask }>(target, taskQuery, { id: rest.id }))
        expect(asRest(task)).toEqual(rest)
        const updated = dataOf(
          await graphql<{ updateTask: GraphqlTask }>(target, updateMutation, {
            id: rest.id,
            input: { status: "IN_PROGRESS" },
            ifMatch: etag
          })
        ).updateTask
        expect(await (await target.fetch(`/tasks/${rest.id}`)).json()).toEqual(asRest(updated))
        expect(dataOf(await graphql(target, deleteMutation, { id: rest.id, ifMatch: updated.etag }))).toEqual({ deleteTask: rest.id })
        expect((await target.fetch(`/tasks/${rest.id}`)).status).toBe(404)
      })

      it("reads, updates (with GraphQL's etag as If-Match) and deletes by REST a task created by GraphQL", async () => {
        const task = await createGraphqlTask(target, { title: "from GraphQL" })
        const patched = await target.fetch(`/tasks/${task.id}`, {
          method: "PATCH",
          headers: { "content-type": "application/json", "if-match": task.etag },
          body: JSON.stringify({ description: "by REST" })
        })
        expect(patched.status).toBe(200)
        const { task: seen } = dataOf(await graphql<{ task: GraphqlTask }>(target, taskQuery, { id: task.id }))
        expect(asRest(seen)).toEqual(await patched.json())
        expect(seen.etag).toBe(patched.headers.get("etag"))
        const stale = await target.fetch(`/tasks/${task.id}`, { method: "DELETE", headers: { "if-match": task.etag } })
        expect(stale.status).toBe(412)
        expect((await target.fetch(`/tasks/${task.id}`, { method: "DELETE", headers: { "if-match": seen.etag } })).status)
          .toBe(204)
        expect(dataOf(await graphql(target, taskQuery, { id: task.id }))).toEqual({ task: null })
      })
    })

    describe("taskEvents (a subscription over Server-Sent Events)", () => {
      const subscribe = async (user?: string) => {
        const request = subscriptionRequest(taskEventsQuery)
        const response = user === undefined ? await target.fetch("/graphql", request) : await target.fetchAs(user, "/graphql", request)
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/)
        expect(response.headers.get("cache-control")).toBe("private, no-cache")
        return readEvents(response)
      }

      it("delivers the subscriber's creates, updates and deletes, made by either API, in order, and never another owner's", async () => {
        const mine = await subscribe()
        const theirs = await subscribe("mallory")
        try {
          const created = await send(target, "POST", "/tasks", { title: "watched" })
          const rest = (await created.json()) as TaskBody
          await target.fetchAs("mallory", "/tasks", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ title: "not yours" })
          })
          const updated = dataOf(
            await graphql<{ updateTask: GraphqlTask }>(target, updateMutation, {
              id: rest.id,
              input: { status: "COMPLETED" },
              ifMatch: created.headers.get("etag")
            })
          ).updateTask
          expect((await target.fetch(`/tasks/${rest.id}`, { method: "DELETE" })).status).toBe(204)

          expect(await mine.nextResult()).toEqual({
            data: { taskEvents: { kind: "CREATED", id: rest.id, task: { id: rest.id, title: "watched", status: "PENDING", etag: created.headers.get("etag") } } }
          })
          expect(await mine.nextResult()).toEqual({
            data: { taskEvents: { kind: "UPDATED", id: rest.id, task: { id: rest.id, title: "watched", status: "COMPLETED", etag: updated.etag } } }
          })
          expect(await mine.nextResult()).toEqual({ data: { taskEvents: { kind: "DELETED", id: rest.id, task: null } } })
          const other = await theirs.nextResult()
          expect(other.data.taskEvents).toMatchObject({ kind: "CREATED", task: { title: "not yours" } })
          await expect(theirs.nextResult(300)).rejects.toThrow(/No event/)
        } finally {
          await mine.close()
          await theirs.close()
        }
      })

      it("announces a create once: its idempotent replay is no new task", async () => {
        const events = await subscribe()
        try {
          // A key of its own: other tests' keys outlive their tasks.
          const key = `announce-once-${Math.random()}`
          const first = await createGraphqlTask(target, { title: "once" }, { key })
          await createGraphqlTask(target, { title: "once" }, { key })
          await send(target, "DELETE", `/tasks/${first.id}`)
          expect((await events.nextResult()).data.taskEvents).toMatchObject({ kind: "CREATED", id: first.id })
          expect((await events.nextResult()).data.taskEvents).toMatchObject({ kind: "DELETED", id: first.id })
        } finally {
          await events.close()
        }
      })

      it("is served only as an event stream: by POST with Accept: text/event-stream", async () => {
        const asJson = await graphql(target, taskEventsQuery)
        expect(expectError(asJson, "GRAPHQL_VALIDATION_FAILED").message).toContain("text/event-stream")
        const byGet = await target.fetch(`/graphql?query=${encodeURIComponent(taskEventsQuery)}`, {
          headers: { accept: graphqlResponse }
        })
        expect(byGet.status).toBe(400)
        expectError((await byGet.json()) as GraphqlAnswer, "GRAPHQL_VALIDATION_FAILED")
      })

      it("answers a subscription that cannot run with its errors, not with a stream", async () => {
        const response = await target.fetch("/graphql", subscriptionRequest("subscription { taskEvents { nope } }"))
        expect(response.status).toBe(400)
        expect(response.headers.get("content-type")).toMatch(/^application\/graphql-response\+json/)
        expectError((await response.json()) as GraphqlAnswer, "GRAPHQL_VALIDATION_FAILED")
      })
    })
  })
