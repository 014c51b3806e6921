import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { TooManyRequests } from "../../domain/AccessErrors.ts"
import { AppConfig } from "../AppConfig.ts"
import { RequestTelemetry } from "../observability/Telemetry.ts"
import { childSpan } from "../observability/Tracing.ts"

/** What is left of a caller's allowance, for the `RateLimit-*` headers. */
export interface Quota {
  readonly limit: number
  readonly remaining: number
  /** Seconds until the bucket is full again. */
  readonly resetSeconds: number
  /** `RateLimit-Policy`: the bucket's size and the window that refills it. */
  readonly policy: string
}

export interface Refusal {
  readonly error: TooManyRequests
  readonly quota: Quota
  readonly retryAfterSeconds: number
}

interface Policy {
  readonly limit: number
  readonly window: Duration.Duration
}

const ceilSeconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000))

const refusal = ({ limit, window }: Policy, retryAfterMs: number): Refusal => {
  const retryAfterSeconds = Math.max(1, ceilSeconds(retryAfterMs))
  return {
    error: new TooManyRequests({
      detail: `Too many requests; this caller may send ${limit} per ${Duration.format(window)}. ` +
        `Retry in ${retryAfterSeconds} s.`
    }),
    quota: { limit, remaining: 0, resetSeconds: retryAfterSeconds, policy: policyOf({ limit, window }) },
    retryAfterSeconds
  }
}

/** Whether what a store answered is a refusal rather than a quota. */
export const isRefusal = (answer: Quota | Refusal): answer is Refusal => "retryAfterSeconds" in answer

const policyOf = ({ limit, window }: Policy) => `${limit};w=${ceilSeconds(Duration.toMillis(window))}`

/**
 * A token bucket per caller: `RATE_LIMIT_REQUESTS` requests at once, refilled
 * evenly over `RATE_LIMIT_WINDOW`. Buckets live in this process, or in Redis
 * when `REDIS_URL` is set, so that every instance shares them.
 */
