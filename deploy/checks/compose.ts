import { Ajv, type ErrorObject } from "ajv"
import { DCLinter } from "dclint"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseDocument } from "yaml"
import { failed, ok, type Outcome, shown } from "./outcome.ts"

// The Compose specification's JSON schema as dclint ships it (and keeps up to
// date); dclint reports only the first schema error, and without the name of
// an unknown key, so the schema is also applied here for every error.
const composeSchema = (): Record<string, unknown> => {
  const packageDirectory = dirname(fileURLToPath(import.meta.resolve("dclint/package.json")))
  const { $schema: _draft, ...schema } = JSON.parse(
    readFileSync(join(packageDirectory, "schemas", "compose.schema.json"), "utf8")
  ) as Record<string, unknown>
  return schema
}

const where = (instancePath: string) => instancePath.split("/").slice(1).join(".") || "the file"

const schemaProblem = (error: ErrorObject) =>
  error.keyword === "additionalProperties" && typeof error.params.additionalProperty === "string"
    ? `${where(error.instancePath)}: unknown key "${error.params.additionalProperty}"`
    : `${where(error.instancePath)}: ${error.message ?? error.keyword}`

// dclint's declaration files import each other without extensions, which
// NodeNext cannot follow; the part of its results used here:
interface LintResult {
  readonly messages: ReadonlyArray<{ readonly rule: string; readonly message: string; readonly line: number }>
}

// The repository's own compose.yaml quotes ports with double quotes.
const lintRules = { "require-quotes-in-ports": [1, { quoteType: "double" }] } as const

/**
 * `compose.yaml` in `directory`: valid by the Compose specification (every
 * error, unknown keys by name), then dclint's rules, warnings included.
 */
export const checkCompose = (root: string, directory: string): Array<Outcome> => {
  const file = join(directory, "compose.yaml")
  const name = shown(root, file)
  if (!existsSync(file)) return [failed(name, ["missing"])]
  // Compose reads YAML 1.2 with merge keys (<<).
  const document = parseDocument(readFileSync(file, "utf8"), { merge: true })
  if (document.errors.length > 0) return [failed(name, document.errors.map((error) => `YAML: ${error.message}`))]
  const validate = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(composeSchema())
  if (!validate(document.toJS())) {
    return [failed(name, [...new Set((validate.errors ?? []).map(schemaProblem))])]
  }
  const linter = new DCLinter({ rules: lintRules, quiet: true, debug: false, exclude: [] })
  const results: ReadonlyArray<LintResult> = linter.lintFiles([file], false)
  const findings = results.flatMap((result) =>
    result.messages.map((message) => `line ${message.line}: ${message.message} (${message.rule})`)
  )
  return findings.length > 0
    ? [failed(name, findings)]
    : [ok(name, "Compose specification schema and dclint's rules")]
}

/** The ${VARIABLES} that a file expands, as HAProxy and Compose write them. */
export const expandedVariables = (text: string): Set<string> =>
  new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]!))

/** The environment that compose.yaml gives a service, if it is written as a mapping. */
export const serviceEnvironment = (directory: string, service: string): Record<string, unknown> | undefined => {
  const file = join(directory, "compose.yaml")
  if (!existsSync(file)) return undefined
  const compose: unknown = parseDocument(readFileSync(file, "utf8"), { merge: true }).toJS()
  const pick = (value: unknown, key: string): unknown =>
    typeof value === "object" && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined
  const environment = pick(pick(pick(compose, "services"), service), "environment")
  return typeof environment === "object" && environment !== null && !Array.isArray(environment)
    ? environment as Record<string, unknown>
    : undefined
}
