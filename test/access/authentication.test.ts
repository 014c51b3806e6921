import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { refusal } from "../../src/server/access/TokenVerifier.ts"
import { signToken, testSecret } from "../support/Auth.ts"
import { expectProblem } from "../support/Http.ts"
import { memoryService } from "../support/Targets.ts"

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]

const now = () => Math.floor(Date.now() / 1000)
const realm = `Bearer realm="task-api"`

/** An in-process service with these settings, and a way to call GET /tasks with a header. */
const serviceWith = (env: Record<string, string | undefined> = {}) => {
  const service = memoryService(env)
  const list = (authorization?: string) =>
    service.send("/tasks", authorization === undefined ? {} : { headers: { authorization } })
  return { ...service, list }
}

/** A 401 problem naming `detail`, with the RFC 6750 challenge, and the token nowhere in the answer. */
const expectRefused = async (response: Response, detail: string, token?: string) => {
  const text = await response.clone().text()
  const problem = await expectProblem(response, 401)
  expect(problem.detail).toBe(detail)
  expect(response.headers.get("www-authenticate")).toBe(
    token === undefined ? realm : `${realm}, error="invalid_token", error_description="${detail}"`
  )
  if (token !== undefined) expect(text).not.toContain(token)
}

describe("bearer tokens, shared secret (HS256)", () => {
  const { dispose, list } = serviceWith({ JWT_ISSUER: "https://issuer.test", JWT_AUDIENCE: "task-api", JWT_CLOCK_SKEW: "30 seconds" })
  afterAll(() => dispose())
  const claims = { sub: "alice", iss: "https://issuer.test", aud: "task-api" }

  it("accepts a valid token", async () => {
    const response = await list(`Bearer ${signToken(claims)}`)
    expect(response.status).toBe(200)
  })

  it("refuses a request without a token, naming only the scheme", async () => {
    await expectRefused(await list(), refusal.missing)
    await expectRefused(await list("Basic YWxpY2U6c2VjcmV0"), refusal.missing)
  })

  it("refuses malformed tokens", async () => {
    for (const token of ["abc", "a.b.c", "e30.e30", `${signToken(claims)}x.y`]) {
      await expectRefused(await list(`Bearer ${token}`), refusal.malformed, token)
    }
  })

  it("refuses an expired token, within the clock skew it allows", async () => {
    const expired = signToken({ ...claims, exp: now() - 60 })
    await expectRefused(await list(`Bearer ${expired}`), refusal.expired, expired)
    const justExpired = signToken({ ...claims, exp: now() - 5 })
    expect((await list(`Bearer ${justExpired}`)).status).toBe(200)
  })

  it("refuses a token that is not valid yet", async () => {
    const early = signToken({ ...claims, nbf: now() + 3600 })
    await expectRefused(await list(`Bearer ${early}`), refusal.notYetValid, early)
  })

  it("refuses a token signed with another key", async () => {
    const forged = signToken(claims, { secret: `${testSecret} but another` })
    await expectRefused(await list(`Bearer ${forged}`), refusal.badSignature, forged)
  })

  it("refuses a token for another audience or from another issuer", async () => {
    const elsewhere = signToken({ ...claims, aud: "another-api" })
    await expectRefused(await list(`Bearer ${elsewhere}`), refusal.audience, elsewhere)
    const stranger = signToken({ ...claims, iss: "https://evil.test" })
    await expectRefused(await list(`Bearer ${stranger}`), refusal.issuer, stranger)
  })

  it("refuses an unsigned token (alg: none)", async () => {
    const [header, payload] = signToken(claims).split(".")
    const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")
    for (const token of [`${none}.${payload}.`, `${none}.${payload}`, `${header}.${payload}.`]) {
      const response = await list(`Bearer ${token}`)
      expect(response.status).toBe(401)
      expect(response.headers.get("www-authenticate")).toMatch(/error="invalid_token"/)
    }
  })

  it("refuses a token without a subject or an expiry", async () => {
    const anonymous = signToken({ iss: claims.iss, aud: claims.aud })
    await expectRefused(await list(`Bearer ${anonymous}`), refusal.subject, anonymous)
    const tooLong = signToken({ ...claims, sub: "x".repeat(256) })
    await expectRefused(await list(`Bearer ${tooLong}`), refusal.subject, tooLong)
    const [header, , ] = signToken(claims).split(".")
    const payload = Buffer.from(JSON.stringify(claims)).toString("base64url")
    const { createHmac } = await import("node:crypto")
    const signature = createHmac("sha256", testSecret).update(`${header}.${payload}`).digest("base64url")
    const forever = `${header}.${payload}.${signature}`
    await expectRefused(await list(`Bearer ${forever}`), refusal.expiry, forever)
  })

  it("refuses a token once it expires, though it was accepted before", async () => {
    const strict = serviceWith({ JWT_CLOCK_SKEW: "0 seconds" })
    const token = signToken({ sub: "alice", exp: now() + 2 })
    expect((await strict.list(`Bearer ${token}`)).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 2_100))
    await expectRefused(await strict.list(`Bearer ${token}`), refusal.expired, token)
    await strict.dispose()
  })

  it("does not guard the probes", async () => {
    const probes = serviceWith()
    for (const path of ["/health", "/ready"]) expect((await probes.send(path)).status).toBe(200)
    await probes.dispose()
  })
})

