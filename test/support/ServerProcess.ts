import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { testAuthEnv } from "./Auth.ts"

const entry = fileURLToPath(new URL("../../dist/start.js", import.meta.url))

export interface ServerProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Every line the server has written to stdout and stderr so far. */
  readonly output: Array<string>
  /** Sends a signal and resolves with the exit code. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
  readonly exited: Promise<number | null>
}

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

/**
 * Starts the built server (`dist/start.js`: run `npm run build` first) on a
 * free port, and resolves once `/health` answers.
 */
export const startServer = async (
  env: Record<string, string>,
  options?: { readonly cwd?: string; readonly nodeArgs?: ReadonlyArray<string> }
): Promise<ServerProcess> => {
  const port = env.PORT ?? String(await freePort())
  const child = spawn(process.execPath, [...(options?.nodeArgs ?? []), entry], {
    cwd: options?.cwd,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", LOG_FORMAT: "json", ...testAuthEnv, ...env, PORT: port },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const output: Array<string> = []
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = ""
    stream.setEncoding("utf8")
    stream.on("data", (chunk: string) => {
      buffered += chunk
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      output.push(...lines)
    })
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  while (true) {
    if (child.exitCode !== null) throw new Error(`The server exited with ${child.exitCode}:\n${output.join("\n")}`)
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`The server did not answer /health in 30 s:\n${output.join("\n")}`)
    }
    const healthy = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.ok, () => false)
    if (healthy) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    child,
    output,
    exited,
    stop: (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    }
  }
}
