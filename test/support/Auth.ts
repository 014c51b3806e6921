import { createHmac } from "node:crypto"

/** The key every test service verifies tokens with. */
export const testSecret = "task-api tests: a secret of at least 32 bytes"

/**
 * What a test service runs with: its key, a rate limit no functional test
 * reaches (the limiter still runs on every request), and a queue wait no
 * burst of a functional test on a busy machine reaches (admission still runs
 * on every request; the overload tests set their own). AUTH_MODE is left to
 * its default: jwt on PostgreSQL, none on an embedded database.
 */
export const testAuthEnv: Record<string, string> = {
  JWT_SECRET: testSecret,
  RATE_LIMIT_REQUESTS: "1000000",
  MAX_QUEUE_WAIT: "30 seconds"
}

/** The user that test requests act as unless they name another. */
export const defaultUser = "alice"

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url")

/**
 * An HS256 JWT, made here by hand rather than with the library the service
 * verifies with, so that a bug in how the service uses it cannot hide.
 */
export const signToken = (
  claims: Record<string, unknown>,
  options: { readonly secret?: string; readonly header?: Record<string, unknown> } = {}
) => {
  const now = Math.floor(Date.now() / 1000)
  const header = base64url(JSON.stringify(options.header ?? { alg: "HS256", typ: "JWT" }))
  const payload = base64url(JSON.stringify({ iat: now, exp: now + 3600, ...claims }))
  const signature = createHmac("sha256", options.secret ?? testSecret).update(`${header}.${payload}`).digest("base64url")
  return `${header}.${payload}.${signature}`
}

export const tokenFor = (sub: string) => signToken({ sub })

export const bearer = (sub: string = defaultUser) => ({ authorization: `Bearer ${tokenFor(sub)}` })

/** `init` with the default user's token, unless it already carries an Authorization header. */
export const withToken = (init: RequestInit = {}, sub: string = defaultUser): RequestInit => {
  const headers = new Headers(init.headers)
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${tokenFor(sub)}`)
  return { ...init, headers }
}
