import { randomBytes, randomUUID } from "node:crypto"
import * as http from "node:http"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { overload, percentile } from "../../bench/OverloadClient.ts"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { TaskGraph } from "../graphql/TaskGraphClient.ts"
import { bearer, defaultUser, tokenFor } from "../support/Auth.ts"
import { readEvents, subscriptionRequest, taskEventsQuery } from "../support/EventStream.ts"
import { type Cluster, type Stopped, startCluster } from "../support/Cluster.ts"
import { waitFor } from "../support/Wait.ts"

const rateLimit = 300
const rateLimitWindowMs = 3_600_000
const shutdownDelayMs = 3_000

let cluster: Cluster
beforeAll(async () => {
  cluster = await startCluster({ RATE_LIMIT_REQUESTS: String(rateLimit), RATE_LIMIT_WINDOW: "1 hour" })
})
afterAll(() => cluster?.close())

// A scenario that failed halfway may have left an instance down: the next one starts from the whole cluster.
beforeEach(async () => {
  for (let i = 0; i < cluster.instances.length; i++) {
    if (!cluster.isRunning(i)) await cluster.restart(i)
    await cluster.waitForBalancer(i, "UP")
  }
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Effect's GraphQL client subscribed to TaskEvents at `url`: the ids it has heard of, as they come. */
const subscribeWithClient = (url: string) => {
  const heard: Array<string> = []
  let failed: unknown
  const fiber = Effect.runFork(
    TaskGraph.use((client) => client.TaskEvents().pipe(Stream.runForEach(({ taskEvents }) => Effect.sync(() => heard.push(taskEvents.id))))).pipe(
      Effect.provide(TaskGraph.layer({ url, token: Redacted.make(tokenFor(defaultUser)) })),
      Effect.tapCause((cause) => Effect.sync(() => (failed = Cause.pretty(cause))))
    )
  )
  return { heard, failure: () => failed, stop: () => Effect.runPromise(Fiber.interrupt(fiber)) }
}
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`

// Every subject is new to the cluster's Redis, so each starts with a full bucket.
const run = randomBytes(3).toString("hex")
let subjects = 0
const freshSubject = (label: string) => `${label}-${run}-${subjects++}`

interface Task {
  readonly id: string
  readonly title: string
}

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
}

/** One request through the balancer as `subject`, its body read whole: an answer cut off midway throws here. */
const call = async (
  subject: string,
  method: string,
  path: string,
  options: { readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Promise<Answer> => {
  const response = await fetch(`${cluster.url}${path}`, {
    method,
    headers: {
      ...bearer(subject),
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(15_000)
  })
  const text = await response.text()
  let body: unknown = text
  try {
    body = text === "" ? undefined : JSON.parse(text)
  } catch {
    // Not JSON: kept as text, for the failure message.
  }
  return { status: response.status, headers: response.headers, body }
}

const expectStatus = (answer: Answer, status: number) => {
  if (answer.status !== status) {
    throw new Error(`Expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`)
  }
  return answer
}

const tally = (values: Iterable<string | number>) => {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}

interface Failure {
  readonly started: number
  readonly request: string
  /** The status of a non-2xx answer, or what went wrong when none came. */
  readonly outcome: number | string
  readonly detail: string
}

interface Written {
  readonly title: string
  /** A change sent after `title` was acknowledged, whose answer never came: it may or may not be stored. */
  readonly unanswered?: string
}

/**
 * `clients` loops of create, read it, change it, list a page, each as a
 * token subject that changes every 50 loops (200 requests), so that no
 * bucket of RATE_LIMIT_REQUESTS empties. Creates carry an Idempotency-Key,
 * as a client that retries them would, which lets HAProxy retry them too.
 */
const startLoad = (label: string, clients = 16) => {
  const statuses = new Map<number, number>()
  const failures: Array<Failure> = []
  const tasks = new Map<string, Written>()
  const answers: Array<number> = []
  let changes = 0
  let running = true
  const attempt = async (
    subject: string,
    method: string,
    path: string,
    options: { readonly body?: unknown; readonly headers?: Record<string, string> } = {}
  ) => {
    const started = performance.now()
    const request = `${method} ${path}`
    try {
      const answer = await call(subject, method, path, options)
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
      if (answer.status < 300) {
        answers.push(started)
        return answer
      }
      failures.push({ started, request, outcome: answer.status, detail: JSON.stringify(answer.body).slice(0, 200) })
    } catch (error) {
      failures.push({ started, request, outcome: String((error as Error).cause ?? error), detail: "" })
    }
    return undefined
  }
  const client = async (n: number) => {
    let subject = ""
    for (let loop = 0; running; loop++) {
      if (loop % 50 === 0) subject = freshSubject(`${label}-${n}`)
      const title = `${label} ${run} c${n} l${loop}`
      const created = await attempt(subject, "POST", "/tasks", {
        body: { title },
        headers: { "idempotency-key": randomUUID() }
      })
      if (created === undefined) continue
      const { id } = created.body as Task
      tasks.set(id, { title })
      await attempt(subject, "GET", `/tasks/${id}`)
      const changed = `${title} changed`
      tasks.set(id, { title, unanswered: changed })
      if (await attempt(subject, "PATCH", `/tasks/${id}`, { body: { title: changed, status: "in_progress" } })) {
        tasks.set(id, { title: changed })
        changes++
      }
      await attempt(subject, "GET", "/tasks?limit=10")
    }
  }
  const started = performance.now()
  const done = Promise.all(Array.from({ length: clients }, (_, n) => client(n)))
  return {
    clients,
    statuses,
    failures,
    tasks,
    /** 2xx answers to requests sent after `since` (performance.now()). */
    answeredSince: (since: number) => answers.filter((at) => at >= since).length,
    /** Stops the clients, once each has finished its loop, and sums up. */
    stop: async () => {
      running = false
      await done
      const requests = [...statuses.values()].reduce((sum, count) => sum + count, 0) +
        failures.filter((failure) => typeof failure.outcome === "string").length
      return { requests, changes, ms: performance.now() - started }
    }
  }
}

type Load = ReturnType<typeof startLoad>

/** Runs `during` under load, and stops the load however it ends. */
const underLoad = async <A>(label: string, during: (load: Load) => Promise<A>) => {
  const load = startLoad(label)
  try {
    const result = await during(load)
    return { load, result, summary: await load.stop() }
  } catch (error) {
    await load.stop()
    throw error
  }
}

/** Acknowledged writes the database does not hold: a missing task, or a title that was never the last one sent. */
const lostWrites = async (load: Load) => {
  const rows = await cluster.database.query<{ id: string; title: string }>("SELECT id::text AS id, title FROM tasks")
  const stored = new Map(rows.map((row) => [row.id, row.title]))
  return [...load.tasks].flatMap(([id, written]) => {
    const title = stored.get(id)
    return title === written.title || (title !== undefined && title === written.unanswered)
      ? []
      : [{ id, acknowledged: written.title, stored: title ?? "missing" }]
  })
}

type BalancerStats = Awaited<ReturnType<Cluster["balancerStats"]>>

/** How HAProxy's counter `field` moved for `server` (app1..app3 or BACKEND) between two readings. */
const moved = (before: BalancerStats, after: BalancerStats, server: string, field: string) =>
  Number(after[server]?.[field] || 0) - Number(before[server]?.[field] || 0)

/**
 * The answers each instance gave since `before`, by status class, once
 * there are `count` in all: HAProxy counts a request as it ends, which may be
 * a moment after its client has the answer.
 */
const answeredBy = async (before: BalancerStats, count: number) => {
  const classes = ["2xx", "4xx", "5xx"]
  let after = before
  const total = () =>
    cluster.instances.reduce((sum, { name }) =>
      sum + classes.reduce((inner, status) => inner + moved(before, after, name, `hrsp_${status}`), 0), 0)
  await waitFor(async () => {
    after = await cluster.balancerStats()
    return total() >= count
  }, 3_000)
  return Object.fromEntries(cluster.instances.map(({ name }) => [
    name,
    Object.fromEntries(classes.flatMap((status) => {
      const answers = moved(before, after, name, `hrsp_${status}`)
      return answers > 0 ? [[status, answers]] : []
    }))
  ]))
}

/**
 * What HAProxy did about failures since `before`, the non-zero counts:
 * retries, redispatches, and errors and aborts on the servers' side.
 */
const balancerFailures = async (before: BalancerStats) => {
  const after = await cluster.balancerStats()
  const fields = {
    wretr: "retries",
    wredis: "redispatches",
    econ: "connection errors",
    eresp: "response errors",
    srv_abrt: "server aborts"
  }
  return Object.fromEntries(Object.entries(fields).flatMap(([field, name]) => {
    const count = moved(before, after, "BACKEND", field)
    return count > 0 ? [[name, count]] : []
  }))
}

/** Where each instance's log stands now, for `logSince`. */
const logMark = () => cluster.instances.map((_, i) => cluster.instanceLog(i).length)

/**
 * What the instances logged since `mark` (at LOG_LEVEL=warning: warnings and
 * errors), counted by instance, message and innermost cause, so that a
 * failure shows what the service said about it.
 */
const logSince = (mark: ReadonlyArray<number>) =>
  tally(cluster.instances.flatMap((instance, i) =>
    cluster.instanceLog(i).slice(mark[i]).map((line) => {
      try {
        const entry = JSON.parse(line) as { level?: string; message?: string; cause?: string }
        const causes = [...(entry.cause ?? "").matchAll(/\[cause\]: (?:[\w/]+: )?([^\n]*)/g)]
        const cause = causes.at(-1)?.[1] ?? entry.cause?.split("\n")[0]
        return `${instance.name} ${entry.level} ${entry.message}${cause === undefined ? "" : `: ${cause}`}`.slice(0, 240)
      } catch {
        return `${instance.name} ${line.slice(0, 200)}`
      }
    })
  ))

/** Logs the instances' warnings since `mark`, if there were any, on a line of their own. */
const reportLog = (scenario: string, mark: ReadonlyArray<number>) => {
  const said = logSince(mark)
  if (Object.keys(said).length > 0) console.log(`${scenario}: the instances logged ${JSON.stringify(said)}`)
}

const exitTimes = (stopped: ReadonlyArray<Stopped>) =>
  stopped.map((exit, i) => `${cluster.instances[i]!.name} ${seconds(exit.ms)} (code ${exit.code})`).join(", ")

describe("three instances behind HAProxy, on PgBouncer and Redis", () => {
  it("a rolling restart under load fails no request, exits cleanly and loses no acknowledged write", async () => {
    const mark = logMark()
    const stats = await cluster.balancerStats()
    // A subscriber through the balancer all along, on Effect's GraphQL client, which subscribes again when its stream ends.
    const subscriber = subscribeWithClient(cluster.url)
    const { load, result: { stopped, outAfter, backIn }, summary } = await underLoad("rolling", async () => {
      const stopped: Array<Stopped> = []
      const outAfter: Array<number> = []
      const backIn: Array<number> = []
      await sleep(3_000)
      for (let i = 0; i < cluster.instances.length; i++) {
        const [exit, out] = await Promise.all([cluster.stop(i), cluster.waitForBalancer(i, "DOWN")])
        stopped.push(exit)
        outAfter.push(out)
        await cluster.restart(i)
        // As a rollout waits for readiness: the next instance goes only once the balancer sends to this one again.
        backIn.push(await cluster.waitForBalancer(i, "UP"))
        await sleep(1_000)
      }
      await sleep(3_000)
      return { stopped, outAfter, backIn }
    })
    const lost = await lostWrites(load)
    const creates = load.statuses.get(201) ?? 0
    console.log(
      `rolling restart: ${summary.requests} requests in ${seconds(summary.ms)}, ${load.failures.length} failed ` +
        `(answers ${JSON.stringify(Object.fromEntries(load.statuses))}); ${creates + summary.changes} writes acknowledged ` +
        `(${creates} creates, ${summary.changes} changes), ${creates + summary.changes - lost.length} found; ` +
        `exit after SIGTERM: ${exitTimes(stopped)}; out of the balancer ${outAfter.map(seconds).join(", ")} after SIGTERM, ` +
        `back in ${backIn.map(seconds).join(", ")} after ready; ` +
        `HAProxy: ${JSON.stringify(await balancerFailures(stats))}`
    )
    reportLog("rolling restart", mark)
    // Every instance was restarted under it: it subscribed again, and hears the next change.
    const after = await fetch(`${cluster.url}/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer() },
      body: JSON.stringify({ title: "after the rollout" })
    })
    const { id: afterId } = (await after.json()) as Task
    await waitFor(async () => subscriber.heard.includes(afterId), 7_000)
    expect(subscriber.failure()).toBeUndefined()
    await subscriber.stop()
    expect(load.failures.slice(0, 10)).toEqual([])
    expect(lost.slice(0, 10)).toEqual([])
    expect(creates).toBeGreaterThan(300)
    // SHUTDOWN_DELAY must outlast the health checks that take an instance out (2 failures, 1 s apart).
    for (const out of outAfter) expect(out).toBeLessThan(shutdownDelayMs)
    for (const exit of stopped) {
      expect(exit.code).toBe(0)
      // It serves for SHUTDOWN_DELAY, then closes idle keep-alive connections at once.
      expect(exit.ms).toBeGreaterThanOrEqual(shutdownDelayMs)
      expect(exit.ms).toBeLessThan(shutdownDelayMs + 2_000)
    }
  })

  it("a subscriber through the balancer hears within a second a change made through any instance, idle or not", async () => {
    const response = await fetch(`${cluster.url}/graphql`, subscriptionRequest(taskEventsQuery, { headers: bearer() }))
    expect(response.status).toBe(200)
    const events = readEvents(response)
    try {
      // Idle past HAProxy's 10 s server timeout: the keep-alives hold the stream open.
      await sleep(11_000)
      for (const instance of cluster.instances) {
        const made = performance.now()
        const created = await fetch(`${instance.url}/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json", ...bearer() },
          body: JSON.stringify({ title: `made on ${instance.name}` })
        })
        expect(created.status).toBe(201)
        const { id } = (await created.json()) as Task
        const { data } = await events.nextResult(1_000)
        expect(data.taskEvents).toMatchObject({ kind: "CREATED", id, task: { title: `made on ${instance.name}` } })
        expect(performance.now() - made).toBeLessThan(1_000)
      }
    } finally {
      await events.close()
    }
  })

  it("kill -9 of one instance under load fails only what was in flight on it, and loses no acknowledged write", async () => {
    const mark = logMark()
    const stats = await cluster.balancerStats()
    const victim = 1
    const { load, result: { killed, diedAt, outMs }, summary } = await underLoad("kill", async () => {
      await sleep(3_000)
      const killed = await cluster.kill9(victim)
      const diedAt = performance.now()
      const outMs = await cluster.waitForBalancer(victim, "DOWN")
      await sleep(3_000)
      return { killed, diedAt, outMs }
    })
    await cluster.restart(victim)
    await cluster.waitForBalancer(victim, "UP")
    const lost = await lostWrites(load)
    const afterDeath = load.failures.filter((failure) => failure.started >= diedAt)
    const answeredAfter = load.answeredSince(diedAt)
    console.log(
      `kill -9: ${summary.requests} requests in ${seconds(summary.ms)}, ${load.failures.length} failed ` +
        `(${JSON.stringify(tally(load.failures.map((failure) => `${failure.request.split(" ")[0]} ${failure.outcome}`)))}), ` +
        `${afterDeath.length} of them sent after the process was gone, ${answeredAfter} answered after it; ` +
        `HAProxy marked ${cluster.instances[victim]!.name} DOWN ${seconds(outMs)} after the exit ` +
        `(exit ${seconds(killed.ms)} after the signal); ${load.tasks.size} acknowledged tasks, ${lost.length} lost; ` +
        `HAProxy: ${JSON.stringify(await balancerFailures(stats))}`
    )
    reportLog("kill -9", mark)
    expect(killed.code).toBe(null)
    expect(afterDeath.slice(0, 10)).toEqual([])
    // Each client has one request in flight at a time.
    expect(load.failures.length).toBeLessThanOrEqual(load.clients)
    expect(answeredAfter).toBeGreaterThan(100)
    expect(lost.slice(0, 10)).toEqual([])
  })

  it("pages through the balancer with cursors issued by other instances, none skipped or repeated", async () => {
    const mark = logMark()
    const subject = freshSubject("pages")
    const created: Array<string> = []
    for (let i = 0; i < 25; i++) {
      const answer = expectStatus(await call(subject, "POST", "/tasks", { body: { title: `page task ${i}` } }), 201)
      created.push((answer.body as Task).id)
    }
    const stats = await cluster.balancerStats()
    const seen: Array<string> = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query: string = `?limit=3${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`
      const page = expectStatus(await call(subject, "GET", `/tasks${query}`), 200).body as {
        readonly items: ReadonlyArray<Task>
        readonly next_cursor: string | null
      }
      seen.push(...page.items.map((item) => item.id))
      cursor = page.next_cursor
      pages++
    } while (cursor !== null && pages < 20)
    const servers = await answeredBy(stats, pages)
    const newestFirst = [...created].reverse()
    const inOrder = JSON.stringify(seen) === JSON.stringify(newestFirst)
    console.log(
      `paging: ${created.length} tasks in ${pages} pages of 3, answered by ${JSON.stringify(servers)}; ` +
        `${seen.length} ids, ${new Set(seen).size} distinct, ${inOrder ? "" : "NOT "}in creation order`
    )
    reportLog("paging", mark)
    expect(seen).toEqual(newestFirst)
    for (const { name } of cluster.instances) expect(servers[name]?.["2xx"]).toBeGreaterThan(0)
  })

  it("answers concurrent retries of one idempotent create on every instance with one task", async () => {
    const mark = logMark()
    const subject = freshSubject("idempotent")
    const key = randomUUID()
    const title = `idempotent ${run}`
    const stats = await cluster.balancerStats()
    const answers = await Promise.all(
      Array.from({ length: 9 }, () => call(subject, "POST", "/tasks", { body: { title }, headers: { "idempotency-key": key } }))
    )
    const servers = await answeredBy(stats, answers.length)
    const ids = new Set(answers.map((answer) => (answer.body as Task).id))
    const rows = await cluster.database.query<{ count: string }>(
      `SELECT count(*)::text AS count FROM tasks WHERE title = '${title}'`
    )
    const statuses = tally(answers.map((answer) => answer.status))
    console.log(
      `idempotent retries: ${answers.length} concurrent POSTs, one key, answered ${JSON.stringify(statuses)} ` +
        `by ${JSON.stringify(servers)}; ${ids.size} task id, ${rows[0]?.count} row`
    )
    reportLog("idempotent retries", mark)
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 201))
    expect(ids.size).toBe(1)
    expect(rows[0]?.count).toBe("1")
    for (const { name } of cluster.instances) expect(servers[name]?.["2xx"]).toBeGreaterThan(0)
  })

  it("loses no update when clients on different instances race with If-Match", async () => {
    const mark = logMark()
    const subject = freshSubject("races")
    const clients = 6
    const increments = 10
    const created = expectStatus(await call(subject, "POST", "/tasks", { body: { title: "0" } }), 201)
    const { id } = created.body as Task
    let conflicts = 0
    let requests = 1
    const stats = await cluster.balancerStats()
    const read = async () => {
      requests++
      const answer = await call(subject, "GET", `/tasks/${id}`)
      if (answer.status === 429) throw new Error(`The races took more than the subject's ${rateLimit} requests (${requests})`)
      expectStatus(answer, 200)
      return { count: Number((answer.body as Task).title), etag: answer.headers.get("etag")! }
    }
    const incrementer = async () => {
      let known = await read()
      let streak = 0
      for (let done = 0; done < increments;) {
        requests++
        const answer = await call(subject, "PATCH", `/tasks/${id}`, {
          body: { title: String(known.count + 1) },
          headers: { "if-match": known.etag }
        })
        if (answer.status === 200) {
          done++
          streak = 0
          // What this client wrote is the latest it knows; no read needed unless another client got there first.
          known = { count: known.count + 1, etag: answer.headers.get("etag")! }
        } else {
          expectStatus(answer, 412)
          conflicts++
          // Backing off, as a client should: without it 6 clients in step took up to ~115 conflicts (and 2
          // requests each) for 60 increments, close to the subject's bucket of 300 requests; with it ~35-75.
          await sleep(Math.random() * Math.min(100, 10 * 2 ** streak++))
          known = await read()
        }
      }
    }
    await Promise.all(Array.from({ length: clients }, incrementer))
    const servers = await answeredBy(stats, requests - 1)
    const final = await read()
    const rows = await cluster.database.query<{ title: string }>(`SELECT title FROM tasks WHERE id = '${id}'`)
    console.log(
      `If-Match races: ${clients} clients x ${increments} increments, final count ${final.count} (stored ${rows[0]?.title}), ` +
        `${conflicts} answered 412 and retried, ${requests} requests, answered by ${JSON.stringify(servers)}`
    )
    reportLog("If-Match races", mark)
    expect(final.count).toBe(clients * increments)
    expect(rows[0]?.title).toBe(String(clients * increments))
    expect(conflicts).toBeGreaterThan(0)
  })

  it("holds one rate limit in Redis for the whole deployment", async () => {
    const mark = logMark()
    const subject = freshSubject("limited")
    const total = 400
    const stats = await cluster.balancerStats()
    const statuses: Array<number> = []
    let next = 0
    const started = performance.now()
    const sender = async () => {
      while (next < total) {
        next++
        statuses.push((await call(subject, "GET", "/tasks?limit=1")).status)
      }
    }
    await Promise.all(Array.from({ length: 8 }, sender))
    const elapsed = performance.now() - started
    const servers = await answeredBy(stats, total)
    const succeeded = statuses.filter((status) => status === 200).length
    // The bucket refills evenly over the window: what comes back during the run may succeed too.
    const refill = Math.ceil((elapsed * rateLimit) / rateLimitWindowMs)
    console.log(
      `rate limit: ${total} requests in ${seconds(elapsed)} as one subject, ${succeeded} succeeded, ` +
        `${statuses.filter((status) => status === 429).length} answered 429 (limit ${rateLimit}, refill allowance ${refill}); ` +
        `answered by ${JSON.stringify(servers)}`
    )
    reportLog("rate limit", mark)
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([])
    expect(succeeded).toBeGreaterThanOrEqual(rateLimit)
    expect(succeeded).toBeLessThanOrEqual(rateLimit + refill)
    // Each instance answered within the one budget, and refused once it was spent.
    for (const { name } of cluster.instances) {
      expect(servers[name]).toMatchObject({ "2xx": expect.any(Number), "4xx": expect.any(Number) })
    }
  })

  it("gives each client behind the balancer a bucket of its own, and believes no X-Forwarded-For sent past it", async () => {
    // Clients on other loopback addresses, as other machines would be; bad tokens, so buckets are by address.
    const badToken = { authorization: "Bearer not-a-token" }
    const from = (url: string, localAddress: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        http.get(`${url}/tasks`, { localAddress, agent: false, headers: { ...badToken, ...headers } }, (response) => {
          response.resume()
          response.on("end", () => resolve(response.statusCode!))
        }).on("error", reject)
      })
    const statuses: Array<number> = []
    const sender = async () => {
      while (statuses.length < rateLimit + 1) statuses.push(await from(cluster.url, "127.0.0.2"))
    }
    await Promise.all(Array.from({ length: 8 }, sender))
    const counts = tally(statuses)
    console.log(`clients behind the balancer: 127.0.0.2 got ${JSON.stringify(counts)}`)
    expect(counts[401]).toBeGreaterThanOrEqual(rateLimit)
    expect(counts[429]).toBeGreaterThanOrEqual(1)
    // Another client behind the same balancer still has its whole bucket.
    expect(await from(cluster.url, "127.0.0.3")).toBe(401)
    // The first client, straight to an instance, cannot name itself someone else.
    for (const { url } of cluster.instances) {
      expect(await from(url, "127.0.0.2", { "x-forwarded-for": "198.51.100.77" })).toBe(429)
    }
  })

  it("behind the balancer, an overload is queued and refused there, and no busy instance leaves it", async () => {
    const mark = logMark()
    // Many callers, so that their rate limits (300 an hour each) are not what answers.
    const tokens = Array.from({ length: 300 }, () => bearer(freshSubject("storm")).authorization)
    let sent = 0
    const stats = await cluster.balancerStats()
    const result = await overload({
      url: cluster.url,
      connections: 2_000,
      seconds: 10,
      request: () => `GET /tasks?limit=5 HTTP/1.1\r\nHost: task-api\r\nAuthorization: ${tokens[sent++ % tokens.length]}\r\n\r\n`
    })
    const servers = await answeredBy(stats, 0)
    const states = await Promise.all(cluster.instances.map((_, i) => cluster.balancerState(i)))
    console.log(
      `overload behind the balancer: 2,000 connections for 10 s: ${JSON.stringify(result.statuses)}, ` +
        `${result.timeouts} timeouts, ${result.errors} resets; p99 of the successes ${percentile(result.successMs, 99).toFixed(0)} ms; ` +
        `answered by ${JSON.stringify(servers)}; instances ${states.join(", ")}`
    )
    reportLog("overload behind the balancer", mark)
    for (const status of Object.keys(result.statuses)) expect(["200", "429", "503"]).toContain(status)
    expect(result.statuses["200"]).toBeGreaterThan(0)
    // Busy, not gone: every instance stays in the balancer throughout.
    expect(states).toEqual(cluster.instances.map(() => "UP"))
    for (const { name } of cluster.instances) expect(servers[name]).toMatchObject({ "2xx": expect.any(Number) })
  })
})
