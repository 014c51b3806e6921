// npm run bench [-- --rows 10000 --duration 10 --connections 32 --warmup 3 --floor --telemetry --pgbouncer
//                  --overload --graphql --against DIR --rounds 1 --only "GET /tasks/{id}"]
//
// Seeds a database, starts the built service and the bare baseline
// (bench/baseline-server.ts) side by side on it, drives each in turn with wrk
// from a separate process, and prints every figure with its ratio to the
// baseline measured in the same run, so results compare across noisy machines.
// --floor adds a second pair: a bare HttpApi over the service's schemas and
// repository (bench/floor-server.ts) against the baseline doing only the same
// SQL, which measures what the stack itself (HttpApi and @effect/sql-pg)
// costs or saves. --against DIR adds the build
// of another checkout (its own node_modules and dist/, such as a git worktree
// of an earlier commit after `npm ci && npm run build`) as the baseline of
// this one. --rounds N measures every server N times, alternating which
// goes first, and reports medians: changes smaller than the noise between
// two runs show only this way. --telemetry measures what telemetry costs:
// metrics on (the default) against METRICS=false, and tracing at 10% and at
// 100% (to an OTLP sink that answers at once) against metrics alone.
// --pgbouncer measures the service through PgBouncer (deploy/pgbouncer, in
// transaction pooling) against the service on PostgreSQL directly.
// --overload adds the overload scenario: goodput (2xx answers per second) and
// the p99 of the 2xx answers alone, at 4,000 connections against 32, for the
// service and the baseline (bench/OverloadClient.ts). --only runs the
// scenarios whose names contain the text given (--only overload: none but it).
// --graphql adds GraphQL's twins of the two reads (task(id), tasks(first: 50)
// over POST /graphql), measured on the service against the same reads by REST.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import * as http from "node:http"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { freePort, nodeFlags, root, seed, serverEnv } from "./Seed.ts"

const { values: options } = parseArgs({
  options: {
    rows: { type: "string", default: "10000" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    floor: { type: "boolean", default: false },
    telemetry: { type: "boolean", default: false },
    pgbouncer: { type: "boolean", default: false },
    overload: { type: "boolean", default: false },
    graphql: { type: "boolean", default: false },
    against: { type: "string" },
    rounds: { type: "string", default: "1" },
    only: { type: "string" }
  }
})
const rows = Number(options.rows)
const duration = Number(options.duration)
const warmup = Number(options.warmup)
const connections = Number(options.connections)
const rounds = Number(options.rounds)
try {
  execFileSync("wrk", ["--version"], { stdio: "ignore" })
} catch (error) {
  // wrk prints its version and exits 1; only a missing binary is a problem.
  if ((error as NodeJS.ErrnoException).code === "ENOENT") {
    console.error("The benchmark needs wrk: apt-get install wrk (or brew install wrk)")
    process.exit(1)
  }
}

const get = (url: string) =>
  new Promise<number>((resolve) => {
    http.get(url, { agent: false }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    }).on("error", () => resolve(0))
  })

// ---- the database -------------------------------------------------------------

const { databaseUrl, deepCursor, idsFile, token } = await seed(rows)

// ---- the servers --------------------------------------------------------------

interface Server {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  readonly startupMs: number
  readonly idleRssMb: number
  peakRssMb: number
}

const rssMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024
}
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  // utime and stime, in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const start = async (
  name: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  cwd = root
): Promise<Server> => {
  const port = await freePort()
  const started = performance.now()
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...serverEnv(databaseUrl, port), HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "ignore", "inherit"]
  })
  const url = `http://127.0.0.1:${port}`
  while ((await get(`${url}/health`)) !== 200) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const startupMs = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const idleRssMb = rssMb(child.pid!)
  return { name, url, child, startupMs, idleRssMb, peakRssMb: idleRssMb }
}

// ---- the load -----------------------------------------------------------------

interface Result {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuUsPerRequest: number
  readonly errors: number
}

const toMs = (value: string) => {
  const [, number, unit] = /^([\d.]+)(us|ms|s|m)$/.exec(value) ?? []
  if (number === undefined) throw new Error(`Cannot read a latency from wrk: ${value}`)
  return Number(number) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[unit!]!
}

