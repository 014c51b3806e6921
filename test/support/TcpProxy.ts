import * as net from "node:net"

/**
 * A TCP proxy on loopback that a test can cut and restore, to take the
 * database away from a running service without touching the database.
 */
export interface TcpProxy {
  readonly port: number
  /** Drops every open connection and refuses new ones. */
  readonly cut: () => Promise<void>
  /** Keeps every connection open but forwards nothing, as a network that drops packets. */
  readonly freeze: () => void
  readonly restore: () => Promise<void>
  readonly close: () => Promise<void>
}

export const startTcpProxy = async (target: { host: string; port: number }): Promise<TcpProxy> => {
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  let port = 0
  let frozen = false

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        if (frozen) {
          sockets.add(client)
          client.on("close", () => sockets.delete(client))
          client.on("error", () => client.destroy())
          return
        }
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

  const freeze = () => {
    frozen = true
    for (const socket of sockets) {
      socket.unpipe()
      socket.pause()
    }
  }

  const restore = async () => {
    frozen = false
    await cut()
    await listen()
  }

  await listen()
  return { port, cut, freeze, restore, close: cut }
}
