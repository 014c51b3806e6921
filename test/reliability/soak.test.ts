import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultUser, tokenFor } from "../support/Auth.ts"
import { createTask } from "../support/Http.ts"
import { startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { asUsers } from "../support/Targets.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"

// SOAK_SECONDS (default 300) of closed-loop load from wrk, which keeps the
// server at its maximum. The heap after a full GC is taken at the first
// minute (or a fifth of the run) and at the end.
const seconds = Number(process.env.SOAK_SECONDS ?? 300)
const firstSampleAt = Math.min(60, seconds / 5)
const root = fileURLToPath(new URL("../..", import.meta.url))

let database: TestDatabase
let server: ServerProcess
beforeAll(async () => {
  database = await createTestDatabase()
  server = await startServer({ ...database.serviceEnv, LOG_LEVEL: "warning" }, {
    // The heap flags of `npm start`, so that the soak runs what is shipped.
    nodeArgs: [
      "--expose-gc",
      "--require",
      join(root, "test/support/heap-probe.cjs"),
      "--max-semi-space-size=8",
      "--max-old-space-size=256"
    ]
  })
})
afterAll(async () => {
  await server?.stop()
  await database?.drop()
})

const heapAfterGc = async () => {
  const before = server.output.length
  server.child.kill("SIGUSR2")
  for (let i = 0; i < 100; i++) {
    const line = server.output.slice(before).find((entry) => entry.includes("heap after gc"))
    if (line !== undefined) return (JSON.parse(line) as { heapUsed: number }).heapUsed
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error("The server printed no heap figure")
}

describe(`a ${seconds} s soak at full load`, () => {
  it("answers every request, and its heap after GC stays flat", async () => {
    const target = asUsers((path, init) => fetch(server.url + path, init))
    const ids: Array<string> = []
    for (let i = 0; i < 200; i++) ids.push((await createTask(target as never, { title: `seed ${i}` })).id)
    const idsFile = join(tmpdir(), `task-api-soak-ids-${process.pid}.txt`)
    writeFileSync(idsFile, ids.join("\n") + "\n")

    const samples: Array<number> = []
    const first = setTimeout(async () => samples.push(await heapAfterGc()), firstSampleAt * 1000)
    const { stdout: output } = await promisify(execFile)(
      "wrk",
      ["-t1", "-c16", `-d${seconds}s`, "-H", `Authorization: Bearer ${tokenFor(defaultUser)}`, "-s",
        join(root, "bench/wrk/mixed.lua"), server.url],
      { encoding: "utf8", env: { ...process.env, BENCH_IDS: idsFile } }
    )
    clearTimeout(first)
    samples.push(await heapAfterGc())

    const requests = Number(/(\d+) requests in/.exec(output)![1])
    const errors = /Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? "0"
    const socketErrors = /Socket errors: (.*)/.exec(output)?.[1]
    // wrk's latency line (average, deviation, max): what a stall, if any, lasted.
    const latency = /Latency\s+(\S+)\s+(\S+)\s+(\S+)/.exec(output)
    const [atFirst, atEnd] = samples.map((bytes) => bytes / 2 ** 20) as [number, number]
    console.log(
      `soak: ${requests} requests in ${seconds} s (${(requests / seconds).toFixed(0)}/s), non-2xx ${errors}, ` +
        `latency average ${latency?.[1]}, max ${latency?.[3]}, socket errors ${socketErrors ?? "none"}, ` +
        `heap after GC ${atFirst.toFixed(1)} MB at ${firstSampleAt} s -> ${atEnd.toFixed(1)} MB at the end`
    )
    expect(errors).toBe("0")
    expect(socketErrors).toBeUndefined()
    expect(samples).toHaveLength(2)
    expect(atEnd).toBeLessThanOrEqual(atFirst * 1.1)
  })
})
