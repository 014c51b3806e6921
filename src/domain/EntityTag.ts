import type { Task } from "./Task.ts"

// A task's entity tag is its updated_at, which moves on every change and only
// then: two representations of a task differ exactly when their tags do.
export const entityTagOf = (task: Pick<Task, "updated_at">): string => `"${task.updated_at}"`

const tagPattern = /(W\/)?"([^"]*)"/g
const timestampPattern = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** What an `If-Match` or `If-None-Match` header asks for: any version, or some of them. */
export type Versions = "any" | ReadonlyArray<string>

/**
 * The `updated_at` values an `If-Match` / `If-None-Match` header names.
 * `If-Match` compares strongly (RFC 9110 §13.1.1), so it ignores weak tags;
 * `If-None-Match` compares weakly and takes them.
 */
export const parseVersions = (header: string, comparison: "strong" | "weak"): Versions => {
  if (header.trim() === "*") return "any"
  const versions: Array<string> = []
  for (const [, weak, value] of header.matchAll(tagPattern)) {
    if (weak !== undefined && comparison === "strong") continue
    if (value !== undefined && timestampPattern.test(value)) versions.push(value)
  }
  return versions
}

export const matches = (versions: Versions, task: Pick<Task, "updated_at">) =>
  versions === "any" || versions.includes(task.updated_at)
