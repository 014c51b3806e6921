import { readFileSync } from "node:fs"
import { parseAllDocuments } from "yaml"
import { failed, filesUnder, ok, type Outcome, shown } from "./outcome.ts"

// kubernetes-models 5 carries the OpenAPI schemas of Kubernetes 1.36,
// compiled into one validator per kind; package.json pins it exactly, so the
// schemas change only when someone means them to.
export const kubernetesVersion = "1.36"

interface Resource {
  validate(): void
}

interface ResourceClass {
  new(data: object): Resource
  readonly apiVersion: string
  readonly kind: string
}

const isResourceClass = (value: unknown): value is ResourceClass =>
  typeof value === "function" && "apiVersion" in value && typeof value.apiVersion === "string" &&
  "kind" in value && typeof value.kind === "string"

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

// "apps/v1" is the module kubernetes-models/apps/v1, "v1" is kubernetes-models/v1.
const apiVersionShape = /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/

const resourceClass = async (apiVersion: string, kind: string): Promise<ResourceClass | undefined> => {
  if (!apiVersionShape.test(apiVersion)) return undefined
  const group: Record<string, unknown> | undefined = await import(`kubernetes-models/${apiVersion}`).catch(() => undefined)
  return Object.values(group ?? {}).find((value): value is ResourceClass =>
    isResourceClass(value) && value.apiVersion === apiVersion && value.kind === kind
  )
}

const childPath = (parent: object, key: string, path: string) =>
  Array.isArray(parent) ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`

// The schemas leave objects open (no additionalProperties: false), so a
// misspelt field passes them. But a validator reads every field its schema
// declares: a field that it never read is one that the schema does not know.
// This view of the resource records each field read through it.
const recordingReads = <T extends object>(value: T, path: string, read: Set<string>): T =>
  new Proxy(value, {
    get(target, key, receiver) {
      const child: unknown = Reflect.get(target, key, receiver)
      if (typeof key !== "string" || !Object.hasOwn(target, key)) return child
      const at = childPath(target, key, path)
      read.add(at)
      return isRecord(child) ? recordingReads(child, at, read) : child
    }
  })

const fieldPaths = (value: unknown, path: string): Array<string> =>
  isRecord(value)
    ? Object.entries(value).flatMap(([key, child]) => {
      const at = childPath(value, key, path)
      return [at, ...fieldPaths(child, at)]
    })
    : []

const within = (path: string, ancestor: string) =>
  path === ancestor || path.startsWith(`${ancestor}.`) || path.startsWith(`${ancestor}[`)

// "/spec/template/spec/containers/0/image" -> "spec.template.spec.containers[0].image"
const dotted = (instancePath: string) =>
  instancePath.split("/").slice(1).reduce(
    (path, segment) => /^[0-9]+$/.test(segment) ? `${path}[${segment}]` : path === "" ? segment : `${path}.${segment}`,
    ""
  )

const schemaErrors = (error: unknown): Array<{ readonly path: string; readonly message: string }> => {
  const errors = isRecord(error) && Array.isArray(error.errors) ? error.errors : []
  if (errors.length === 0) return [{ path: "", message: error instanceof Error ? error.message : String(error) }]
  return errors.filter(isRecord).map((entry) => ({
    path: typeof entry.instancePath === "string" ? dotted(entry.instancePath) : "",
    message: typeof entry.message === "string" ? entry.message : String(entry.keyword)
  }))
}

/** The problems of one manifest document, by the schema of its apiVersion and kind. */
const documentProblems = async (document: unknown): Promise<Array<string>> => {
  if (!isRecord(document) || typeof document.apiVersion !== "string" || typeof document.kind !== "string") {
    return ["not a Kubernetes object: apiVersion and kind must be strings"]
  }
  const { apiVersion, kind } = document
  const Model = await resourceClass(apiVersion, kind)
  if (Model === undefined) return [`no ${kind} in ${apiVersion} in Kubernetes ${kubernetesVersion}`]
  const resource = new Model(document)
  const read = new Set<string>()
  const typeErrors = (() => {
    try {
      recordingReads(resource, "", read).validate()
      return []
    } catch (error) {
      return schemaErrors(error)
    }
  })()
  // Below a value of the wrong type the validator reads nothing: those
  // fields are not unknown, their parent is wrong.
  const unknown: Array<string> = []
  for (const path of fieldPaths(resource, "")) {
    if (read.has(path) || unknown.some((field) => within(path, field))) continue
    if (typeErrors.some((error) => error.path !== "" && within(path, error.path))) continue
    unknown.push(path)
  }
  return [
    ...unknown.map((path) => `unknown field "${path}"`),
    ...typeErrors.map((error) => error.path === "" ? error.message : `${error.path}: ${error.message}`)
  ]
}

const describe = (document: unknown) =>
  isRecord(document)
    ? [document.apiVersion, document.kind, isRecord(document.metadata) ? document.metadata.name : undefined]
      .filter((part) => typeof part === "string").join(" ")
    : "document"

/** Every YAML file under `directory`: each document valid for its kind, with no field the schema lacks. */
export const checkKubernetes = async (root: string, directory: string): Promise<Array<Outcome>> => {
  const outcomes: Array<Outcome> = []
  for (const file of filesUnder(directory, [".yaml", ".yml"])) {
    const name = shown(root, file)
    // YAML 1.1, as kubectl reads it: `yes` and `on` are booleans there.
    const documents = parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" })
    const parsed = Array.isArray(documents) ? documents : []
    const syntax = parsed.flatMap((document) => document.errors.map((error) => `YAML: ${error.message}`))
    if (syntax.length > 0) {
      outcomes.push(failed(name, syntax))
      continue
    }
    const problems: Array<string> = []
    const described: Array<string> = []
    for (const document of parsed.map((document) => document.toJS())) {
      if (document === null || document === undefined) continue
      described.push(describe(document))
      problems.push(...(await documentProblems(document)).map((problem) => `${describe(document)}: ${problem}`))
    }
    outcomes.push(
      problems.length > 0
        ? failed(name, problems)
        : described.length === 0
        ? failed(name, ["no Kubernetes object in the file"])
        : ok(name, `${described.join(", ")} (Kubernetes ${kubernetesVersion} schemas)`)
    )
  }
  return outcomes
}
