import * as net from "node:net"

/**
 * A TCP proxy on loopback that a test can cut and restore, to take the
 * database away from a running service without touching the database.
 */
export interface TcpProxy {
  readonly port: number
  /** Drops every open connection and refuses new ones. */
  readonly cut: () => Promise<void>
  readonly restore: () => Promise<void>
  readonly close: () => Promise<void>
}

export const startTcpProxy = async (target: { host: string; port: number }): Promise<TcpProxy> => {
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  let port = 0

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {
            client.destroy()
            upstream.destroy()
          })
        }
        client.pipe(upstream).pipe(client)
      })
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as net.AddressInfo).port
        resolve()
      })
    })

  const cut = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      if (server === undefined) return resolve()
      server.close(() => resolve())
      server = undefined
    })

  await listen()
  return { port, cut, restore: listen, close: cut }
}
