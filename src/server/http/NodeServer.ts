import { createServer, type IncomingMessage, type Server, ServerResponse, type ServerOptions } from "node:http"
import { randomUUID } from "node:crypto"
import type { Duplex } from "node:stream"
import { acceptOnSeveralSockets } from "./Acceptors.ts"
import type { Admission } from "./Admission.ts"
import { problemContentType, problemDocument } from "./ProblemResponses.ts"

/** The largest request head (request line and headers) the server reads; 431 beyond. */
export const maxHeadBytes = 16 * 1024

export interface ConnectionLimits {
  /** Largest request head (request line and headers), in bytes. */
  readonly maxHeaderBytes: number
  /** How long a client may take to send its headers, and its whole request. */
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  /** Listening sockets accepting the port's connections (see Acceptors.ts); 1 when unset. */
  readonly acceptors?: number
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
export const makeNodeServer = (limits: ConnectionLimits, admission?: Admission) => (): Server => {
  const leaving = leaveCleanly({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs
  })
  const server = createServer(leaving.options)
  leaving.closeWith(server)
  acceptOnSeveralSockets(server, limits.acceptors ?? 1)
  if (admission !== undefined) admitThrough(server, admission)
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
 * close`, so Node closes its connection as soon as it is sent.
 *
 * Decided when the answer's head is written, by the response class itself:
 * keeping every response in flight in a Set, to mark them at close, cost a
 * quarter of the CPU of a GET, nearly all of it in the garbage collector
 * (the Set, an old object churned by every request, had 3.5 KB of each
 * request promoted to the old generation; measured with --trace-gc-nvp).
 */
const leaveCleanly = (options: ServerOptions): { readonly options: ServerOptions; readonly closeWith: (server: Server) => void } => {
  let closing = false
  class LeavingResponse<Request extends IncomingMessage> extends ServerResponse<Request> {
    // Node's two forms, (status, headers) and (status, reason, headers), passed on as they came.
    override writeHead(status: number, reasonOrHeaders?: any, headers?: any): this {
      if (closing) this.shouldKeepAlive = false
      return super.writeHead(status, reasonOrHeaders, headers)
    }
  }
  return {
    options: { ...options, ServerResponse: LeavingResponse },
    closeWith: (server) => {
      const close = server.close.bind(server)
      server.close = (callback) => {
        closing = true
        close(callback)
        server.closeIdleConnections()
        return server
      }
    }
  }
}

/**
 * Puts admission in front of the handler the Effect server registers for
 * requests, so that a request it holds back or refuses never reaches it.
 */
const admitThrough = (server: Server, admission: Admission) => {
  type Listener = (...args: Array<any>) => void
  const admitted = new WeakMap<Listener, Listener>()
  const guarded = (event: string) => event === "request" || event === "checkContinue"
  const on = server.on.bind(server)
  const off = server.off.bind(server)
  server.on = (event: string, listener: Listener) => {
    if (!guarded(event)) return on(event, listener)
    const through = admitted.get(listener) ?? admission.admit(listener)
    admitted.set(listener, through)
    return on(event, through)
  }
  server.off = (event: string, listener: Listener) => off(event, admitted.get(listener) ?? listener)
  server.once("close", admission.stop)
}
