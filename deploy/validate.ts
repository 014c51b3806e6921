// npm run lint:deploy, or: node deploy/validate.ts [directory]
//
// Checks the deployment files in `directory` (default: this folder), each
// against what reads it: the Kubernetes manifests against the Kubernetes
// schemas (unknown fields too), compose.yaml against the Compose
// specification and dclint's rules, haproxy.cfg with `haproxy -c`, and
// pgbouncer.ini by starting PgBouncer with it for a moment. Exits 1 on any
// problem; a check whose program is not installed is skipped and says so.
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { checkCompose } from "./checks/compose.ts"
import { checkHaproxy } from "./checks/haproxy.ts"
import { checkKubernetes } from "./checks/kubernetes.ts"
import type { Outcome } from "./checks/outcome.ts"
import { checkPgbouncer } from "./checks/pgbouncer.ts"

const directory = resolve(process.argv[2] ?? fileURLToPath(new URL(".", import.meta.url)))
if (!existsSync(directory)) {
  console.error(`${directory}: no such directory`)
  process.exit(2)
}
const root = resolve(directory, "..")

const outcomes: Array<Outcome> = [
  ...await checkKubernetes(root, join(directory, "kubernetes")),
  ...checkCompose(root, directory),
  ...checkHaproxy(root, directory),
  ...await checkPgbouncer(root, directory)
]

for (const outcome of outcomes) {
  console.log(`${outcome.status.padEnd(7)} ${outcome.file}: ${outcome.detail}`)
  for (const problem of outcome.problems) console.log(`          ${problem}`)
}
const failures = outcomes.filter((outcome) => outcome.status === "failed").length
const skips = outcomes.filter((outcome) => outcome.status === "skipped").length
console.log(
  `${outcomes.length} files: ${outcomes.length - failures - skips} ok, ${failures} failed, ${skips} skipped`
)
process.exitCode = failures > 0 ? 1 : 0
