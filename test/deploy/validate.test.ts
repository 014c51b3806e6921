import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { isReachable } from "../support/Reachable.ts"
import { startPgbouncer } from "../support/Pgbouncer.ts"
import { adminUrl } from "../support/TestDatabase.ts"

const deploy = fileURLToPath(new URL("../../deploy", import.meta.url))
const scratch: Array<string> = []
afterAll(() => scratch.forEach((directory) => rmSync(directory, { recursive: true, force: true })))

const validate = (directory: string) =>
  spawnSync(process.execPath, [join(deploy, "validate.ts"), directory], { encoding: "utf8" })

/** A copy of deploy/ in which `edit` has changed one file. */
const copyWith = (file: string, edit: (text: string) => string) => {
  const copy = mkdtempSync(join(tmpdir(), "deploy-"))
  scratch.push(copy)
  cpSync(deploy, copy, { recursive: true })
  const before = readFileSync(join(copy, file), "utf8")
  const after = edit(before)
  expect(after, "the edit changes the file").not.toBe(before)
  writeFileSync(join(copy, file), after)
  return copy
}

describe("npm run lint:deploy (deploy/validate.ts)", () => {
  it("passes the deployment files as they are", () => {
    const run = validate(deploy)
    expect(run.stdout).toMatch(/ 0 failed/)
    expect(run.status, run.stdout + run.stderr).toBe(0)
  })

  it("fails on a field the Deployment's schema does not have, and names it", () => {
    const run = validate(copyWith("kubernetes/deployment.yaml", (text) =>
      text.replace("  revisionHistoryLimit: 5\n", "  revisionHistoryLimit: 5\n  replica: 3\n")))
    expect(run.status).toBe(1)
    expect(run.stdout).toContain("apps/v1 Deployment task-api: unknown field \"spec.replica\"")
    expect(run.stdout).toMatch(/ 1 failed/)
  })

  it("fails on a string where the Deployment needs an integer, and names the field", () => {
    const run = validate(copyWith("kubernetes/deployment.yaml", (text) =>
      text.replace("terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: \"40\"")))
    expect(run.status).toBe(1)
    expect(run.stdout).toContain("spec.template.spec.terminationGracePeriodSeconds: must be integer")
    expect(run.stdout).toMatch(/ 1 failed/)
  })

  it("fails on a compose file with a key the Compose specification does not have, and names it", () => {
    const run = validate(copyWith("compose.yaml", (text) =>
      text.replace("\n  redis:\n", "\n  redis:\n    restart_policy: always\n")))
    expect(run.status).toBe(1)
    expect(run.stdout).toContain("services.redis: unknown key \"restart_policy\"")
    expect(run.stdout).toMatch(/ 1 failed/)
  })
})

const hasPgbouncer = spawnSync("pgbouncer", ["--version"]).error === undefined
const database = new URL(adminUrl)
const trusted = database.password === "" && await isReachable(database.hostname, Number(database.port || 5432))

describe("deploy/pgbouncer/pgbouncer.ini", () => {
  // The wrapper its first comment describes (test/support/Pgbouncer.ts), against the test PostgreSQL.
  it.skipIf(!hasPgbouncer || !trusted)("serves queries, in transaction mode, when included from a wrapper", async () => {
    const pgbouncer = await startPgbouncer(adminUrl)
    try {
      const query = async (databaseName: string, statement: string) => {
        const url = new URL(pgbouncer.url)
        url.pathname = `/${databaseName}`
        const client = new pg.Client({ connectionString: url.href })
        await client.connect()
        try {
          return (await client.query<Record<string, unknown>>(statement)).rows
        } finally {
          await client.end()
        }
      }
      expect(await query("tasks", "select 1 as one")).toEqual([{ one: 1 }])
      const config = await query("pgbouncer", "SHOW CONFIG")
      expect(config.find((row) => row.key === "pool_mode")?.value).toBe("transaction")
    } finally {
      await pgbouncer.stop()
    }
  })
})
