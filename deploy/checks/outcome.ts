import { readdirSync } from "node:fs"
import { join, relative } from "node:path"

/** What one check says about one file: fine, wrong (with each problem), or not checked here. */
export interface Outcome {
  readonly file: string
  readonly status: "ok" | "failed" | "skipped"
  readonly detail: string
  readonly problems: ReadonlyArray<string>
}

export const ok = (file: string, detail: string): Outcome => ({ file, status: "ok", detail, problems: [] })

export const failed = (file: string, problems: ReadonlyArray<string>): Outcome => ({
  file,
  status: "failed",
  detail: `${problems.length} problem${problems.length === 1 ? "" : "s"}`,
  problems
})

export const skipped = (file: string, detail: string): Outcome => ({ file, status: "skipped", detail, problems: [] })

/** Every file under `directory` whose name ends with one of `extensions`, in a stable order. */
export const filesUnder = (directory: string, extensions: ReadonlyArray<string>): Array<string> =>
  readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && extensions.some((extension) => entry.name.endsWith(extension)))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()

export const shown = (root: string, file: string) => relative(root, file) || file
