import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

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

/**
 * Starts the built server (`dist/start.js`, run `npm run build` first) on a
 * free port and resolves once it listens.
 */
export const startServer = (env: Record<string, string>, options?: { readonly cwd?: string }) =>
  new Promise<ServerProcess>((resolve, reject) => {
    const child = spawn(process.execPath, [entry], {
      cwd: options?.cwd,
      env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_FORMAT: "json", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const output: Array<string> = []
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    let started = false
    const onLine = (line: string) => {
      output.push(line)
      const listening = /Listening on http:\/\/[^:]+:(\d+)/.exec(line)
      if (listening !== null && !started) {
        started = true
        const url = `http://127.0.0.1:${listening[1]}`
        resolve({
          url,
          child,
          output,
          exited,
          stop: (signal = "SIGTERM") => {
            if (child.exitCode === null) child.kill(signal)
            return exited
          }
        })
      }
    }
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = ""
      stream.setEncoding("utf8")
      stream.on("data", (chunk: string) => {
        buffered += chunk
        const lines = buffered.split("\n")
        buffered = lines.pop()!
        lines.forEach(onLine)
      })
    }
    void exited.then((code) => {
      if (!started) reject(new Error(`The server exited with ${code} before listening:\n${output.join("\n")}`))
    })
  })