export class RateLimit extends Context.Service<RateLimit, {
  /** Takes one request from `key`'s bucket. Undefined when limiting is off. */
  consume(key: string): Effect.Effect<Quota | undefined, Refusal>
  /**
   * The same, at once, for a store that needs no waiting (buckets in this
   * process, or none): a request then passes with no Effect step. Absent
   * for a store that must be asked (Redis).
   */
  readonly takeNow?: (key: string) => Quota | Refusal | undefined
}>()("task-api/server/RateLimit") {
  /**
   * Buckets in this process, forgotten once full again: keys include client
   * addresses, which anyone can make new ones of. Every request passes here,
   * so it is plain arithmetic with no store to wait for.
   */
  static readonly makeMemory = (policy: Policy) =>
    Effect.gen(function*() {
      const { limit } = policy
      const tokensPerMs = limit / Duration.toMillis(policy.window)
      const policyHeader = policyOf(policy)
      const buckets = new Map<string, { tokens: number; at: number }>()

      yield* Effect.sync(() => {
        const now = Date.now()
        for (const [key, bucket] of buckets) {
          if (bucket.tokens + (now - bucket.at) * tokensPerMs >= limit) buckets.delete(key)
        }
      }).pipe(Effect.repeat(Schedule.spaced("1 minute")), Effect.forkScoped)

      const takeNow = (key: string): Quota | Refusal => {
        const now = Date.now()
        const bucket = buckets.get(key)
        const tokens = bucket === undefined ? limit : Math.min(limit, bucket.tokens + (now - bucket.at) * tokensPerMs)
        if (tokens < 1) return refusal(policy, (1 - tokens) / tokensPerMs)
        const left = tokens - 1
        // Updated in place: a new object per request, held by a long-lived
        // map, is what the garbage collector promotes.
        if (bucket === undefined) buckets.set(key, { tokens: left, at: now })
        else (bucket.tokens = left, bucket.at = now)
        return { limit, remaining: Math.floor(left), resetSeconds: ceilSeconds((limit - left) / tokensPerMs), policy: policyHeader }
      }

      return RateLimit.of({
        consume: (key) =>
          Effect.suspend(() => {
            const taken = takeNow(key)
            return isRefusal(taken) ? Effect.fail(taken) : Effect.succeed(taken)
          }),
        takeNow
      })
    })

  /**
   * Buckets in Redis, through Effect's RateLimiter. A store that does not
   * answer (within 250 ms) must not take the API down with it: the request
   * goes through unlimited, and the failure is logged at most every 10 s.
   */
  static readonly makeShared = (policy: Policy) =>
    Effect.gen(function*() {
      const { limit, window } = policy
      const limiter = yield* RateLimiter.RateLimiter
      const policyHeader = policyOf(policy)
      let lastWarning = 0

      const failOpen = (cause: unknown) =>
        Effect.suspend(() => {
          if (Date.now() - lastWarning < 10_000) return Effect.undefined
          lastWarning = Date.now()
          return Effect.as(Effect.logWarning("Rate limits are not applied: the store does not answer", cause), undefined)
        })

      const { tracing } = yield* RequestTelemetry
      // The store's round trip, as the database conventions trace a Redis call.
      const inClientSpan = <A, E>(effect: Effect.Effect<A, E>) =>
        tracing
          ? childSpan(effect, {
            name: "EVALSHA",
            kind: "client",
            attributes: { "db.system.name": "redis", "db.operation.name": "EVALSHA" }
          })
          : effect

      return RateLimit.of({
        consume: (key) =>
          inClientSpan(limiter.consume({ algorithm: "token-bucket", onExceeded: "fail", key, limit, window })).pipe(
            Effect.timeoutOrElse({ duration: "250 millis", orElse: () => Effect.fail("timed out" as const) }),
            Effect.map((result): Quota | undefined => ({
              limit,
              remaining: Math.max(0, result.remaining),
              resetSeconds: ceilSeconds(Duration.toMillis(result.resetAfter)),
              policy: policyHeader
            })),
            Effect.catch((error) =>
              typeof error !== "string" && error.reason._tag === "RateLimitExceeded"
                ? Effect.fail(refusal(policy, Duration.toMillis(error.reason.retryAfter)))
                : failOpen(error)
            )
          )
      })
    })

  /** Off (RATE_LIMIT_REQUESTS=0), in this process, or in Redis; traced as `RateLimit.consume` when tracing is on. */
  static readonly layer = Layer.unwrap(Effect.map(AppConfig, (config) => {
    const { authMode, databaseUrl, rateLimitRequests, rateLimitWindow, redisUrl } = config
    const policy = { limit: rateLimitRequests, window: rateLimitWindow }
    if (rateLimitRequests === 0) {
      return Layer.succeed(RateLimit, RateLimit.of({ consume: () => Effect.undefined, takeNow: () => undefined }))
    }
    if (redisUrl === undefined) {
      // A service on a shared PostgreSQL is likely one of several: each
      // counts alone, so N instances let a caller send N times the limit.
      const perInstance = authMode === "jwt" && databaseUrl !== undefined
        ? Effect.logWarning(
          `Rate limits are kept in this process: with several instances, each allows ${rateLimitRequests} ` +
            `requests per ${Duration.format(rateLimitWindow)} on its own. Set REDIS_URL to share them.`
        )
        : Effect.void
      return Layer.effect(RateLimit, Effect.andThen(perInstance, traced(RateLimit.makeMemory(policy))))
    }
    return Layer.effect(RateLimit, traced(RateLimit.makeShared(policy))).pipe(
      Layer.provide(RateLimiter.layer),
      Layer.provide(layerStoreRedis(redisUrl))
    )
  }))
}

const traced = <E, R>(make: Effect.Effect<RateLimit["Service"], E, R>) =>
  Effect.zipWith(make, RequestTelemetry, (rateLimit, { tracing }) =>
    tracing
      ? RateLimit.of({ ...rateLimit, consume: (key) => childSpan(rateLimit.consume(key), "RateLimit.consume") })
      : rateLimit)

// The Redis client is loaded only when REDIS_URL asks for it (start-up time).
const layerStoreRedis = (url: Redacted.Redacted<string>) =>
  Layer.unwrap(Effect.promise(() => import("@effect/platform-node/NodeRedis")).pipe(Effect.map((NodeRedis) =>
    Layer.effect(
      RateLimiter.RateLimiterStore,
      Effect.gen(function*() {
        const { client } = yield* NodeRedis.NodeRedis
        // Runs before the client's own close, which waits for every command
        // sent: a Redis that stopped answering would hold up shutdown forever.
        yield* Effect.addFinalizer(() => Effect.sync(() => client.isOpen && client.destroy()))
        return yield* RateLimiter.makeStoreRedis({ prefix: "task-api:ratelimit:" })
      })
    ).pipe(
      // Fail fast while disconnected, rather than queue until Redis is back.
      Layer.provide(NodeRedis.layer({ url: Redacted.value(url), disableOfflineQueue: true })),
      Layer.catch((error) =>
        Layer.effect(
          RateLimiter.RateLimiterStore,
          Effect.fail(new Error(`REDIS_URL: Redis does not answer (${error.message})`))
        )
      )
    )
  )))