const wrk = (server: Server, scenario: Scenario, seconds: number): Result => {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "10s"]
  args.push("-H", `Authorization: Bearer ${token}`)
  if (scenario.script) args.push("-s", join(root, "bench/wrk", scenario.script))
  const pid = server.child.pid!
  const cpuBefore = cpuMs(pid)
  const sampler = setInterval(() => (server.peakRssMb = Math.max(server.peakRssMb, rssMb(pid))), 100)
  let output = ""
  try {
    output = execFileSync("wrk", [...args, server.url + scenario.path], {
      encoding: "utf8",
      env: { ...process.env, BENCH_IDS: idsFile }
    })
  } finally {
    clearInterval(sampler)
  }
  server.peakRssMb = Math.max(server.peakRssMb, rssMb(pid))
  const requests = Number(/(\d+) requests in/.exec(output)![1])
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0) +
    (/Socket errors: (.*)/.exec(output)?.[1]?.match(/\d+/g) ?? []).reduce((sum, n) => sum + Number(n), 0)
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)![1]),
    p50: toMs(/^\s+50%\s+(\S+)$/m.exec(output)![1]!),
    p99: toMs(/^\s+99%\s+(\S+)$/m.exec(output)![1]!),
    cpuUsPerRequest: ((cpuMs(pid) - cpuBefore) * 1000) / requests,
    errors
  }
}

interface Scenario {
  readonly name: string
  /** The path wrk requests, unless its script makes the requests. */
  readonly path: string
  readonly script?: string
}

// Both servers sign cursors with the same secret, so one deep cursor serves both.
const allScenarios: ReadonlyArray<Scenario> = [
  { name: "GET /tasks/{id}", path: "", script: "by-id.lua" },
  { name: "GET /tasks?limit=50", path: "/tasks?limit=50" },
  { name: "GET /tasks?limit=50 (90% deep)", path: `/tasks?limit=50&cursor=${encodeURIComponent(deepCursor)}` },
  { name: "PATCH /tasks/{id}", path: "", script: "patch.lua" },
  { name: "POST /tasks", path: "/tasks", script: "create.lua" }
]
const scenarios = allScenarios.filter((scenario) => options.only === undefined || scenario.name.includes(options.only))

interface Pair {
  readonly title: string
  readonly subject: Server
  readonly baseline: Server
  readonly results: Array<{ name: string; subject: Result; baseline: Result }>
}

const pairs: Array<Pair> = [{
  title: "service / baseline",
  baseline: await start("baseline", [...nodeFlags, "bench/baseline-server.ts"]),
  subject: await start("service", [...nodeFlags, "dist/start.js"]),
  results: []
}]
if (options.floor) {
  pairs.push({
    title: "HttpApi floor / node:http floor (the same SQL, nothing else)",
    baseline: await start("node:http floor", [...nodeFlags, "bench/baseline-server.ts"], { FLOOR: "1" }),
    subject: await start("HttpApi floor", [...nodeFlags, "bench/floor-server.ts"]),
    results: []
  })
}
// What runs beside the servers for some pairs, stopped with them.
const helpers: Array<() => unknown> = []
if (options.pgbouncer) {
  const { startPgbouncer } = await import("../test/support/Pgbouncer.ts")
  const pgbouncer = await startPgbouncer(databaseUrl)
  helpers.push(pgbouncer.stop)
  pairs.push({
    title: "service through PgBouncer (transaction pooling) / service on PostgreSQL directly",
    subject: await start("service via PgBouncer", [...nodeFlags, "dist/start.js"], { DATABASE_URL: pgbouncer.url }),
    baseline: pairs[0]!.subject,
    results: []
  })
}
if (options.telemetry) {
  // An OTLP collector that takes everything at once, in a process of its own
  // (wrk runs synchronously in this one).
  const sinkPort = await freePort()
  const sink = spawn(process.execPath, [
    "-e",
    `require("node:http").createServer((q, s) => { q.resume(); q.on("end", () => s.end()) }).listen(${sinkPort}, "127.0.0.1")`
  ], { stdio: "ignore" })
  // Killed with the servers, and never what keeps this process waiting.
  sink.unref()
  process.on("exit", () => sink.kill("SIGKILL"))
  const traced = (ratio: string) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: ratio
  })
  const metricsOn = pairs[0]!.subject
  const metricsOff = await start("service, METRICS=false", [...nodeFlags, "dist/start.js"], { METRICS: "false" })
  pairs.push(
    { title: "metrics on (the default) / METRICS=false", subject: metricsOn, baseline: metricsOff, results: [] },
    {
      title: "tracing, 10% sampled / metrics alone",
      subject: await start("service, tracing 10%", [...nodeFlags, "dist/start.js"], traced("0.1")),
      baseline: metricsOn,
      results: []
    },
    {
      title: "tracing, 100% sampled / metrics alone",
      subject: await start("service, tracing 100%", [...nodeFlags, "dist/start.js"], traced("1")),
      baseline: metricsOn,
      results: []
    }
  )
  if (options.against !== undefined) {
    pairs.push({
      title: `METRICS=false / the build in ${options.against}`,
      subject: metricsOff,
      baseline: await start("other build", [...nodeFlags, "dist/start.js"], {}, options.against),
      results: []
    })
  }
} else if (options.against !== undefined) {
  pairs.push({
    title: `service / the build in ${options.against}`,
    baseline: await start("other build", [...nodeFlags, "dist/start.js"], {}, options.against),
    subject: pairs[0]!.subject,
    results: []
  })
}
const servers = [...new Set(pairs.flatMap((pair) => [pair.baseline, pair.subject]))]
process.on("exit", () => servers.forEach((server) => server.child.kill("SIGKILL")))

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const medianOf = (results: ReadonlyArray<Result>): Result => ({
  rps: median(results.map((result) => result.rps)),
  p50: median(results.map((result) => result.p50)),
  p99: median(results.map((result) => result.p99)),
  cpuUsPerRequest: median(results.map((result) => result.cpuUsPerRequest)),
  errors: results.reduce((sum, result) => sum + result.errors, 0)
})

