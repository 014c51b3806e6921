import type { Server } from "node:http"
import * as net from "node:net"

/**
 * Accepts the port's connections on `count` listening sockets instead of one.
 *
 * Node (libuv 1.45 on) accepts one connection per listening socket per turn
 * of its event loop, and under a storm each turn serves hundreds of
 * requests: a few turns a second, so new connections, probes among them,
 * waited in the kernel's accept queue until their clients gave up
 * (`test/reliability/overload.test.ts`). With `SO_REUSEPORT` the kernel
 * spreads connections over several sockets, each with a queue of its own,
 * and every turn accepts from each of them.
 *
 * Joining a port that way is open only to the same user's sockets that ask
 * for it (Linux's rule), and a plain bind first makes a port already in use
 * fail to start, as a single socket would, instead of being shared with
 * another instance.
 */
export const acceptOnSeveralSockets = (server: Server, count: number): void => {
  if (count <= 1) return
  const others: Array<net.Server> = []
  const listen = server.listen.bind(server) as (options: net.ListenOptions, callback?: () => void) => Server
  server.listen = ((options: net.ListenOptions, callback?: () => void) => {
    const failed = (error: Error) => server.emit("error", error)
    portIsFree(options).then(() => {
      listen({ ...options, reusePort: true }, () => {
        const { port } = server.address() as net.AddressInfo
        openOthers({ ...options, port, reusePort: true }, count - 1, server, others).then(
          () => callback?.(),
          failed
        )
      })
    }, failed)
    return server
  }) as typeof server.listen
  // Each socket counts the connections it accepted, and its close waits for
  // them: the server has closed when every one has, or a request in flight
  // on another socket's connection would be cut when the process exits.
  const close = server.close.bind(server)
  server.close = (callback) => {
    const closed = [server, ...others].map((listener) =>
      new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => (error === undefined ? resolve() : reject(error))
        if (listener === server) close(done)
        else listener.close(done)
      })
    )
    Promise.all(closed).then(() => callback?.(), (error: Error) => callback?.(error))
    return server
  }
}

// A socket bound without SO_REUSEPORT fails with EADDRINUSE wherever another
// already listens, whether that one shares or not.
const portIsFree = (options: net.ListenOptions) =>
  options.port === undefined || options.port === 0
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
      const check = net.createServer()
      check.once("error", reject)
      check.listen({ host: options.host, port: options.port, ipv6Only: options.ipv6Only }, () => check.close(() => resolve()))
    })

const openOthers = (options: net.ListenOptions, count: number, server: Server, others: Array<net.Server>) =>
  Promise.all(Array.from({ length: count }, () =>
    new Promise<void>((resolve, reject) => {
      // The socket options Node's HTTP server gives the connections it accepts itself.
      const other = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => server.emit("connection", socket))
      others.push(other)
      other.once("error", reject)
      other.listen(options, () => resolve())
    })))
