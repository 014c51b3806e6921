// npm run bench:instructions [-- --rows 10000 --scenario get,list,patch,post --warmup 1500 --requests 1000
//                               --concurrency 8 --valgrinds 1 --floor --features --against DIR --keep]
//
// Counts the instructions each request costs, with valgrind's callgrind:
// counts of one build repeat to within a few per cent (GET by id, one
// valgrind at a time: the baseline 355k-384k over ten runs), where wall-clock
// figures on this machine vary by 25% between runs. Every server runs under
// callgrind with instrumentation off until it has answered --warmup requests
// (start-up is not what a request costs), then counts --requests requests at
// a fixed concurrency over keep-alive connections. Counts include V8's
// background threads, which callgrind runs serialised: after the default
// warm-up V8 is still optimising, and its compilers (TurboFan, Maglev) are
// about a sixth of the service's count and a quarter of the baseline's
// (--keep, then callgrind_annotate --inclusive=yes).
//
// Each server also runs once without valgrind, with --trace-gc-nvp, to give
// the bytes a request allocates and the bytes it promotes to the old
// generation: per-request garbage and promotion turned out to be most of the
// service's CPU beyond the baseline's. The service's promotion has varied
// several-fold between runs, once twentyfold at a full collection, so for a
// window that holds one the notes give the figures on either side of it.
//
// --floor adds the HttpApi floor and its node:http counterpart (as in
// bench/run.ts); --against DIR the build of another checkout; --features the
// service with each of its optional features off in turn (and all of them),
// so that each one's cost is its difference to the full service. --keep
// leaves callgrind's files in place, for callgrind_annotate, and names them.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import * as http from "node:http"
import { cpus, tmpdir, userInfo } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs, promisify } from "node:util"
import { freePort, nodeFlags, root, seed, serverEnv } from "./Seed.ts"

const { values: options } = parseArgs({
  options: {
    rows: { type: "string", default: "10000" },
    scenario: { type: "string", multiple: true, default: ["get"] },
    warmup: { type: "string", default: "1500" },
    requests: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "8" },
    valgrinds: { type: "string", default: "1" },
    floor: { type: "boolean", default: false },
    features: { type: "boolean", default: false },
    against: { type: "string" },
    keep: { type: "boolean", default: false }
  }
})
const rows = Number(options.rows)
const warmup = Number(options.warmup)
const requests = Number(options.requests)
const concurrency = Number(options.concurrency)
// Enough requests at a load high enough for many scavenges, each of which
// counts what was allocated since the one before: a window of few would
// be off by up to one scavenge's worth.
const allocationRequests = requests * 5
const allocationConcurrency = 32
// One valgrind at a time unless asked: counts do depend on the load. Two at
// once (on two cores) gave the baseline 401k-410k instructions per GET by id
// over three runs; one at a time, 355k-384k over ten. --valgrinds 2 halves
// the time, for a rough look.
const valgrinds = Number(options.valgrinds)

const valgrindVersion = (() => {
  try {
    return execFileSync("valgrind", ["--version"], { encoding: "utf8" }).trim()
  } catch {
    console.error("The benchmark needs valgrind: apt-get install valgrind")
    process.exit(1)
  }
})()

// ---- the requests -------------------------------------------------------------

interface Request {
  readonly method: string
  readonly path: string
  readonly body?: string
}

interface Scenario {
  readonly name: string
  /** The nth request of a run. */
  readonly request: (n: number) => Request
}

const statuses = ["pending", "in_progress", "completed"]
const makeScenarios = (ids: ReadonlyArray<string>): Record<string, Scenario> => ({
  get: { name: "GET /tasks/{id}", request: (n) => ({ method: "GET", path: `/tasks/${ids[n % ids.length]}` }) },
  list: { name: "GET /tasks?limit=50", request: () => ({ method: "GET", path: "/tasks?limit=50" }) },
  // 5,000 ids is not a multiple of 3: a task met again moves to another status,
  // so that every PATCH writes.
  patch: {
    name: "PATCH /tasks/{id}",
    request: (n) => ({
      method: "PATCH",
      path: `/tasks/${ids[n % ids.length]}`,
      body: JSON.stringify({ status: statuses[n % statuses.length] })
    })
  },
  post: {
    name: "POST /tasks",
    request: (n) => ({ method: "POST", path: "/tasks", body: JSON.stringify({ title: `Task ${n}` }) })
  }
})

