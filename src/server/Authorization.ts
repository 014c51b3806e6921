import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Authorization, CurrentOwner } from "../api/Authorization.ts"
import { Unauthorized } from "../domain/AccessErrors.ts"
import { AppConfig } from "./AppConfig.ts"
import { type Quota, RateLimit } from "./RateLimit.ts"
import { TokenVerifier } from "./TokenVerifier.ts"

/** Whose tasks every request sees when AUTH_MODE=none. */
export const developmentOwner = "local"

const realm = `Bearer realm="task-api"`

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

const makeLimit = (rateLimit: RateLimit["Service"]) => (key: string) =>
  rateLimit.consume(key).pipe(
    Effect.matchEffect({
      onSuccess: (quota) => quota === undefined ? Effect.void : withHeaders(quotaHeaders(quota)),
      onFailure: ({ error, quota, retryAfterSeconds }) =>
        Effect.andThen(
          withHeaders({ ...quotaHeaders(quota), "retry-after": String(retryAfterSeconds) }),
          Effect.fail(error)
        )
    })
  )

// RFC 6750 3: a request without credentials learns only the scheme; one with
// a bad token also learns why.
const challenge = (error: Unauthorized, tokenSent: boolean) =>
  Effect.andThen(
    withHeaders({
      "www-authenticate": tokenSent ? `${realm}, error="invalid_token", error_description="${error.detail}"` : realm
    }),
    Effect.fail(error)
  )

/** Bearer JWTs: the token's subject owns the request, and is its rate-limit key. */
const layerJwt = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const verifier = yield* TokenVerifier
    const limit = makeLimit(yield* RateLimit)
    return Authorization.of({
      bearer: (httpEffect, { credential }) =>
        Effect.gen(function*() {
          const token = Redacted.value(credential)
          const verified = yield* Effect.result(verifier.verify(token))
          if (Result.isSuccess(verified)) {
            yield* limit(`subject:${verified.success}`)
            return yield* Effect.provideService(httpEffect, CurrentOwner, verified.success)
          }
          if (!(verified.failure instanceof Unauthorized)) return yield* Effect.fail(verified.failure)
          // Counted too, so that guessing tokens is as limited as using them.
          yield* Effect.flatMap(clientAddress, limit)
          return yield* challenge(verified.failure, token !== "")
        })
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
    const limit = makeLimit(yield* RateLimit)
    return Authorization.of({
      bearer: (httpEffect) =>
        Effect.andThen(
          Effect.flatMap(clientAddress, limit),
          Effect.provideService(httpEffect, CurrentOwner, developmentOwner)
        )
    })
  })
)

export const layer = Layer.unwrap(Effect.map(AppConfig, ({ authMode }) => authMode === "jwt" ? layerJwt : layerNone))
  .pipe(Layer.provide(RateLimit.layer))
