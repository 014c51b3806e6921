import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { randomUUID } from "node:crypto"
import type { Duplex } from "node:stream"
import { problemContentType, problemDocument } from "./ProblemResponses.ts"

/** The largest request head (request line and headers) the server reads; 431 beyond. */
export const maxHeadBytes = 16 * 1024

export interface ConnectionLimits {
  /** Largest request head (request line and headers), in bytes. */
  readonly maxHeaderBytes: number
  /** How long a client may take to send its headers, and its whole request. */
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
}

const parserErrors: Record<string, readonly [status: number, detail: string]> = {
  HPE_HEADER_OVERFLOW: [431, "The request's headers are too large."],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "The request took too long to arrive."]
}

/**
 * Node's HTTP server with limits on what a client may send, so a slow or
 * oversized request (a slowloris) costs a bounded amount and never holds up
 * others. Node answers what its parser refuses with bare text; this answers
 * with problem documents, like every other error of the service.
 */
export const makeNodeServer = (limits: ConnectionLimits) => (): Server => {
  const server = createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs
  })
  leaveCleanly(server)
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy()
    const [status, detail] = parserErrors[error.code ?? ""] ?? [400, "The request is not valid HTTP."]
    const document = problemDocument(status, detail)
    const body = JSON.stringify(document)
    // A request the parser refused has no id of its own to keep: it gets a new one.
    socket.end(
      `HTTP/1.1 ${status} ${document.title}\r\n` +
        `Content-Type: ${problemContentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`
    )
  })
  return server
}

/**
 * Closing without waiting on idle connections. Node's `close` stops
 * accepting and closes the connections idle at that moment; a keep-alive
 * connection whose request finishes afterwards would then sit idle until
 * its keepAliveTimeout (5 s), and a balancer that reuses connections keeps
 * some busy all along: that is where an instance behind HAProxy spent 6.5 s
 * leaving. Once closing, every answer not yet started says `Connection:
 * close`, and a connection is closed as soon as its last request is answered.
 */
const leaveCleanly = (server: Server) => {
  let closing = false
  const inFlight = new Set<ServerResponse>()
  // Registered before the service's own handler, so it sees every request first.
  server.on("request", (_request: IncomingMessage, response: ServerResponse) => {
    if (closing) response.shouldKeepAlive = false
    inFlight.add(response)
    response.once("close", () => {
      inFlight.delete(response)
      if (closing) setImmediate(() => server.closeIdleConnections())
    })
  })
  const close = server.close.bind(server)
  server.close = (callback) => {
    closing = true
    for (const response of inFlight) if (!response.headersSent) response.shouldKeepAlive = false
    close(callback)
    server.closeIdleConnections()
    return server
  }
}
