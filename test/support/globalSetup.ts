import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, rmSync, writeFileSync } from "node:fs"

// The real infrastructure some tests use, from Debian: installed here when
// missing (as CI does), so `npm test` works on a fresh machine of this kind.
const needed: ReadonlyArray<readonly [command: string, pkg: string]> = [
  ["promtool", "prometheus"],
  ["prometheus", "prometheus"],
  ["haproxy", "haproxy"],
  ["pgbouncer", "pgbouncer"],
  ["redis-server", "redis-server"],
  // The GraphQL explorer's browser test drives it with playwright-core.
  ["chromium", "chromium"]
]

const missing = () =>
  [...new Set(needed.filter(([command]) => spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0).map(([, pkg]) => pkg))]

export default function setup() {
  const packages = missing()
  if (packages.length === 0) return
  const canInstall = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get")
  if (!canInstall) {
    console.warn(`Tests that need ${packages.join(", ")} will fail: install them (apt-get install ${packages.join(" ")})`)
    return
  }
  console.log(`Installing ${packages.join(", ")} from Debian for the tests...`)
  // Packages must not start their services here: a policy that forbids it, for the install only.
  const policy = "/usr/sbin/policy-rc.d"
  const ownPolicy = !existsSync(policy)
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 })
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env })
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { stdio: "inherit", env })
  } finally {
    if (ownPolicy) rmSync(policy, { force: true })
  }
}
