import { type ChildProcess, spawn } from "node:child_process"
import { isReachable } from "./Reachable.ts"

// The Debian daemons the tests drive for real (PgBouncer, HAProxy, Redis),
// run in the foreground so that their output is the test's to read.
//
// Whatever ends this process (a failed hook, an interrupted run), none of
// the daemons below may outlive it and hold their ports. A signal is raised
// again once they are gone, so that it still ends the process as before.
const children = new Set<ChildProcess>()
const killChildren = () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}
process.once("exit", killChildren)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killChildren()
    process.kill(process.pid, signal)
  })
}
export const own = (child: ChildProcess) => {
  children.add(child)
  child.once("exit", () => children.delete(child))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sends `signal`, and SIGKILL if the process is still there after `graceMs`. */
export const terminate = async (child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs: number) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
  await exited
  clearTimeout(timer)
}

export interface Daemon {
  readonly output: Array<string>
  readonly stop: () => Promise<void>
}

/** Runs `command` in the foreground and resolves once it accepts connections on `port`. */
export const startDaemon = async (
  command: string,
  args: ReadonlyArray<string>,
  port: number,
  options: { readonly env?: Record<string, string>; readonly cwd?: string; readonly debianPackage: string }
): Promise<Daemon> => {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  own(child)
  const output: Array<string> = []
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8")
    let buffered = ""
    stream.on("data", (chunk: string) => {
      buffered += chunk
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      output.push(...lines)
    })
  }
  let failure: Error | undefined
  child.once("error", (error: NodeJS.ErrnoException) => {
    failure = error.code === "ENOENT"
      ? new Error(`${command} is not installed (Debian: apt-get install ${options.debianPackage})`)
      : error
  })
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()))
  const stop = () => terminate(child, exited, "SIGTERM", 5_000)
  const deadline = Date.now() + 10_000
  while (!(await isReachable("127.0.0.1", port))) {
    if (failure !== undefined) throw failure
    if (child.exitCode !== null) {
      await exited
      throw new Error(`${command} exited with ${child.exitCode}:\n${output.join("\n")}`)
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`${command} did not listen on ${port} within 10 s:\n${output.join("\n")}`)
    }
    await sleep(50)
  }
  return { output, stop }
}

