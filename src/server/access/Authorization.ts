// Access control: who is calling (bearer tokens) and how often they may (rate limits).
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Authorization, CurrentOwner } from "../../api/Authorization.ts"
import { type TooManyRequests, Unauthorized } from "../../domain/AccessErrors.ts"
import type { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import { AppConfig } from "../AppConfig.ts"
import { type Exchange, exchangeOf } from "../observability/Exchange.ts"
import { countRateLimited, countUnauthorized } from "../observability/Metrics.ts"
import { isRefusal, type Quota, RateLimit, type Refusal } from "./RateLimit.ts"
import { refusal, TokenVerifier } from "./TokenVerifier.ts"

/** Whose tasks every request sees when AUTH_MODE=none. */
export const developmentOwner = "local"

const realm = `Bearer realm="task-api"`

/** The endpoint's answer, or a refusal of this middleware's. */
type Answer<E = never, R = never> = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  E | Unauthorized | TooManyRequests | ServiceUnavailable,
  R
>

const quotaHeaders = (quota: Quota) => ({
  "ratelimit-limit": String(quota.limit),
  "ratelimit-remaining": String(quota.remaining),
  "ratelimit-reset": String(quota.resetSeconds),
  "ratelimit-policy": quota.policy
})

/** Callers the service cannot name are limited by their address (behind trusted proxies, the client's). */
const addressKey = (fiber: Fiber.Fiber<unknown, unknown>) => {
  const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
  return `address:${Option.getOrElse(request.remoteAddress, () => "unknown")}`
}

/**
 * Runs `httpEffect` if `key`'s bucket has a request left, and gives the
 * answer the caller's quota either way: in the request's Exchange, which the
 * edge merges into whatever the answer is. Buckets in this process are taken
 * at once, with no Effect step, unless the request's trace is recorded
 * (then `RateLimit.consume` has its span).
 */
const makeAdmit = (rateLimit: RateLimit["Service"]) => {
  const decided = <E, R>(taken: Quota | Refusal | undefined, httpEffect: Answer<E, R>, exchange: Exchange): Answer<E, R> => {
    if (taken === undefined) return httpEffect
    if (isRefusal(taken)) {
      countRateLimited()
      exchange.addHeaders({ ...quotaHeaders(taken.quota), "retry-after": String(taken.retryAfterSeconds) })
      return Effect.fail(taken.error)
    }
    exchange.addHeaders(quotaHeaders(taken))
    return httpEffect
  }
  return <E, R>(key: string, httpEffect: Answer<E, R>, exchange: Exchange): Answer<E, R> =>
    rateLimit.takeNow !== undefined && !exchange.recorded
      ? decided(rateLimit.takeNow(key), httpEffect, exchange)
      : Effect.matchEffect(rateLimit.consume(key), {
        onFailure: (refused) => decided(refused, httpEffect, exchange),
        onSuccess: (quota) => decided(quota, httpEffect, exchange)
      })
}

// Why a token was refused, as a bounded label for the 401 counter.
const reasons = new Map<string, string>(Object.entries(refusal).map(([reason, detail]) => [detail, reason]))

// RFC 6750 3: a request without credentials learns only the scheme; one with
// a bad token also learns why.
const challenge = (error: Unauthorized, tokenSent: boolean, exchange: Exchange) => {
  countUnauthorized(reasons.get(error.detail ?? "") ?? "other")
  exchange.addHeaders({
    "www-authenticate": tokenSent ? `${realm}, error="invalid_token", error_description="${error.detail}"` : realm
  })
  return Effect.fail(error)
}

/**
 * The request's Exchange, made by the edge for every request that reaches
 * a route. Its absence is a bug in how the routes were put together.
 */
const exchangeIn = (fiber: Fiber.Fiber<unknown, unknown>): Exchange => {
  const exchange = exchangeOf(fiber)
  if (exchange === undefined) throw new Error("Authorization runs only behind HttpEdge, which makes each request's Exchange")
  return exchange
}

/**
 * Bearer JWTs: the token's subject owns the request, and is its rate-limit
 * key. A token verified before (a client's every request but its first)
 * and a bucket in this process are one plain pass.
 */
const layerJwt = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const verifier = yield* TokenVerifier
    const admit = makeAdmit(yield* RateLimit)
    const asOwner = <E, R>(owner: string, httpEffect: Answer<E, R | CurrentOwner>, exchange: Exchange) =>
      admit(`subject:${owner}`, Effect.provideService(httpEffect, CurrentOwner, owner), exchange)
    return Authorization.of({
      bearer: (httpEffect, { credential }) =>
        Effect.withFiber((fiber) => {
          const exchange = exchangeIn(fiber)
          const token = Redacted.value(credential)
          // A recorded trace shows the verification as a span of its own.
          const known = exchange.recorded ? undefined : verifier.verified(token)
          if (known !== undefined) return asOwner(known, httpEffect, exchange)
          return Effect.matchEffect(verifier.verify(token), {
            onSuccess: (owner) => asOwner(owner, httpEffect, exchange),
            // Counted too, so that guessing tokens is as limited as using them.
            onFailure: (error) =>
              error instanceof Unauthorized
                ? admit(addressKey(fiber), challenge(error, token.length > 0, exchange), exchange)
                : Effect.fail(error)
          })
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
    const admit = makeAdmit(yield* RateLimit)
    return Authorization.of({
      bearer: (httpEffect) =>
        Effect.withFiber((fiber) =>
          admit(addressKey(fiber), Effect.provideService(httpEffect, CurrentOwner, developmentOwner), exchangeIn(fiber))
        )
    })
  })
)

export const layer = Layer.unwrap(Effect.map(AppConfig, ({ authMode }) => authMode === "jwt" ? layerJwt : layerNone))
  .pipe(Layer.provide(RateLimit.layer))
