import { spawn, spawnSync } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { failed, ok, type Outcome, shown, skipped } from "./outcome.ts"

interface IniFile {
  readonly sections: ReadonlyArray<string>
  readonly settings: ReadonlyMap<string, string>
  readonly databases: ReadonlyArray<string>
}

// Sections and `key = value` lines, as PgBouncer reads them: `;` and `#`
// start a comment only at the start of a line.
const readIni = (text: string): IniFile => {
  const sections: Array<string> = []
  const settings = new Map<string, string>()
  const databases: Array<string> = []
  for (const line of text.split("\n").map((raw) => raw.trim())) {
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue
    const section = /^\[(.+)\]$/.exec(line)?.[1]
    if (section !== undefined) {
      sections.push(section)
      continue
    }
    const separator = line.indexOf("=")
    if (separator < 0) continue
    const key = line.slice(0, separator).trim()
    const value = line.slice(separator + 1).trim()
    if (sections.at(-1) === "pgbouncer") settings.set(key, value)
    if (sections.at(-1) === "databases") databases.push(key)
  }
  return { sections, settings, databases }
}

// What a check on this machine must change; the comment at the top of
// pgbouncer.ini explains the shape of this wrapper.
const overrides = (port: number, directory: string): Record<string, string> => ({
  listen_addr: "127.0.0.1",
  listen_port: String(port),
  auth_type: "trust",
  auth_file: join(directory, "userlist.txt"),
  unix_socket_dir: "",
  logfile: "",
  pidfile: "",
  admin_users: "lint"
})

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

const adminQuery = async (port: number, query: string): Promise<Array<Record<string, string>>> => {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "lint", database: "pgbouncer" })
  await client.connect()
  try {
    return (await client.query<Record<string, string>>(query)).rows
  } finally {
    await client.end()
  }
}

/**
 * `pgbouncer/pgbouncer.ini` in `directory`. PgBouncer has no dry run, so the
 * check starts it for a moment on a free port, included from a wrapper that
 * overrides what differs here, and asks its admin console whether every
 * setting of the file took effect; then stops it.
 */
export const checkPgbouncer = async (root: string, directory: string): Promise<Array<Outcome>> => {
  const file = join(directory, "pgbouncer", "pgbouncer.ini")
  const name = shown(root, file)
  if (!existsSync(file)) return [failed(name, ["missing"])]
  const ini = readIni(readFileSync(file, "utf8"))
  if (ini.sections.at(-1) !== "pgbouncer") {
    return [failed(name, ["the file must end with its [pgbouncer] section, which a wrapper's overrides continue"])]
  }
  const version = spawnSync("pgbouncer", ["--version"], { encoding: "utf8" })
  if (version.error !== undefined) {
    return [skipped(name, "pgbouncer is not installed (Debian: apt-get install pgbouncer), so it was not started")]
  }
  // Readable by anyone: as root, PgBouncer refuses to run and drops to `nobody`.
  const scratch = mkdtempSync(join(tmpdir(), "pgbouncer-check-"))
  chmodSync(scratch, 0o755)
  const port = await freePort()
  const changed = overrides(port, scratch)
  copyFileSync(file, join(scratch, "pgbouncer.ini"))
  writeFileSync(join(scratch, "userlist.txt"), "\"lint\" \"\"\n")
  writeFileSync(
    join(scratch, "wrapper.ini"),
    [
      `%include ${join(scratch, "pgbouncer.ini")}`,
      ...Object.entries(changed).map(([key, value]) => `${key} = ${value}`)
    ].join("\n") + "\n"
  )
  for (const written of ["pgbouncer.ini", "userlist.txt", "wrapper.ini"]) chmodSync(join(scratch, written), 0o644)
  const asRoot = process.getuid?.() === 0
  const child = spawn("pgbouncer", [...(asRoot ? ["-u", "nobody"] : []), join(scratch, "wrapper.ini")], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  const output: Array<string> = []
  for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk: Buffer) => output.push(String(chunk)))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  try {
    const deadline = Date.now() + 5_000
    while (child.exitCode === null && !(await accepts(port))) {
      if (Date.now() > deadline) return [failed(name, [`PgBouncer did not listen within 5 s: ${output.join("").trim()}`])]
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    if (child.exitCode !== null) {
      await exited
      const errors = output.join("").split("\n").filter((line) => /\b(ERROR|FATAL)\b/.test(line))
      return [failed(name, errors.length > 0 ? errors.map((line) => line.replace(/^.*?\b(ERROR|FATAL)\s+/, "")) : output)]
    }
    const config = new Map((await adminQuery(port, "SHOW CONFIG")).map((row) => [row.key, row.value]))
    const databases = new Set((await adminQuery(port, "SHOW DATABASES")).map((row) => row.name))
    const compared = [...ini.settings].filter(([key]) => !(key in changed))
    const problems = [
      ...compared.flatMap(([key, value]) =>
        config.get(key) === value ? [] : [`${key} is ${config.get(key) ?? "unknown"} in PgBouncer, ${value} in the file`]
      ),
      ...ini.databases.filter((database) => !databases.has(database)).map((database) =>
        `database ${database} is missing in PgBouncer`
      )
    ]
    return problems.length > 0
      ? [failed(name, problems)]
      : [ok(name, `${version.stdout.split("\n")[0]} ran it: its other ${compared.length} settings took effect`)]
  } finally {
    child.kill("SIGTERM")
    await exited
    rmSync(scratch, { recursive: true, force: true })
  }
}
