import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { promtool } from "../support/Prometheus.ts"

// The Prometheus configuration in deploy/prometheus, checked and unit-tested
// with promtool (Debian: apt-get install prometheus; CI installs it).
const root = fileURLToPath(new URL("../../", import.meta.url))
const prometheus = join(root, "deploy", "prometheus")
const alerts = join(prometheus, "alerts.yml")
const alertsTest = join(prometheus, "alerts.test.yml")
const config = join(prometheus, "prometheus.yml")

const errorThreshold = "task_api:http_server_request_error_ratio:rate5m > 0.05"

const promtoolHere = (...args: Array<string>) => promtool(args, { cwd: root })

describe("deploy/prometheus", () => {
  it("alerts.yml is valid rules", () => {
    const run = promtoolHere("check", "rules", alerts)
    expect(run.status, run.output).toBe(0)
  })

  it("alerts.yml passes its unit tests, alerts.test.yml", () => {
    const run = promtoolHere("test", "rules", alertsTest)
    expect(run.status, run.output).toBe(0)
  })

  it("prometheus.yml is a valid configuration, with its rules", () => {
    const run = promtoolHere("check", "config", config)
    expect(run.status, run.output).toBe(0)
  })

  it("alerts.test.yml fails when the error-ratio threshold goes from 5% to 50%", () => {
    const rules = readFileSync(alerts, "utf8")
    expect(rules.split(errorThreshold).length - 1, `alerts.yml should hold "${errorThreshold}" once`).toBe(1)
    const directory = mkdtempSync(join(tmpdir(), "task-api-alerts-"))
    try {
      // The tests load "alerts.yml" from their own directory.
      const tests = join(directory, "alerts.test.yml")
      copyFileSync(alertsTest, tests)
      writeFileSync(join(directory, "alerts.yml"), rules)
      const unchanged = promtoolHere("test", "rules", tests)
      expect(unchanged.status, unchanged.output).toBe(0)

      writeFileSync(join(directory, "alerts.yml"), rules.replace(errorThreshold, errorThreshold.replace("0.05", "0.5")))
      const changed = promtoolHere("test", "rules", tests)
      expect(changed.status, changed.output).not.toBe(0)
      expect(changed.output).toContain("alertname: TaskApiHighErrorRatio")
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
