import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sendRaw } from "../support/Http.ts"
import { serverTarget, type ServerTarget } from "../support/Targets.ts"

const problemOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { status: number }

describe("what a client may send", () => {
  let target: ServerTarget
  beforeAll(async () => {
    target = await serverTarget({ LOG_LEVEL: "warning" })
  })
  afterAll(() => target.close())

  it("answers headers over 16 KiB with a 431 problem", async () => {
    const answer = await sendRaw(target.server.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)
    expect(answer).toMatch(/^HTTP\/1\.1 431 /)
    expect(answer).toContain("application/problem+json")
    expect(problemOf(answer).status).toBe(431)
  })

  it("answers what is not HTTP with a 400 problem", async () => {
    const answer = await sendRaw(target.server.url, "HELLO THERE\r\n\r\n")
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(problemOf(answer).status).toBe(400)
  })

  it("keeps serving others while slow clients trickle their headers or their bodies", async () => {
    const { hostname, port } = new URL(target.server.url)
    const slowHeaders = Array.from({ length: 25 }, () => net.connect(Number(port), hostname))
    const slowBodies = Array.from({ length: 25 }, () => {
      const socket = net.connect(Number(port), hostname)
      socket.write("POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n")
      return socket
    })
    const slow = [...slowHeaders, ...slowBodies]
    const request = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    let sent = 0
    const trickle = setInterval(() => {
      for (const socket of slowHeaders) if (socket.writable) socket.write(request[sent % request.length]!)
      for (const socket of slowBodies) if (socket.writable) socket.write("x")
      sent++
    }, 50)
    try {
      await new Promise((resolve) => setTimeout(resolve, 300))
      const started = performance.now()
      const answers = await Promise.all(Array.from({ length: 50 }, () => target.fetch("/health")))
      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200))
      expect(performance.now() - started).toBeLessThan(2_000)
    } finally {
      clearInterval(trickle)
      for (const socket of slow) socket.destroy()
    }
  })
})
