import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { TooManyRequests } from "../domain/AccessErrors.ts"
import { AppConfig } from "./AppConfig.ts"

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

const seconds = (duration: Duration.Duration) => Math.max(0, Math.ceil(Duration.toMillis(duration) / 1000))

// A store that does not answer must not take the API down with it: the
// request goes through unlimited, and the failure is logged (at most every
// 10 s, since it would otherwise log once per request).
const redisTimeout = Duration.millis(250)
const warnEveryMs = 10_000

/**
 * A token bucket per caller: `RATE_LIMIT_REQUESTS` requests at once, refilled
 * evenly over `RATE_LIMIT_WINDOW`. Buckets live in this process, or in Redis
 * when `REDIS_URL` is set, so that every instance shares them.
 */
export class RateLimit extends Context.Service<RateLimit, {
  /** Takes one request from `key`'s bucket. Undefined when limiting is off. */
  consume(key: string): Effect.Effect<Quota | undefined, Refusal>
}>()("task-api/server/RateLimit") {
  /** A limiter over the RateLimiter's store; `storeTimeout` bounds a remote store's answer. */
  static readonly make = (storeTimeout?: Duration.Duration) => Effect.gen(function*() {
    const { rateLimitRequests: limit, rateLimitWindow: window } = yield* AppConfig
    const limiter = yield* RateLimiter.RateLimiter
    const policy = `${limit};w=${seconds(window)}`
    let lastWarning = 0

    const failOpen = (cause: unknown) =>
      Effect.suspend(() => {
        if (Date.now() - lastWarning < warnEveryMs) return Effect.undefined
        lastWarning = Date.now()
        return Effect.as(Effect.logWarning("Rate limits are not applied: the store does not answer", cause), undefined)
      })

    const bounded = <A, E>(effect: Effect.Effect<A, E>) =>
      storeTimeout === undefined
        ? effect
        : Effect.timeoutOrElse(effect, { duration: storeTimeout, orElse: () => Effect.fail("timed out" as const) })

    return RateLimit.of({
      consume: (key) =>
        limiter.consume({ algorithm: "token-bucket", onExceeded: "fail", key, limit, window }).pipe(
          bounded,
          Effect.map((result): Quota | undefined => ({
            limit,
            remaining: Math.max(0, result.remaining),
            resetSeconds: seconds(result.resetAfter),
            policy
          })),
          Effect.catch((error) => {
            if (typeof error !== "string" && error.reason._tag === "RateLimitExceeded") {
              const retryAfterSeconds = Math.max(1, seconds(error.reason.retryAfter))
              return Effect.fail({
                error: new TooManyRequests({
                  detail: `Too many requests; this caller may send ${limit} per ${Duration.format(window)}. ` +
                    `Retry in ${retryAfterSeconds} s.`
                }),
                quota: { limit, remaining: 0, resetSeconds: retryAfterSeconds, policy },
                retryAfterSeconds
              })
            }
            return failOpen(error)
          })
        )
    })
  })

  /** Off (RATE_LIMIT_REQUESTS=0), in this process, or in Redis. */
  static readonly layer = Layer.unwrap(Effect.map(AppConfig, ({ rateLimitRequests, redisUrl }) => {
    if (rateLimitRequests === 0) return Layer.succeed(RateLimit, RateLimit.of({ consume: () => Effect.undefined }))
    const over = (store: Layer.Layer<RateLimiter.RateLimiterStore, Error>, storeTimeout?: Duration.Duration) =>
      Layer.effect(RateLimit, RateLimit.make(storeTimeout)).pipe(Layer.provide(RateLimiter.layer), Layer.provide(store))
    return redisUrl === undefined ? over(layerStoreMemory) : over(layerStoreRedis(redisUrl), redisTimeout)
  }))
}

const layerStoreRedis = (url: Redacted.Redacted<string>) =>
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

/**
 * Effect's memory store with token buckets that are forgotten once full
 * again: its own keeps every key it has seen, and keys include client
 * addresses, which anyone can make new ones of.
 */
const layerStoreMemory = Layer.effect(
  RateLimiter.RateLimiterStore,
  Effect.gen(function*() {
    const base = yield* Effect.provide(Effect.service(RateLimiter.RateLimiterStore), RateLimiter.layerStoreMemory)
    const buckets = new Map<string, { tokens: number; lastRefill: number; fullAt: number }>()

    yield* Effect.sync(() => {
      const now = Date.now()
      for (const [key, bucket] of buckets) if (bucket.fullAt <= now) buckets.delete(key)
    }).pipe(Effect.repeat(Schedule.spaced("1 minute")), Effect.forkScoped)

    return RateLimiter.RateLimiterStore.of({
      ...base,
      tokenBucket: ({ allowOverflow, key, limit, refillRate, tokens }) =>
        Effect.sync(() => {
          const refillMs = Duration.toMillis(refillRate)
          const now = Date.now()
          const bucket = buckets.get(key) ?? { tokens: limit, lastRefill: now, fullAt: now }
          const refilled = Math.floor((now - bucket.lastRefill) / refillMs)
          if (refilled > 0) {
            bucket.tokens = Math.min(limit, bucket.tokens + refilled)
            bucket.lastRefill += refilled * refillMs
          }
          if (bucket.tokens >= limit) bucket.lastRefill = now
          const left = bucket.tokens - tokens
          if (allowOverflow || left >= 0) bucket.tokens = left
          bucket.fullAt = bucket.lastRefill + (limit - bucket.tokens) * refillMs
          buckets.set(key, bucket)
          return [left, now - bucket.lastRefill] as const
        })
    })
  })
)