describe("bearer tokens, public keys from a JWK set (RS256, ES256)", () => {
  const dir = mkdtempSync(join(tmpdir(), "task-api-jwks-"))
  let service: ReturnType<typeof serviceWith>
  let rsa: PrivateKey
  let ec: PrivateKey
  let unknown: PrivateKey
  let rsaPublicPem: string

  beforeAll(async () => {
    const rsaPair = await generateKeyPair("RS256", { extractable: true })
    const ecPair = await generateKeyPair("ES256")
    unknown = (await generateKeyPair("RS256")).privateKey
    rsa = rsaPair.privateKey
    ec = ecPair.privateKey
    const keys = [
      { ...(await exportJWK(rsaPair.publicKey)), kid: "rsa", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ecPair.publicKey)), kid: "ec", alg: "ES256", use: "sig" }
    ]
    rsaPublicPem = JSON.stringify(keys[0])
    const file = join(dir, "jwks.json")
    writeFileSync(file, JSON.stringify({ keys }))
    service = serviceWith({ JWT_SECRET: undefined, JWKS_FILE: file })
  })
  afterAll(async () => {
    await service.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  const sign = (key: PrivateKey, alg: string, kid: string) =>
    new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject("alice").setExpirationTime("5m").sign(key)

  it("accepts tokens signed with either key", async () => {
    expect((await service.list(`Bearer ${await sign(rsa, "RS256", "rsa")}`)).status).toBe(200)
    expect((await service.list(`Bearer ${await sign(ec, "ES256", "ec")}`)).status).toBe(200)
  })

  it("refuses a token signed with a key outside the set", async () => {
    const token = await sign(unknown, "RS256", "rsa")
    await expectRefused(await service.list(`Bearer ${token}`), refusal.badSignature, token)
    const unnamed = await sign(unknown, "RS256", "other")
    await expectRefused(await service.list(`Bearer ${unnamed}`), refusal.unknownKey, unnamed)
  })

  it("refuses an HS256 token keyed with the public key (algorithm confusion)", async () => {
    const token = signToken({ sub: "alice" }, { secret: rsaPublicPem, header: { alg: "HS256", kid: "rsa" } })
    await expectRefused(await service.list(`Bearer ${token}`), refusal.algorithm, token)
  })
})

describe("bearer tokens, public keys fetched from JWKS_URL", () => {
  let keys: { keys: Array<object> }
  let key: PrivateKey
  let jwksUp = true
  let server: Server
  let service: ReturnType<typeof serviceWith>

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256")
    key = pair.privateKey
    keys = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }
    // An identity provider's key endpoint that the test can take down.
    server = createServer((_request, response) => {
      if (!jwksUp) return response.destroy()
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(keys))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    service = serviceWith({ JWT_SECRET: undefined, JWKS_URL: `http://127.0.0.1:${port}/jwks.json` })
  })
  afterAll(async () => {
    await service.dispose()
    await new Promise((resolve) => server.close(resolve))
  })

  const sign = (kid: string) =>
    new SignJWT({}).setProtectedHeader({ alg: "ES256", kid }).setSubject("alice").setExpirationTime("5m").sign(key)

  it("accepts a token signed with a key the endpoint lists", async () => {
    expect((await service.list(`Bearer ${await sign("k1")}`)).status).toBe(200)
  })

  it("answers 503, not 401, while the keys cannot be fetched: the token may be fine", async () => {
    // A service that starts while the endpoint is down has no keys to fall back on.
    jwksUp = false
    const { port } = server.address() as AddressInfo
    const starting = serviceWith({ JWT_SECRET: undefined, JWKS_URL: `http://127.0.0.1:${port}/jwks.json` })
    try {
      const problem = await expectProblem(await starting.list(`Bearer ${await sign("k1")}`), 503)
      expect(problem.detail).toMatch(/keys .* cannot be fetched/)
    } finally {
      jwksUp = true
      await starting.dispose()
    }
  })
})