for (const scenario of scenarios) {
  for (const server of servers) wrk(server, scenario, warmup)
  const measured = new Map<Server, Array<Result>>(servers.map((server) => [server, []]))
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
      measured.get(server)!.push(wrk(server, scenario, duration))
    }
  }
  for (const pair of pairs) {
    const [b, s] = [medianOf(measured.get(pair.baseline)!), medianOf(measured.get(pair.subject)!)]
    pair.results.push({ name: scenario.name, subject: s, baseline: b })
    console.log(`${scenario.name}: ${pair.subject.name} ${s.rps.toFixed(0)} req/s vs ${b.rps.toFixed(0)} (${(s.rps / b.rps).toFixed(2)}x)`)
  }
}

// ---- overload: goodput and the successes' p99 at 4,000 connections and at 32 --------

interface OverloadFigures {
  readonly goodput: number
  readonly p99: number
  readonly statuses: Record<string, number>
  readonly timeouts: number
  readonly errors: number
}
const overloadResults = new Map<Server, { at32: Array<OverloadFigures>; at4000: Array<OverloadFigures> }>()
if (options.overload) {
  const { overload, percentile } = await import("./OverloadClient.ts")
  const ids = readFileSync(idsFile, "utf8").trim().split("\n")
  const body = '{"title":"An overload task"}'
  let sent = 0
  // Three reads of a task for each create, as issue 19's load had them.
  const request = () =>
    sent++ % 4 === 3
      ? `POST /tasks HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`
      : `GET /tasks/${ids[sent % ids.length]} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${token}\r\n\r\n`
  const measure = async (server: Server, connections: number, seconds: number): Promise<OverloadFigures> => {
    const result = await overload({ url: server.url, connections, seconds, request })
    const successes = Object.entries(result.statuses).filter(([status]) => status.startsWith("2"))
      .reduce((sum, [, count]) => sum + count, 0)
    return {
      goodput: successes / result.seconds,
      p99: percentile(result.successMs, 99),
      statuses: result.statuses,
      timeouts: result.timeouts,
      errors: result.errors
    }
  }
  const subjects = [pairs[0]!.subject, pairs[0]!.baseline]
  for (const server of subjects) {
    await measure(server, 32, warmup)
    overloadResults.set(server, { at32: [], at4000: [] })
  }
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? subjects : [...subjects].reverse()) {
      overloadResults.get(server)!.at32.push(await measure(server, 32, duration))
      overloadResults.get(server)!.at4000.push(await measure(server, 4000, duration))
      // Let the connections of the storm go before the next measurement.
      await new Promise((resolve) => setTimeout(resolve, 2_000))
    }
  }
}

// GraphQL against REST: the same reads, on the same service, in alternate order.
if (options.graphql) {
  const service = pairs[0]!.subject
  const twins: ReadonlyArray<readonly [graphql: Scenario, rest: Scenario]> = [
    [{ name: "POST /graphql task(id)", path: "", script: "graphql-by-id.lua" }, allScenarios[0]!],
    [{ name: "POST /graphql tasks(first: 50)", path: "/graphql", script: "graphql-tasks.lua" }, allScenarios[1]!]
  ]
  const pair: Pair = { title: "GraphQL / REST, on the service", subject: service, baseline: service, results: [] }
  for (const [graphql, rest] of twins) {
    for (const scenario of [graphql, rest]) wrk(service, scenario, warmup)
    const measured = new Map<Scenario, Array<Result>>([[graphql, []], [rest, []]])
    for (let round = 0; round < rounds; round++) {
      for (const scenario of round % 2 === 0 ? [graphql, rest] : [rest, graphql]) {
        measured.get(scenario)!.push(wrk(service, scenario, duration))
      }
    }
    const [g, r] = [medianOf(measured.get(graphql)!), medianOf(measured.get(rest)!)]
    pair.results.push({ name: `${graphql.name} / ${rest.name}`, subject: g, baseline: r })
    console.log(`${graphql.name}: ${g.rps.toFixed(0)} req/s vs REST ${r.rps.toFixed(0)} (${(g.rps / r.rps).toFixed(2)}x)`)
  }
  pairs.push(pair)
}