/** Runs f(0) to f(count - 1), at most `width` at a time. */
const inParallel = async (count: number, width: number, f: (n: number) => Promise<void>) => {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(width, count) }, async () => {
    while (next < count) await f(next++)
  }))
}

/** One server's client: the same keep-alive connections for the warm-up and the measured requests. */
const makeClient = (url: string, scenario: Scenario, token: string, width: number) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: width })
  let sent = 0
  const send = ({ body, method, path }: Request) =>
    new Promise<number>((resolve) => {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` }
      if (body !== undefined) {
        headers["content-type"] = "application/json"
        headers["content-length"] = String(Buffer.byteLength(body))
      }
      http.request(url + path, { agent, method, headers }, (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      }).on("error", () => resolve(0)).end(body)
    })
  return {
    /** Sends `count` requests, `width` at a time; resolves to how many did not answer 2xx. */
    drive: async (count: number) => {
      let failures = 0
      await inParallel(count, width, async () => {
        const status = await send(scenario.request(sent++))
        if (status < 200 || status > 299) failures++
      })
      return failures
    },
    close: () => agent.destroy()
  }
}

// ---- the servers --------------------------------------------------------------

interface Variant {
  readonly name: string
  /** The script node runs, relative to cwd. */
  readonly entry: string
  readonly cwd: string
  readonly env: Record<string, string>
  /** The variant its instructions are divided by. */
  readonly baseline?: Variant
}

const service: Variant = { name: "service", entry: "dist/start.js", cwd: root, env: {} }
const baseline: Variant = { name: "baseline (node:http + pg)", entry: "bench/baseline-server.ts", cwd: root, env: {} }
const variants: Array<Variant> = [{ ...service, baseline }, baseline]
if (options.floor) {
  const nodeFloor: Variant = { name: "node:http floor", entry: "bench/baseline-server.ts", cwd: root, env: { FLOOR: "1" } }
  variants.push({ name: "HttpApi floor", entry: "bench/floor-server.ts", cwd: root, env: {}, baseline: nodeFloor }, nodeFloor)
}
if (options.against !== undefined) {
  variants.push({ name: `the build in ${options.against}`, entry: "dist/start.js", cwd: resolve(options.against), env: {}, baseline })
}
const features: ReadonlyArray<Variant> = options.features
  ? [
    { METRICS: "false" },
    { LOG_LEVEL: "warning" },
    { RATE_LIMIT_REQUESTS: "0" },
    { METRICS: "false", LOG_LEVEL: "warning", RATE_LIMIT_REQUESTS: "0" }
  ].map((env) => ({
    ...service,
    name: `service, ${Object.entries(env).map(([key, value]) => `${key}=${value}`).join(" ")}`,
    env,
    baseline
  }))
  : []
variants.push(...features)

// Children still running when this process ends, however it ends.
const children = new Set<ChildProcess>()
process.on("exit", () => children.forEach((child) => child.kill("SIGKILL")))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const health = (url: string) =>
  new Promise<number>((resolve) => {
    http.get(`${url}/health`, { agent: false }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    }).on("error", () => resolve(0))
  })

interface Running {
  readonly url: string
  readonly child: ChildProcess
  readonly stop: () => Promise<void>
}

/** Starts `command args` as the variant's server, and resolves once it answers /health. */
const startServer = async (
  variant: Variant,
  databaseUrl: string,
  command: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  /** Where its stdout goes: nowhere, or a file open for writing. */
  stdout: "ignore" | number
): Promise<Running> => {
  const port = await freePort()
  const child = spawn(command, args, {
    cwd: variant.cwd,
    env: { ...serverEnv(databaseUrl, port), ...env, ...variant.env },
    stdio: ["ignore", stdout, "pipe"]
  })
  children.add(child)
  // Kept for the message if it fails: valgrind's own lines are many.
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const started = performance.now()
  while ((await health(url)) !== 200) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${variant.name} exited (${child.exitCode ?? child.signalCode}) before it served:\n${stderr}`)
    }
    if (performance.now() - started > 300_000) throw new Error(`${variant.name} did not start in 300 s:\n${stderr}`)
    // Polled slowly: under valgrind each poll takes from the start-up it waits for.
    await sleep(250)
  }
  const stop = async () => {
    child.kill("SIGTERM")
    // Callgrind writes its last file as the process ends; a server that
    // hangs in its drain has none worth waiting for (counting was off).
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    await exited
    clearTimeout(timer)
    children.delete(child)
  }
  return { url, child, stop }
}

