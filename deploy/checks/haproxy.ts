import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { expandedVariables, serviceEnvironment } from "./compose.ts"
import { failed, ok, type Outcome, shown, skipped } from "./outcome.ts"

// What a test on this machine sets: instances on 127.0.0.1, so that names
// resolve and `-dW` (any warning fails) stays meaningful.
const sampleEnvironment: Record<string, string> = {
  TASK_API_1: "127.0.0.1:3001",
  TASK_API_2: "127.0.0.1:3002",
  TASK_API_3: "127.0.0.1:3003",
  HAPROXY_PORT: "8080",
  HAPROXY_STATS_PORT: "8404"
}

/**
 * `haproxy/haproxy.cfg` in `directory`: `haproxy -c` accepts it with no
 * warning, and compose.yaml's haproxy service sets every variable it expands.
 */
export const checkHaproxy = (root: string, directory: string): Array<Outcome> => {
  const file = join(directory, "haproxy", "haproxy.cfg")
  const name = shown(root, file)
  if (!existsSync(file)) return [failed(name, ["missing"])]
  const problems: Array<string> = []
  const used = expandedVariables(readFileSync(file, "utf8"))
  for (const variable of used) {
    if (!(variable in sampleEnvironment)) problems.push(`\${${variable}} is not one of the variables this check sets`)
  }
  const composed = serviceEnvironment(directory, "haproxy")
  if (composed !== undefined) {
    for (const variable of used) {
      if (!(variable in composed)) problems.push(`\${${variable}} is not set by compose.yaml's haproxy service`)
    }
  }
  const run = spawnSync("haproxy", ["-dW", "-c", "-f", file], {
    env: { PATH: process.env.PATH ?? "", ...sampleEnvironment },
    encoding: "utf8"
  })
  if (run.error !== undefined && "code" in run.error && run.error.code === "ENOENT") {
    return problems.length > 0
      ? [failed(name, problems)]
      : [skipped(name, "haproxy is not installed (Debian: apt-get install haproxy), so `haproxy -c` did not run")]
  }
  if (run.status !== 0) {
    problems.push(
      ...`${run.stdout}\n${run.stderr}`.split("\n").filter((line) => /\[(ALERT|WARNING)\]/.test(line))
        .map((line) => line.replace(/^\[(ALERT|WARNING)\]\s*\(\d+\)\s*:\s*/, "$1 "))
    )
    if (problems.length === 0) problems.push(`haproxy -c exited with ${run.status}: ${run.stderr.trim()}`)
  }
  const version = /HAProxy version (\S+)/.exec(spawnSync("haproxy", ["-v"], { encoding: "utf8" }).stdout)?.[1]
  return problems.length > 0
    ? [failed(name, problems)]
    : [ok(name, `haproxy ${version ?? ""} -c, no warning, with ${Object.keys(sampleEnvironment).join(", ")} set`)]
}
