import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from "jose"
import { createSecretKey, type KeyObject } from "node:crypto"
import { readFileSync } from "node:fs"
import { Unauthorized } from "../../domain/AccessErrors.ts"
import { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import { AppConfig } from "../AppConfig.ts"
import { countUnavailable } from "../observability/Metrics.ts"
import { RequestTelemetry } from "../observability/Telemetry.ts"
import { childSpan } from "../observability/Tracing.ts"

/** Why a token was refused, as the client is told it (RFC 6750 `error_description`). */
export const refusal = {
  missing: "The request carries no bearer token.",
  malformed: "The bearer token is not a well-formed JWT.",
  expired: "The bearer token has expired.",
  notYetValid: "The bearer token is not valid yet.",
  badSignature: "The bearer token's signature does not verify.",
  algorithm: "The bearer token is signed with an algorithm this service does not accept.",
  unknownKey: "The bearer token is signed with a key this service does not know.",
  audience: "The bearer token is not meant for this service (aud).",
  issuer: "The bearer token comes from an issuer this service does not trust (iss).",
  subject: "The bearer token names no subject (sub) of at most 255 characters.",
  expiry: "The bearer token has no expiry (exp)."
} as const

const unauthorized = (detail: string) => new Unauthorized({ detail })
const keysUnavailable = new ServiceUnavailable({
  detail: "The keys that verify bearer tokens cannot be fetched; try again shortly."
})

const claimRefusals: Record<string, string> = {
  aud: refusal.audience,
  iss: refusal.issuer,
  nbf: refusal.notYetValid,
  sub: refusal.subject,
  exp: refusal.expiry
}

const toRefusal = (error: unknown): Unauthorized | ServiceUnavailable => {
  if (error instanceof errors.JWTExpired) return unauthorized(refusal.expired)
  if (error instanceof errors.JWTClaimValidationFailed) return unauthorized(claimRefusals[error.claim] ?? refusal.malformed)
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthorized(refusal.badSignature)
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return unauthorized(refusal.algorithm)
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthorized(refusal.unknownKey)
  }
  // A JWKS endpoint that does not answer is the service's problem, not the token's.
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError)) {
    countUnavailable("keys")
    return keysUnavailable
  }
  return unauthorized(refusal.malformed)
}

interface KeySource {
  readonly key: KeyObject | JWTVerifyGetKey
  readonly algorithms: ReadonlyArray<string>
}

const asymmetric = ["RS256", "ES256"]

/** Exactly one of JWT_SECRET, JWKS_URL and JWKS_FILE names the keys. */
const keySource = (config: AppConfig["Service"]): Effect.Effect<KeySource, Error> => {
  const { jwksFile, jwksUrl, jwtSecret } = config
  const given = [jwtSecret, jwksUrl, jwksFile].filter((value) => value !== undefined).length
  if (given !== 1) {
    return Effect.fail(
      new Error(
        given === 0
          ? "AUTH_MODE=jwt needs JWT_SECRET, JWKS_URL or JWKS_FILE to verify tokens (or AUTH_MODE=none for development)"
          : "Set only one of JWT_SECRET, JWKS_URL and JWKS_FILE"
      )
    )
  }
  if (jwtSecret !== undefined) {
    const secret = Buffer.from(Redacted.value(jwtSecret))
    // RFC 7518 3.2: an HS256 key must be at least as long as the hash. A
    // KeyObject, made once: given bytes, jose imports the key on every token.
    return secret.length < 32
      ? Effect.fail(new Error("JWT_SECRET must be at least 32 bytes long"))
      : Effect.succeed({ key: createSecretKey(secret), algorithms: ["HS256"] })
  }
  if (jwksUrl !== undefined) {
    return Effect.succeed({
      key: createRemoteJWKSet(jwksUrl, { timeoutDuration: 2_000, cooldownDuration: 30_000, cacheMaxAge: 600_000 }),
      algorithms: asymmetric
    })
  }
  return Effect.try({
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- JWKS_FILE is the operator's setting
    try: () => ({ key: createLocalJWKSet(JSON.parse(readFileSync(jwksFile!, "utf8"))), algorithms: asymmetric }),
    catch: (error) => new Error(`JWKS_FILE ${jwksFile} is not a readable JWK set: ${(error as Error).message}`)
  })
}

/**
 * Tokens already verified, with what makes them expire: clients send the same
 * token for many requests, and verifying one costs more CPU (about 25 µs)
 * than the rest of a read. Bounded, oldest first out; a cached token is still
 * refused once expired. (With JWKS_URL, a key withdrawn from the set stops
 * new tokens at once, and cached ones at their expiry.)
 */
const makeVerifiedCache = (capacity: number, skewSeconds: number) => {
  const entries = new Map<string, { readonly subject: string; readonly exp: number; readonly nbf: number }>()
  return {
    get: (token: string): string | undefined => {
      const entry = entries.get(token)
      if (entry === undefined) return undefined
      const now = Date.now() / 1000
      if (now < entry.exp + skewSeconds && now >= entry.nbf - skewSeconds) return entry.subject
      entries.delete(token)
      return undefined
    },
    set: (token: string, subject: string, exp: number, nbf: number) => {
      if (entries.size >= capacity) entries.delete(entries.keys().next().value!)
      entries.set(token, { subject, exp, nbf })
    }
  }
}

/** Checks bearer tokens and answers whose they are. */
export class TokenVerifier extends Context.Service<TokenVerifier, {
  /** The token's subject, or why the token is refused. */
  verify(token: string): Effect.Effect<string, Unauthorized | ServiceUnavailable>
  /**
   * The subject of a token verified before and not expired since: what a
   * client's second request and every later one costs, with no Effect step.
   * Undefined means only that `verify` must decide.
   */
  verified(token: string): string | undefined
}>()("task-api/server/TokenVerifier") {
  static readonly layer = Layer.effect(
    TokenVerifier,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const { algorithms, key } = yield* keySource(config)
      const options = {
        algorithms: [...algorithms],
        requiredClaims: ["sub", "exp"],
        clockTolerance: Duration.toSeconds(config.jwtClockSkew),
        ...(config.jwtIssuer === undefined ? {} : { issuer: config.jwtIssuer }),
        ...(config.jwtAudience === undefined ? {} : { audience: config.jwtAudience })
      }
      const verifyJwt = (token: string) =>
        typeof key === "function" ? jwtVerify(token, key, options) : jwtVerify(token, key, options)
      const verified = makeVerifiedCache(4096, options.clockTolerance)
      const { tracing } = yield* RequestTelemetry

      const verify = (token: string): Effect.Effect<string, Unauthorized | ServiceUnavailable> => {
        if (token.length === 0) return Effect.fail(unauthorized(refusal.missing))
        const cached = verified.get(token)
        if (cached !== undefined) return Effect.succeed(cached)
        return Effect.tryPromise({ try: () => verifyJwt(token), catch: toRefusal }).pipe(
          Effect.flatMap(({ payload: { exp, nbf, sub } }) => {
            if (typeof sub !== "string" || sub.length === 0 || sub.length > 255) {
              return Effect.fail(unauthorized(refusal.subject))
            }
            verified.set(token, sub, exp!, nbf ?? 0)
            return Effect.succeed(sub)
          })
        )
      }
      return TokenVerifier.of({
        verify: tracing ? (token) => childSpan(verify(token), "TokenVerifier.verify") : verify,
        verified: verified.get
      })
    })
  )
}
