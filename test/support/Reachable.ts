import * as net from "node:net"

/** Whether something accepts TCP connections at host:port (within a second). */
export const isReachable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port, timeout: 1_000 })
    const done = (reachable: boolean) => {
      socket.destroy()
      resolve(reachable)
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.once("timeout", () => done(false))
  })
