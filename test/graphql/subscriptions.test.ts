import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bearer } from "../support/Auth.ts"
import { readEvents, subscriptionRequest, taskEventsQuery } from "../support/EventStream.ts"
import { parseExposition, sampleValue } from "../support/Prometheus.ts"
import { type ServerProcess, startServer } from "../support/ServerProcess.ts"
import { createTestDatabase, type TestDatabase, testDatabaseKind } from "../support/TestDatabase.ts"
import { waitFor } from "../support/Wait.ts"

// Subscriptions (graphql-sse) against the built server: what only a real
// process shows. The contract suite (TaskGraphContract) has what they deliver.

const subscribe = async (server: ServerProcess, user = "alice", query = taskEventsQuery) => {
  const response = await fetch(`${server.url}/graphql`, subscriptionRequest(query, { headers: bearer(user) }))
  return { response, events: response.status === 200 ? readEvents(response) : undefined }
}

const createTask = (server: ServerProcess, body: Record<string, unknown>, user = "alice") =>
  fetch(`${server.url}/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json", ...bearer(user) },
    body: JSON.stringify(body)
  }).then(async (response) => {
    expect(response.status).toBe(201)
    return (await response.json()) as { id: string }
  })

const openSubscriptions = async (server: ServerProcess) =>
  sampleValue(parseExposition(await (await fetch(`${server.url}/metrics`)).text()), "task_api_graphql_subscriptions")

describe("subscriptions on the built server", () => {
  let database: TestDatabase
  let server: ServerProcess
  beforeAll(async () => {
    database = await createTestDatabase()
    server = await startServer({
      ...database.serviceEnv,
      REQUEST_TIMEOUT: "500 millis",
      MAX_IN_FLIGHT: "2",
      MAX_QUEUE_WAIT: "200 millis",
      MAX_SUBSCRIPTIONS: "3"
    })
  })
  afterAll(async () => {
    await server?.stop()
    await database?.drop()
  })

  it("outlive the request deadline, and give back their place among the requests in flight", async () => {
    const open = await Promise.all([subscribe(server), subscribe(server), subscribe(server)])
    try {
      // Three streams open, on an instance that serves two requests at once: a request is still served.
      expect((await fetch(`${server.url}/tasks`, { headers: bearer() })).status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const task = await createTask(server, { title: "after the deadline" })
      for (const { events } of open) {
        expect((await events!.nextResult()).data.taskEvents).toMatchObject({ kind: "CREATED", id: task.id })
      }
    } finally {
      for (const { events } of open) await events!.close()
    }
  })

  it("are refused past MAX_SUBSCRIPTIONS with a 503 to retry, and taken again once one ends", async () => {
    const open = await Promise.all([subscribe(server), subscribe(server), subscribe(server)])
    await waitFor(async () => (await openSubscriptions(server)) === 3, 5_000)
    const refused = await subscribe(server)
    expect(refused.response.status).toBe(503)
    expect(refused.response.headers.get("retry-after")).toBe("5")
    expect(refused.response.headers.get("content-type")).toBe("application/problem+json")
    await open[0]!.events!.close()
    await waitFor(async () => (await openSubscriptions(server)) === 2, 5_000)
    const again = await subscribe(server)
    expect(again.response.status).toBe(200)
    for (const { events } of [...open.slice(1), again]) await events!.close()
    await waitFor(async () => (await openSubscriptions(server)) === 0, 5_000)
  })

  it("cut a subscriber that stops reading, and no other", async () => {
    // An instance of its own, to write fast: the one above serves two requests at once.
    const own = await createTestDatabase()
    const server = await startServer(own.serviceEnv)
    // A client that sends its subscription, then reads nothing: what the
    // server writes fills the socket's buffers, then the subscriber's.
    const stalled = net.connect(Number(new URL(server.url).port), "127.0.0.1")
    const withDescriptions = "subscription { taskEvents { kind task { title description } } }"
    const body = JSON.stringify({ query: withDescriptions })
    stalled.write(
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n` +
        `Authorization: ${bearer().authorization}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    )
    stalled.pause()
    const reading = await subscribe(server, "alice", withDescriptions)
    await waitFor(async () => (await openSubscriptions(server)) === 2, 5_000)
    try {
      // Events of about 7 KB each, until more than the sockets' buffers hold.
      const task = await createTask(server, { title: "big", description: "x".repeat(7_000) })
      let sent = 0
      const patch = (index: number) =>
        fetch(`${server.url}/tasks/${task.id}`, {
          method: "PATCH",
          headers: { "content-type": "application/json", ...bearer() },
          body: JSON.stringify({ title: `big ${index}` })
        }).then((response) => void (response.ok && sent++))
      let received = 0
      const drained = (async () => {
        while (true) {
          const { data } = await reading.events!.nextResult(5_000)
          received++
          if (data.taskEvents.task?.title === "big done") return
        }
      })()
      for (let round = 0; round < 2_000 && (await openSubscriptions(server)) === 2; round += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, index) => patch(round + index)))
      }
      expect(await openSubscriptions(server)).toBe(1)
      await patch(-1).then(() =>
        fetch(`${server.url}/tasks/${task.id}`, {
          method: "PATCH",
          headers: { "content-type": "application/json", ...bearer() },
          body: JSON.stringify({ title: "big done" })
        })
      )
      await drained
      // The one that reads heard every change: the create, each update, and the last.
      expect(received).toBe(1 + sent + 1)
    } finally {
      stalled.destroy()
      await reading.events!.close()
      await server.stop()
      await own.drop()
    }
  })

  it("end at once when the instance leaves, without `complete`, so the client subscribes again elsewhere", async () => {
    const own = await createTestDatabase()
    const leaving = await startServer(own.serviceEnv)
    try {
      const { events } = await subscribe(leaving)
      const signalled = Date.now()
      const exited = leaving.stop("SIGTERM")
      expect(await events!.ended).toBe("ended")
      expect(Date.now() - signalled).toBeLessThan(1_000)
      expect(await exited).toBe(0)
    } finally {
      await leaving.stop()
      await own.drop()
    }
  })
})

describe.skipIf((await testDatabaseKind) === "embedded")("subscriptions across instances", () => {
  let database: TestDatabase
  let servers: Array<ServerProcess>
  beforeAll(async () => {
    database = await createTestDatabase()
    servers = [await startServer(database.serviceEnv), await startServer(database.serviceEnv)]
  })
  afterAll(async () => {
    for (const server of servers ?? []) await server.stop()
    await database?.drop()
  })

  it("hear within a second the changes another instance makes, and only their owner's", async () => {
    const [here, there] = servers as [ServerProcess, ServerProcess]
    const { events } = await subscribe(here)
    try {
      await createTask(there, { title: "someone else's" }, "bob")
      const made = Date.now()
      const task = await createTask(there, { title: "made elsewhere", description: "y".repeat(9_000) })
      // Too large for a notification: read back by the listening instance.
      const { data } = await events!.nextResult(1_000)
      expect(Date.now() - made).toBeLessThan(1_000)
      expect(data.taskEvents).toMatchObject({ kind: "CREATED", id: task.id, task: { title: "made elsewhere" } })
      expect((await fetch(`${there.url}/tasks/${task.id}`, { method: "DELETE", headers: bearer() })).status).toBe(204)
      expect((await events!.nextResult(1_000)).data.taskEvents).toEqual({ kind: "DELETED", id: task.id, task: null })
    } finally {
      await events!.close()
    }
  })

  it("listen again when their LISTEN connection is lost, and hear the changes made after", async () => {
    const [here, there] = servers as [ServerProcess, ServerProcess]
    const { events } = await subscribe(here)
    try {
      const ended = await database.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
      )
      expect(ended.length).toBe(2)
      // Changes made until an instance listens again are missed (see the README): made until one is heard.
      await waitFor(async () => {
        await createTask(there, { title: "after the loss" })
        return await events!.nextResult(300).then(() => true, () => false)
      }, 10_000)
      expect(here.output.some((line) => line.includes("the LISTEN connection failed; listening again"))).toBe(true)
    } finally {
      await events!.close()
    }
  })
})
