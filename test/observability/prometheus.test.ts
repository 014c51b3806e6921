import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bearer } from "../support/Auth.ts"
import { freePort, startServer, type ServerProcess } from "../support/ServerProcess.ts"
import { createTestDatabase, type TestDatabase } from "../support/TestDatabase.ts"
import { waitFor } from "../support/Wait.ts"

interface QueryResult {
  readonly status: string
  readonly data: { readonly result: ReadonlyArray<{ readonly metric: Record<string, string>; readonly value: [number, string] }> }
}

// Debian's Prometheus scraping the running server, as an operator's would:
// its query API must then answer the request rate per route.
describe("a real Prometheus scraping the server", () => {
  let database: TestDatabase
  let server: ServerProcess
  let prometheus: ChildProcess
  let prometheusUrl: string
  let directory: string
  const output: Array<string> = []

  beforeAll(async () => {
    database = await createTestDatabase()
    server = await startServer({ ...database.serviceEnv, LOG_LEVEL: "warning" })
    directory = mkdtempSync(join(tmpdir(), "task-api-prometheus-"))
    const port = await freePort()
    prometheusUrl = `http://127.0.0.1:${port}`
    writeFileSync(
      join(directory, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: task-api",
        "    metrics_path: /metrics",
        "    static_configs:",
        `      - targets: ["${new URL(server.url).host}"]`
      ].join("\n")
    )
    prometheus = spawn("prometheus", [
      `--config.file=${join(directory, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(directory, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`
    ], { stdio: ["ignore", "pipe", "pipe"] })
    prometheus.on("error", (error) => output.push(`prometheus did not start (apt-get install prometheus): ${error.message}`))
    for (const stream of [prometheus.stdout!, prometheus.stderr!]) stream.on("data", (chunk) => output.push(String(chunk)))
    await waitFor(() => fetch(`${prometheusUrl}/-/ready`).then((response) => response.ok, () => false), 30_000)
      .catch((error) => {
        throw new Error(`${error}: ${output.join("")}`)
      })
  }, 60_000)

  afterAll(async () => {
    prometheus?.kill("SIGTERM")
    await new Promise((resolve) => (prometheus?.exitCode === null ? prometheus.once("exit", resolve) : resolve(undefined)))
    await server?.stop()
    await database?.drop()
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true })
  })

  const query = async (expression: string) => {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expression)}`)
    return (await response.json()) as QueryResult
  }

  it("graphs the rate of requests per route, and sees the instance up and ready", async () => {
    let sending = true
    const traffic = (async () => {
      while (sending) {
        await fetch(`${server.url}/tasks`, { headers: bearer() }).then((response) => response.arrayBuffer())
        await fetch(`${server.url}/nowhere`).then((response) => response.arrayBuffer())
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    try {
      const rate = "sum by (http_route) (rate(http_server_request_duration_seconds_count[10s]))"
      await waitFor(async () => {
        const routes = (await query(rate)).data.result
        return ["/tasks", "unmatched"].every((route) =>
          routes.some((series) => series.metric.http_route === route && Number(series.value[1]) > 0)
        )
      }, 30_000)
      const routes = (await query(rate)).data.result
      expect(routes.find((series) => series.metric.http_route === "/tasks")).toBeDefined()
      expect((await query("up{job=\"task-api\"}")).data.result.map((series) => series.value[1])).toEqual(["1"])
      expect((await query("task_api_ready")).data.result.map((series) => series.value[1])).toEqual(["1"])
      console.log(`Prometheus: request rate per route ${JSON.stringify(routes.map((series) => [series.metric.http_route, series.value[1]]))}`)
    } finally {
      sending = false
      await traffic
    }
  })
})
