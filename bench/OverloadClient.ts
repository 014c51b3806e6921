// The overload scenario's client: N connections, each sending its next
// request as soon as the last is answered (as wrk does), that records every
// answer's status and latency, so that the p99 of the successes alone can be
// told from that of quick 503s (wrk's latencies mix them). Raw sockets and a
// minimal HTTP/1.1 reader: the client must cost far less than the server.
import * as net from "node:net"

export interface OverloadOptions {
  readonly url: string
  readonly connections: number
  readonly seconds: number
  /** The next request on a connection, as raw HTTP/1.1 text. */
  readonly request: () => string
  /** A request unanswered this long counts as a timeout, and its connection is replaced. */
  readonly timeoutMs?: number
}

export interface OverloadResult {
  readonly statuses: Record<string, number>
  /** Latencies of the 2xx answers, in ms, sorted. */
  readonly successMs: ReadonlyArray<number>
  readonly timeouts: number
  /** Connections refused or reset. */
  readonly errors: number
  readonly seconds: number
}

export const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

const headEnd = "\r\n\r\n"

export const overload = (options: OverloadOptions): Promise<OverloadResult> =>
  new Promise((resolve) => {
    const { hostname, port } = new URL(options.url)
    const timeoutMs = options.timeoutMs ?? 10_000
    const statuses: Record<string, number> = {}
    const successMs: Array<number> = []
    let timeouts = 0
    let errors = 0
    let running = true
    const started = performance.now()
    const open = new Set<net.Socket>()

    const connection = () => {
      if (!running) return
      const socket = net.connect(Number(port), hostname)
      open.add(socket)
      let buffer = ""
      let sentAt = 0
      let expected = -1
      let closes = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const send = () => {
        if (!running) return void socket.destroy()
        buffer = ""
        expected = -1
        sentAt = performance.now()
        timer = setTimeout(() => {
          timeouts++
          socket.destroy()
        }, timeoutMs)
        socket.write(options.request())
      }
      socket.setEncoding("latin1")
      socket.on("connect", send)
      socket.on("data", (chunk: string) => {
        buffer += chunk
        if (expected < 0) {
          const end = buffer.indexOf(headEnd)
          if (end < 0) return
          const head = buffer.slice(0, end).toLowerCase()
          const length = /\r\ncontent-length: *(\d+)/.exec(head)
          expected = end + headEnd.length + (length === null ? 0 : Number(length[1]))
          closes = head.includes("\r\nconnection: close")
        }
        if (buffer.length < expected) return
        clearTimeout(timer)
        const status = buffer.slice(9, 12)
        statuses[status] = (statuses[status] ?? 0) + 1
        if (status.startsWith("2")) successMs.push(performance.now() - sentAt)
        if (closes) socket.end()
        else send()
      })
      socket.on("error", () => {
        // A reset or refusal; "close" follows and opens the replacement.
        if (running) errors++
      })
      socket.on("close", () => {
        clearTimeout(timer)
        open.delete(socket)
        connection()
      })
    }

    for (let i = 0; i < options.connections; i++) connection()
    setTimeout(() => {
      running = false
      for (const socket of open) socket.destroy()
      resolve({
        statuses,
        successMs: successMs.sort((a, b) => a - b),
        timeouts,
        errors,
        seconds: (performance.now() - started) / 1000
      })
    }, options.seconds * 1000)
  })