for (const server of servers) server.child.kill("SIGTERM")
await Promise.all(helpers.map((stop) => stop()))

// ---- the report ---------------------------------------------------------------

function overloadReport() {
  if (overloadResults.size === 0) return ""
  const medianFigures = (figures: ReadonlyArray<OverloadFigures>) => ({
    goodput: median(figures.map((figure) => figure.goodput)),
    p99: median(figures.map((figure) => figure.p99)),
    statuses: figures.at(-1)!.statuses,
    timeouts: figures.reduce((sum, figure) => sum + figure.timeouts, 0),
    errors: figures.reduce((sum, figure) => sum + figure.errors, 0)
  })
  return `
Overload (3 reads of a task for each create; each connection sends its next request as soon as it has its answer;
goodput: 2xx answers per second; p99 of the 2xx answers only; the last round's statuses at 4,000 connections):

| server | goodput at 32 | goodput at 4,000 | 4,000 / 32 | p99 ms at 32 | p99 ms at 4,000 | statuses at 4,000 | timeouts, resets |
|---|---|---|---|---|---|---|---|
${
    [...overloadResults].map(([server, { at32, at4000 }]) => {
      const [low, high] = [medianFigures(at32), medianFigures(at4000)]
      return `| ${server.name} | ${fixed(low.goodput)} | ${fixed(high.goodput)} | ${ratio(high.goodput, low.goodput)} | ` +
        `${fixed(low.p99, 1)} | ${fixed(high.p99, 1)} | ${JSON.stringify(high.statuses)} | ${high.timeouts}, ${high.errors} |`
    }).join("\n")
  }
`
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`
const service = pairs[0]!.results
const fixed = (n: number, digits = 0) => n.toFixed(digits)
const cpu = cpus()[0]?.model ?? "unknown CPU"
console.log(`
${rows.toLocaleString("en")} rows; wrk -t1 -c${connections}, ${duration} s per run after ${warmup} s of warm-up${
  rounds > 1 ? `, medians of ${rounds} rounds` : ""
};
Node ${process.versions.node}; ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB.
Ratios are of the first server to the second, its baseline (throughput: higher is better; latency, CPU,
memory: lower is better); figures in parentheses are the baseline's.
${
  pairs.map(({ results, title }) => `
${title}:

| scenario | req/s | ratio | p50 ms | p99 ms | p99 ratio | CPU µs/req | CPU ratio | non-2xx |
|---|---|---|---|---|---|---|---|---|
${
    results.map(({ baseline: b, name, subject: s }) =>
      `| ${name} | ${fixed(s.rps)} (${fixed(b.rps)}) | ${ratio(s.rps, b.rps)} | ${fixed(s.p50, 2)} (${fixed(b.p50, 2)}) | ` +
      `${fixed(s.p99, 2)} (${fixed(b.p99, 2)}) | ${ratio(s.p99, b.p99)} | ${fixed(s.cpuUsPerRequest)} (${
        fixed(b.cpuUsPerRequest)
      }) | ${ratio(s.cpuUsPerRequest, b.cpuUsPerRequest)} | ${s.errors} (${b.errors}) |`
    ).join("\n")
  }`).join("\n")
}

| process | start-up to first 200 | idle RSS | peak RSS |
|---|---|---|---|
${
  servers.map((server) =>
    `| ${server.name} | ${fixed(server.startupMs)} ms | ${fixed(server.idleRssMb)} MB | ${fixed(server.peakRssMb)} MB |`
  ).join("\n")
}

${overloadReport()}
${
  service.length === allScenarios.length
    ? `Deep page / first page (service): ${
      ratio(service[2]!.subject.cpuUsPerRequest, service[1]!.subject.cpuUsPerRequest)
    } CPU, ${ratio(service[1]!.subject.rps, service[2]!.subject.rps)} time per request.`
    : ""
}`)
