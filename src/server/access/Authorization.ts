// Access control: who is calling (bearer tokens) and how often they may (rate limits).
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Authorization, CurrentOwner } from "../../api/Authorization.ts"
import { type TooManyRequests, Unauthorized } from "../../domain/AccessErrors.ts"
import type { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import { AppConfig } from "../AppConfig.ts"
import { type Quota, RateLimit } from "./RateLimit.ts"
import { countRateLimited, countUnauthorized } from "../observability/Metrics.ts"
import { refusal, TokenVerifier } from "./TokenVerifier.ts"

/** Whose tasks every request sees when AUTH_MODE=none. */
export const developmentOwner = "local"

const realm = `Bearer realm="task-api"`

/** Headers for whatever answer the request gets, errors included (built after this middleware). */
const withHeaders = (headers: Record<string, string>) =>
  HttpEffect.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeaders(response, headers))
  )

const quotaHeaders = (quota: Quota) => ({
  "ratelimit-limit": String(quota.limit),
  "ratelimit-remaining": String(quota.remaining),
  "ratelimit-reset": String(quota.resetSeconds),
  "ratelimit-policy": quota.policy
})

/** Callers the service cannot name are limited by their address. */
const clientAddress = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => `address:${Option.getOrElse(request.remoteAddress, () => "unknown")}`
)

/**
 * Runs `httpEffect` if `key`'s bucket has a request left, and tells the client
 * its quota either way. A success gets the headers directly; the pre-response
 * hook, which costs more, is only for answers built from failures.
 */
const makeAdmit = (rateLimit: RateLimit["Service"]) =>
<A extends HttpServerResponse.HttpServerResponse, E, R>(key: string, httpEffect: Effect.Effect<A, E, R>) =>
  Effect.matchEffect(rateLimit.consume(key), {
    onFailure: ({ error, quota, retryAfterSeconds }) => {
      countRateLimited()
      return Effect.andThen(
        withHeaders({ ...quotaHeaders(quota), "retry-after": String(retryAfterSeconds) }),
        Effect.fail(error)
      )
    },
    onSuccess: (quota) => {
      if (quota === undefined) return httpEffect
      const headers = quotaHeaders(quota)
      return httpEffect.pipe(
        Effect.map((response) => HttpServerResponse.setHeaders(response, headers)),
        Effect.tapError(() => withHeaders(headers))
      )
    }
  })

// Why a token was refused, as a bounded label for the 401 counter.
const reasons = new Map<string, string>(Object.entries(refusal).map(([reason, detail]) => [detail, reason]))

// RFC 6750 3: a request without credentials learns only the scheme; one with
// a bad token also learns why.
const challenge = (error: Unauthorized, tokenSent: boolean) => {
  countUnauthorized(reasons.get(error.detail ?? "") ?? "other")
  return Effect.andThen(
    withHeaders({
      "www-authenticate": tokenSent ? `${realm}, error="invalid_token", error_description="${error.detail}"` : realm
    }),
    Effect.fail(error)
  )
}

/** Bearer JWTs: the token's subject owns the request, and is its rate-limit key. */
const layerJwt = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const verifier = yield* TokenVerifier
    const admit = makeAdmit(yield* RateLimit)
    return Authorization.of({
      bearer: (httpEffect, { credential }) => {
        const token = Redacted.value(credential)
        return Effect.matchEffect(verifier.verify(token), {
          onSuccess: (owner) => admit(`subject:${owner}`, Effect.provideService(httpEffect, CurrentOwner, owner)),
          // Counted too, so that guessing tokens is as limited as using them.
          onFailure: (error): Effect.Effect<
            HttpServerResponse.HttpServerResponse,
            Unauthorized | TooManyRequests | ServiceUnavailable,
            HttpServerRequest.HttpServerRequest
          > =>
            error instanceof Unauthorized
              ? Effect.flatMap(clientAddress, (address) => admit(address, challenge(error, token.length > 0)))
              : Effect.fail(error)
        })
      }
    })
  })
).pipe(Layer.provide(TokenVerifier.layer))

/** One fixed owner and no authentication, for development on one machine. */
const layerNone = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    yield* Effect.logWarning(
      `AUTH_MODE=none: AUTHENTICATION IS OFF. Every request acts as the owner "${developmentOwner}". ` +
        "Use it only for development; set AUTH_MODE=jwt and JWT_SECRET (or JWKS_URL, JWKS_FILE) to serve users."
    )
    const admit = makeAdmit(yield* RateLimit)
    return Authorization.of({
      bearer: (httpEffect) =>
        Effect.flatMap(clientAddress, (address) =>
          admit(address, Effect.provideService(httpEffect, CurrentOwner, developmentOwner)))
    })
  })
)

export const layer = Layer.unwrap(Effect.map(AppConfig, ({ authMode }) => authMode === "jwt" ? layerJwt : layerNone))
  .pipe(Layer.provide(RateLimit.layer))
