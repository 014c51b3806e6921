import { spawnSync } from "node:child_process"

/** One sample of the text exposition: its metric name, labels and value. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** The samples of a Prometheus text exposition (comments left out). */
export const parseExposition = (text: string): Array<Sample> =>
  text.split("\n").flatMap((line) => {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) return []
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!.replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char))
    }
    return [{ name: match[1]!, labels, value: Number(match[3]) }]
  })

/** The value of the one sample named so, with these labels (at least), or undefined. */
export const sampleValue = (samples: ReadonlyArray<Sample>, name: string, labels: Record<string, string> = {}) =>
  samples.find((sample) =>
    sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  )?.value

/** Runs Debian's promtool; a test that needs it fails, with what to install, when it is missing. */
export const promtool = (args: ReadonlyArray<string>, options: { readonly input?: string; readonly cwd?: string } = {}) => {
  const result = spawnSync("promtool", args, { encoding: "utf8", timeout: 60_000, ...options })
  if (result.error !== undefined) {
    const missing = (result.error as NodeJS.ErrnoException).code === "ENOENT"
    throw new Error(
      missing
        ? "promtool is not installed: apt-get install prometheus (CI installs it)"
        : `promtool ${args.join(" ")} did not run: ${result.error.message}`
    )
  }
  return { status: result.status, output: `$ promtool ${args.join(" ")}\n${result.stdout}${result.stderr}` }
}
