import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { startDaemon } from "./Daemon.ts"
import { freePort } from "./ServerProcess.ts"

const deploy = fileURLToPath(new URL("../../deploy/", import.meta.url))

/**
 * PgBouncer with deploy/pgbouncer/pgbouncer.ini, included unchanged from the
 * wrapper its header comment describes, in front of `database`, in the
 * file's transaction pooling or in `poolMode`. Its log goes to stderr, which
 * the daemon collects, so that PgBouncer (as `nobody` when run by root)
 * needs to write nowhere; its two files go in a directory of its own, gone
 * when it stops.
 */
export const startPgbouncer = async (
  databaseUrl: string,
  options: {
    readonly poolMode?: "transaction" | "session"
    /** Each transaction on the next server connection, not the last one freed: what a busy pooler does anyway. */
    readonly roundRobin?: boolean
  } = {}
) => {
  const target = new URL(databaseUrl)
  const user = decodeURIComponent(target.username || "postgres")
  const password = decodeURIComponent(target.password)
  const port = await freePort()
  // Readable by anyone: as root, PgBouncer drops to `nobody`.
  const scratch = mkdtempSync(join(tmpdir(), "task-api-pgbouncer-"))
  chmodSync(scratch, 0o755)
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true })
  writeFileSync(join(scratch, "userlist.txt"), `"${user}" "${password}"\n`, { mode: 0o644 })
  writeFileSync(
    join(scratch, "pgbouncer.ini"),
    [
      `%include ${join(deploy, "pgbouncer", "pgbouncer.ini")}`,
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      // Clients get in unchecked (on 127.0.0.1 only); PgBouncer's own login to
      // PostgreSQL takes the password from the auth file, if the URL has one.
      "auth_type = trust",
      `auth_file = ${join(scratch, "userlist.txt")}`,
      "unix_socket_dir =",
      "logfile =",
      "pidfile =",
      // The same user may read PgBouncer's own console (SHOW CONFIG).
      `admin_users = ${user}`,
      ...(options.poolMode === undefined ? [] : [`pool_mode = ${options.poolMode}`]),
      ...(options.roundRobin ? ["server_round_robin = 1"] : []),
      "[databases]",
      `tasks = host=${target.hostname} port=${target.port || "5432"} dbname=${target.pathname.slice(1)}`
    ].join("\n") + "\n",
    { mode: 0o644 }
  )
  const asRoot = process.getuid?.() === 0
  const daemon = await startDaemon(
    "pgbouncer",
    [...(asRoot ? ["-u", "nobody"] : []), join(scratch, "pgbouncer.ini")],
    port,
    { debianPackage: "pgbouncer" }
  ).catch((error: unknown) => {
    removeScratch()
    throw error
  })
  const url = new URL(`postgres://127.0.0.1:${port}/tasks`)
  url.username = target.username
  url.password = target.password
  return {
    ...daemon,
    url: url.href,
    stop: async () => {
      await daemon.stop()
      removeScratch()
    }
  }
}

