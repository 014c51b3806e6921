import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const server = fileURLToPath(new URL("../src/server", import.meta.url))

// The rooms of src/server in the order a request meets them. A room may
// import the rooms after it, never one before it; configuration (the files
// beside the rooms) is for all of them. main.ts alone composes them all.
const rooms = ["http", "access", "tasks", "database", "observability"]

const sourceFiles = (directory: string): Array<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(directory, entry.name)) : entry.name.endsWith(".ts") ? [join(directory, entry.name)] : []
  )

const roomOf = (file: string) => relative(server, file).split("/")[0]!

describe("src/server", () => {
  it("holds the rooms and, beside them, only configuration", () => {
    const entries = readdirSync(server, { withFileTypes: true })
    expect(entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()).toEqual([...rooms].sort())
    expect(entries.filter((entry) => entry.isFile()).map((entry) => entry.name)).toEqual(["AppConfig.ts"])
  })

  it("imports run one way between rooms, down the request path", () => {
    const upward: Array<string> = []
    for (const file of sourceFiles(server)) {
      const from = rooms.indexOf(roomOf(file))
      for (const [, specifier] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
        const target = resolve(dirname(file), specifier!)
        if (!target.startsWith(server + "/")) continue
        const to = rooms.indexOf(roomOf(target))
        if (from >= 0 && to >= 0 && to < from) upward.push(`${relative(server, file)} imports ${relative(server, target)}`)
      }
    }
    expect(upward).toEqual([])
  })
})
