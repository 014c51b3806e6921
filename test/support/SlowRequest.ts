import * as net from "node:net"
import { defaultUser, tokenFor } from "./Auth.ts"

/**
 * Sends a POST /tasks whose body arrives only when `finish` is called: a
 * request the server has accepted and must finish before it may exit.
 */
export const startSlowPost = (url: string, body: string, options: { readonly keepAlive?: boolean } = {}) => {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  let response = ""
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => (response += chunk))
  const closed = new Promise<string>((resolve) => socket.on("close", () => resolve(response)))
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  return connected.then(() => {
    socket.write(
      `POST /tasks HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${tokenFor(defaultUser)}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n${options.keepAlive ? "" : "Connection: close\r\n"}\r\n` +
        body.slice(0, 5)
    )
    // `write`, not `end`: a half-closed socket reads as a client that went away.
    return { finish: () => socket.write(body.slice(5)), closed }
  })
}

/** Whether a new TCP connection to `url` is refused (the server no longer listens). */
export const refusesConnections = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = net.connect(Number(port), hostname)
    socket.once("connect", () => (socket.destroy(), resolve(false)))
    socket.once("error", () => resolve(true))
  })
