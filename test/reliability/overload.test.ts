import { execFile } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTask } from "../support/Http.ts"
import { freePort, startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { asUsers } from "../support/Targets.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

// 4,000 connections at once, as issue 19 measured them: 3,000 reading tasks
// and 1,000 creating them, for 20 s, against the built server with its
// defaults (no authentication or rate limit, so that only capacity limits).
const seconds = 20
const readers = 3_000
const writers = 1_000
const root = fileURLToPath(new URL("../..", import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let database: TestDatabase
let server: ServerProcess
let managementPort: number
beforeAll(async () => {
  database = await createTestDatabase()
  managementPort = await freePort()
  server = await startServer({
    ...database.serviceEnv,
    AUTH_MODE: "none",
    RATE_LIMIT_REQUESTS: "0",
    METRICS_PORT: String(managementPort),
    // The defaults, which the test set-up otherwise relaxes for functional tests.
    MAX_IN_FLIGHT: "64",
    MAX_QUEUE_WAIT: "1 second",
    LOG_LEVEL: "warning"
  }, { nodeArgs: ["--max-semi-space-size=8", "--max-old-space-size=256"] })
})
afterAll(async () => {
  await server?.stop()
  await database?.drop()
})

interface Load {
  readonly requests: number
  readonly statuses: Record<string, number>
  /** Answers of 4xx or 5xx that are not problem documents. */
  readonly notProblems: number
  /** Connections refused or reset, and requests unanswered within wrk's 10 s. */
  readonly socketErrors: number
  readonly socketErrorKinds: string
}

const wrk = async (connections: number, script: string, idsFile: string, duration = seconds): Promise<Load> => {
  const { stdout } = await promisify(execFile)(
    "wrk",
    ["-t1", `-c${connections}`, `-d${duration}s`, "--timeout", "10s", "-s", join(root, "bench/wrk", script), server.url],
    { encoding: "utf8", env: { ...process.env, BENCH_IDS: idsFile }, maxBuffer: 1 << 20 }
  )
  const [, counted, notProblems] = /statuses (\{.*\}) not-problems (\d+)/.exec(stdout) ?? []
  const socketErrors = (/Socket errors: (.*)/.exec(stdout)?.[1]?.match(/\d+/g) ?? []).reduce((sum, n) => sum + Number(n), 0)
  return {
    requests: Number(/(\d+) requests in/.exec(stdout)![1]),
    statuses: JSON.parse(counted ?? "{}") as Record<string, number>,
    notProblems: Number(notProblems ?? 0),
    socketErrors,
    socketErrorKinds: /Socket errors: (.*)/.exec(stdout)?.[1] ?? "none"
  }
}

/**
 * One GET on a new connection, as a kubelet or a balancer probes (no
 * keep-alive): its status, or 0 when it failed or took over 10 s, and the
 * time to its whole answer.
 */
const probe = (url: string) =>
  new Promise<{ status: number; ms: number }>((resolve) => {
    const started = performance.now()
    const done = (status: number) => resolve({ status, ms: performance.now() - started })
    http.get(url, { agent: false, timeout: 10_000 }, (response) => {
      response.resume()
      response.on("end", () => done(response.statusCode!))
    }).on("timeout", function(this: http.ClientRequest) {
      this.destroy()
    }).on("error", () => done(0))
  })

/** Probes `url` every half second until `until` settles. */
const probeEvery500ms = async (url: string, until: Promise<unknown>) => {
  let done = false
  void until.finally(() => (done = true))
  const probes: Array<Promise<{ status: number; ms: number }>> = []
  while (!done) {
    probes.push(probe(url))
    await sleep(500)
  }
  return Promise.all(probes)
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024

describe(`${readers + writers} connections at once for ${seconds} s`, () => {
  it("answers with successes or quick 503s, stays live and probed, keeps every acknowledged write, and recovers", async () => {
    const target = asUsers((path, init) => fetch(server.url + path, init))
    const ids: Array<string> = []
    for (let i = 0; i < 200; i++) ids.push((await createTask(target as never, { title: `seed ${i}` })).id)
    const idsFile = join(tmpdir(), `task-api-overload-ids-${process.pid}.txt`)
    writeFileSync(idsFile, ids.join("\n") + "\n")
    // Warm, as a server in service is: the storm is what is tested, not the first seconds of the process.
    await wrk(32, "overload-get.lua", idsFile, 3)

    let peakRss = rssMb(server.child.pid!)
    const rss = setInterval(() => (peakRss = Math.max(peakRss, rssMb(server.child.pid!))), 250)
    const load = Promise.all([wrk(readers, "overload-get.lua", idsFile), wrk(writers, "overload-post.lua", idsFile)])
    const [managementProbes, mainProbes] = await Promise.all([
      probeEvery500ms(`http://127.0.0.1:${managementPort}/health`, load),
      probeEvery500ms(`${server.url}/health`, load)
    ])
    const [reads, writes] = await load
    clearInterval(rss)

    // Once the load stops, the next request is answered as usual.
    await sleep(1_000)
    const after = performance.now()
    expect((await fetch(`${server.url}/tasks/${ids[0]}`)).status).toBe(200)
    const afterMs = performance.now() - after

    const requests = reads.requests + writes.requests
    const statuses: Record<string, number> = {}
    for (const [status, count] of [...Object.entries(reads.statuses), ...Object.entries(writes.statuses)]) {
      statuses[status] = (statuses[status] ?? 0) + count
    }
    const socketErrors = reads.socketErrors + writes.socketErrors
    const acknowledged = writes.statuses["201"] ?? 0
    const [{ stored }] = await database.query<{ stored: number }>(
      "SELECT count(*)::int AS stored FROM tasks WHERE title = 'An overload task'"
    )
    const worst = (probes: ReadonlyArray<{ status: number; ms: number }>) =>
      `${probes.filter((probe) => probe.status === 200 && probe.ms < 1_000).length} of ${probes.length} within 1 s, ` +
      `worst ${Math.max(...probes.map((probe) => probe.ms)).toFixed(0)} ms`
    console.log(
      `overload: ${requests} answers in ${seconds} s (${(requests / seconds).toFixed(0)}/s) ${JSON.stringify(statuses)}, ` +
        `${socketErrors} socket errors (${((100 * socketErrors) / Math.max(1, requests)).toFixed(2)}%: ` +
        `reads ${reads.socketErrorKinds}; writes ${writes.socketErrorKinds}); ` +
        `/health on the management port ${worst(managementProbes)}; on the main port ${worst(mainProbes)}; ` +
        `peak RSS ${peakRss.toFixed(0)} MB; ${acknowledged} creates acknowledged, ${stored} stored; ` +
        `a request 1 s after the load: ${afterMs.toFixed(0)} ms`
    )
    for (const status of Object.keys(statuses)) expect(["200", "201", "429", "503"]).toContain(status)
    expect(reads.notProblems + writes.notProblems).toBe(0)
    expect(socketErrors).toBeLessThan(requests * 0.01)
    for (const probe of managementProbes) {
      expect(probe.status).toBe(200)
      expect(probe.ms).toBeLessThan(1_000)
    }
    expect(peakRss).toBeLessThan(400)
    expect(stored).toBeGreaterThanOrEqual(acknowledged)
    expect(afterMs).toBeLessThan(200)
  })
})