// ---- instructions -------------------------------------------------------------

interface Counted {
  readonly instructions: number
  readonly failures: number
  readonly warmupFailures: number
}

// The pipe callgrind_control reaches valgrind through is named after USER
// (or LOGNAME) and HOST (or HOSTNAME) as each process sees them: both see
// the same user, and neither a host.
const user = userInfo().username
const vgdbEnv = { USER: user, LOGNAME: user }
const controlEnv = (() => {
  const { HOST: _host, HOSTNAME: _hostname, ...env } = process.env
  return { ...env, ...vgdbEnv }
})()
const callgrindControl = (args: ReadonlyArray<string>, pid: number) =>
  promisify(execFile)("callgrind_control", [...args, String(pid)], { env: controlEnv })

/**
 * Each file's `totals:` (its part's count; `summary:` only where it has no
 * totals, since in a file with both they are the same count, or summary is 0).
 */
const callgrindTotal = (dir: string) =>
  readdirSync(dir).reduce((sum, file) => {
    const text = readFileSync(join(dir, file), "utf8")
    const count = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text)
    return sum + Number(count?.[1] ?? 0)
  }, 0)

const countInstructions = async (
  variant: Variant,
  scenario: Scenario,
  { databaseUrl, token }: { databaseUrl: string; token: string }
): Promise<Counted> => {
  const dir = mkdtempSync(join(tmpdir(), "task-api-callgrind-"))
  try {
    const server = await startServer(variant, databaseUrl, "valgrind", [
      "--tool=callgrind",
      // Not --collect-atstart=no: `-i on` would then still collect nothing.
      "--instr-atstart=no",
      `--callgrind-out-file=${join(dir, "callgrind.out")}`,
      process.execPath,
      ...nodeFlags,
      variant.entry
    ], vgdbEnv, "ignore")
    const pid = server.child.pid!
    const client = makeClient(server.url, scenario, token, concurrency)
    let failures = 0
    let warmupFailures = 0
    try {
      warmupFailures = await client.drive(warmup)
      await callgrindControl(["-i", "on"], pid)
      failures = await client.drive(requests)
      await callgrindControl(["-i", "off"], pid)
      await callgrindControl(["-d"], pid)
    } finally {
      client.close()
      await server.stop()
    }
    return { instructions: callgrindTotal(dir) / requests, failures, warmupFailures }
  } finally {
    if (options.keep) console.log(`${variant.name}, ${scenario.name}: callgrind's files are in ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

// ---- allocation ---------------------------------------------------------------

interface Allocated {
  readonly allocatedBytes: number
  readonly promotedBytes: number
  readonly collections: number
  /**
   * Bytes promoted per request by the scavenges before the window's first full
   * collection and by those after it (without its own, a one-off promotion of
   * the whole young generation that a short part could not carry).
   */
  readonly promotedAroundFull?: readonly [number, number]
  readonly failures: number
  readonly warmupFailures: number
}

interface Gc {
  readonly kind: string
  readonly allocated: number
  readonly promoted: number
}

const nvpField = (line: string, name: string) => Number(new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1] ?? 0)
const parseGcs = (text: string): Array<Gc> =>
  text.split("\n").flatMap((line) => {
    const kind = / gc=(\S+)/.exec(line)?.[1]
    return kind === undefined ? [] : [{ kind, allocated: nvpField(line, "allocated"), promoted: nvpField(line, "promoted") }]
  })
const sumOf = (gcs: ReadonlyArray<Gc>, field: "allocated" | "promoted") => gcs.reduce((sum, gc) => sum + gc[field], 0)

/**
 * Every collection counts, full ones (gc=mc) with the scavenges (gc=s): each
 * line's `allocated` is what was allocated since the collection before it,
 * and a full collection promotes the young generation's survivors itself,
 * leaving none for the scavenge after it.
 */
const perRequest = (during: ReadonlyArray<Gc>, requests: number) => {
  const allocated = sumOf(during, "allocated")
  const full = during.findIndex((gc) => gc.kind !== "s")
  const [before, after] = [during.slice(0, Math.max(full, 0)), during.slice(full + 1)]
  // Requests on either side apportioned by the bytes allocated there: one
  // request allocates much what the next does.
  const promotedPerRequest = (gcs: ReadonlyArray<Gc>) =>
    sumOf(gcs, "promoted") / ((requests * sumOf(gcs, "allocated")) / allocated)
  return {
    allocatedBytes: allocated / requests,
    promotedBytes: sumOf(during, "promoted") / requests,
    collections: during.length,
    ...(full < 1 || after.length === 0 ? {} : {
      promotedAroundFull: [promotedPerRequest(before), promotedPerRequest(after)] as const
    })
  }
}

const measureAllocation = async (
  variant: Variant,
  scenario: Scenario,
  { databaseUrl, token }: { databaseUrl: string; token: string }
): Promise<Allocated> => {
  // A file, not a pipe: the server writes to it as to /dev/null in
  // bench/run.ts, without waiting on this process to read.
  const dir = mkdtempSync(join(tmpdir(), "task-api-gc-"))
  const file = join(dir, "stdout")
  const fd = openSync(file, "w")
  try {
    const server = await startServer(
      variant,
      databaseUrl,
      process.execPath,
      [...nodeFlags, "--trace-gc-nvp", variant.entry],
      {},
      fd
    )
    const client = makeClient(server.url, scenario, token, allocationConcurrency)
    try {
      const warmupFailures = await client.drive(warmup)
      // V8 writes each line as its collection ends: the file's length before
      // and after the measured requests bounds the collections made during them.
      await sleep(200)
      const start = statSync(file).size
      const failures = await client.drive(allocationRequests)
      await sleep(200)
      const end = statSync(file).size
      const during = parseGcs(readFileSync(file).subarray(start, end).toString())
      return { ...perRequest(during, allocationRequests), failures, warmupFailures }
    } finally {
      client.close()
      await server.stop()
    }
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---- the run ------------------------------------------------------------------

const scenarioKeys = options.scenario.flatMap((value) => value.split(",")).map((key) => key.trim())
  .filter((key) => key !== "")
const seeded = await seed(rows)
const scenarios = makeScenarios(readFileSync(seeded.idsFile, "utf8").split("\n").filter((id) => id !== ""))
for (const key of scenarioKeys) {
  if (!(key in scenarios)) {
    console.error(`Unknown scenario ${key}: one of ${Object.keys(scenarios).join(", ")}`)
    process.exit(1)
  }
}

interface Measured {
  readonly variant: Variant
  readonly counted: Counted
  readonly allocated: Allocated
}

const results = new Map<string, Array<Measured>>()
const jobs = scenarioKeys.flatMap((key) => variants.map((variant) => ({ key, variant })))

// One at a time and before the valgrinds: how much survives a scavenge
// depends on how long requests stay in flight, which a busy CPU stretches.
const allocations = new Map<(typeof jobs)[number], Allocated>()
for (const job of jobs) {
  const allocated = await measureAllocation(job.variant, scenarios[job.key]!, seeded)
  allocations.set(job, allocated)
  console.log(
    `${scenarios[job.key]!.name}, ${job.variant.name}: ${(allocated.allocatedBytes / 1024).toFixed(1)} KB allocated, ` +
      `${allocated.promotedBytes.toFixed(0)} bytes promoted per request`
  )
}

// In the order of the table, so that the first rows come first.
await inParallel(jobs.length, valgrinds, async (n) => {
  const job = jobs[n]!
  const started = performance.now()
  const counted = await countInstructions(job.variant, scenarios[job.key]!, seeded)
  console.log(
    `${scenarios[job.key]!.name}, ${job.variant.name}: ${(counted.instructions / 1000).toFixed(1)}k instructions ` +
      `per request (${((performance.now() - started) / 1000).toFixed(0)} s)`
  )
  const list = results.get(job.key) ?? []
  list.push({ variant: job.variant, counted, allocated: allocations.get(job)! })
  results.set(job.key, list)
})

// ---- the report ---------------------------------------------------------------

const quote = (arg: string) => /^[\w./=,:@-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`
const k = (instructions: number) => `${(instructions / 1000).toFixed(1)}k`
const signed = (n: number, text: string) => `${n >= 0 ? "+" : "−"}${text}`

const table = (measured: ReadonlyArray<Measured>) => {
  const of = (variant: Variant) => measured.find((m) => m.variant === variant)!
  return `| server | instructions/request | ratio to the baseline | KB allocated/request | bytes promoted/request |
|---|---|---|---|---|
${
    measured.map(({ allocated, counted, variant }) =>
      `| ${variant.name} | ${k(counted.instructions)} | ${
        variant.baseline === undefined
          ? "1.00x"
          : `${(counted.instructions / of(variant.baseline).counted.instructions).toFixed(2)}x`
      } | ${(allocated.allocatedBytes / 1024).toFixed(1)} | ${allocated.promotedBytes.toFixed(0)} |`
    ).join("\n")
  }`
}

const featureTable = (measured: ReadonlyArray<Measured>) => {
  const full = measured.find((m) => m.variant.name === service.name)!
  return `| variant | instructions/request | difference to the full service | KB allocated/request (difference) | bytes promoted/request (difference) |
|---|---|---|---|---|
${
    measured.filter((m) => m === full || features.includes(m.variant)).map(({ allocated, counted, variant }) => {
      const difference = counted.instructions - full.counted.instructions
      const kb = (allocated.allocatedBytes - full.allocated.allocatedBytes) / 1024
      const promoted = allocated.promotedBytes - full.allocated.promotedBytes
      return `| ${variant.name} | ${k(counted.instructions)} | ${signed(difference, k(Math.abs(difference)))} (${
        signed(difference, `${Math.abs((100 * difference) / full.counted.instructions).toFixed(1)}%`)
      }) | ${(allocated.allocatedBytes / 1024).toFixed(1)} (${signed(kb, Math.abs(kb).toFixed(1))}) | ${
        allocated.promotedBytes.toFixed(0)
      } (${signed(promoted, Math.abs(promoted).toFixed(0))}) |`
    }).join("\n")
  }`
}

const notes = (measured: ReadonlyArray<Measured>) => {
  const failed = measured.filter(({ allocated: a, counted: c }) =>
    a.failures + a.warmupFailures + c.failures + c.warmupFailures > 0
  ).map(({ allocated: a, counted: c, variant }) =>
    `${variant.name}: ${c.failures} of ${requests} measured (${c.warmupFailures} of ${warmup} warming up) under callgrind, ` +
    `${a.failures} of ${allocationRequests} (${a.warmupFailures}) without`
  )
  const split = measured.filter((m) => m.allocated.promotedAroundFull !== undefined).map(({ allocated, variant }) =>
    `${variant.name} ${allocated.promotedAroundFull!.map((bytes) => bytes.toFixed(0)).join(" and ")}`
  )
  return [
    failed.length === 0 ? "Every request answered 2xx." : `Not 2xx (or no answer): ${failed.join("; ")}.`,
    `Collections counted: ${measured.map((m) => `${m.variant.name} ${m.allocated.collections}`).join(", ")}.`,
    ...(split.length === 0 ? [] : [
      `Bytes promoted per request by the scavenges before the window's first full collection, and after it: ${
        split.join(", ")
      }.`
    ])
  ].join("\n")
}

const order = (measured: ReadonlyArray<Measured>) =>
  variants.map((variant) => measured.find((m) => m.variant === variant)!)

console.log(`
npm run bench:instructions --${process.argv.slice(2).map((arg) => ` ${quote(arg)}`).join("")}

${rows.toLocaleString("en")} rows. Instructions (callgrind, every thread): ${requests} requests at concurrency ${concurrency}
after ${warmup} of warm-up. Allocation (no valgrind, --trace-gc-nvp, every collection during the measured requests):
${allocationRequests} requests at concurrency ${allocationConcurrency} after ${warmup} of warm-up; 1 KB = 1024 bytes.
Node ${process.versions.node}, ${nodeFlags.join(" ")}; ${valgrindVersion}; ${cpus().length} x ${
  cpus()[0]?.model ?? "unknown CPU"
}.${options.floor ? "\nThe HttpApi floor's ratio is to the node:http floor (the baseline with FLOOR=1), as in npm run bench." : ""}
${
  scenarioKeys.map((key) => {
    const measured = order(results.get(key)!)
    return `
${scenarios[key]!.name}:

${table(measured)}
${features.length === 0 ? "" : `\nEach feature's cost is what turning it off takes away:\n\n${featureTable(measured)}\n`}
${notes(measured)}`
  }).join("\n")
}`)
