import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Headers from "effect/http/Headers"
import * as HttpTraceContext from "effect/http/HttpTraceContext"
import * as Option from "effect/Option"
import { entriesToAttributes, type KeyValue } from "effect/observability/OtlpResource"
import * as Tracer from "effect/Tracer"
import { randomFillSync } from "node:crypto"
import type { Sampler } from "./Sampler.ts"

/** A span as OTLP carries it (the shape Effect's serialisers, JSON and protobuf, take). */
export interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly traceState?: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly kind: number
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly attributes: Array<KeyValue>
  readonly droppedAttributesCount: number
  readonly events: Array<{
    readonly name: string
    readonly timeUnixNano: string
    readonly attributes: Array<KeyValue>
    readonly droppedAttributesCount: number
  }>
  readonly droppedEventsCount: number
  readonly status: { readonly code: StatusCode; readonly message?: string }
  readonly links: Array<never>
  readonly droppedLinksCount: number
}

const kinds: Record<Tracer.SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

// Ids from a pool of random bytes, refilled when used up: one system call per
// few hundred spans rather than one per id.
const pool = Buffer.alloc(4096)
let poolAt = pool.length
export const randomHex = (bytes: number) => {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  poolAt += bytes
  return pool.toString("hex", poolAt - bytes, poolAt)
}

const zeroId = /^0+$/

/**
 * A span of this service's tracer. The sampling decision is made once per
 * trace, where it enters the service (see `makeTracer`); a span that is not
 * sampled keeps its ids, for propagation and log lines, and records nothing.
 */
export class ServiceSpan implements Tracer.Span {
  readonly _tag = "Span"
  name: string
  readonly traceId: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly annotations: Context.Context<never>
  readonly links: Array<Tracer.SpanLink>
  readonly kind: Tracer.SpanKind
  readonly sampled: boolean
  /** The caller's W3C `tracestate`, carried by every span of the trace in this service. */
  traceState: string | undefined
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  events: Array<[name: string, time: bigint, attributes: Record<string, unknown> | undefined]> | undefined
  #spanId: string | undefined
  readonly #onEnd: (span: ServiceSpan) => void

  constructor(
    options: Parameters<Tracer.Tracer["span"]>[0],
    traceId: string,
    sampled: boolean,
    traceState: string | undefined,
    onEnd: (span: ServiceSpan) => void
  ) {
    this.name = options.name
    this.parent = options.parent
    this.annotations = options.annotations
    this.links = options.links
    this.kind = options.kind
    this.traceId = traceId
    this.sampled = sampled
    this.traceState = traceState
    this.status = { _tag: "Started", startTime: options.startTime }
    this.#onEnd = onEnd
  }

  get spanId(): string {
    return this.#spanId ??= randomHex(8)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    if (this.sampled) this.#onEnd(this)
  }

  attribute(key: string, value: unknown): void {
    if (this.sampled && this.status._tag === "Started") this.attributes.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.sampled && this.status._tag === "Started") (this.events ??= []).push([name, startTime, attributes])
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    if (this.sampled) this.links.push(...links)
  }
}

/** Where a request stands in its trace: the trace's id, and the request's SERVER span when the trace is recorded. */
export interface RequestTrace {
  readonly traceId: string
  readonly span: ServiceSpan | undefined
}

export interface ServiceTracer {
  readonly tracer: Tracer.Tracer
  /**
   * Decides a request's sampling where it enters the service: with the
   * caller's W3C `traceparent` (its sampled flag, for the parent-based
   * samplers) and `tracestate`, or as the root of a new trace. Only a
   * recorded trace gets a span: one that is not costs an id, nothing more.
   */
  readonly beginRequest: (
    method: string,
    headers: Headers.Headers,
    clock: Clock.Clock
  ) => RequestTrace
}

/**
 * The tracer: spans below a request's SERVER span follow its sampling
 * decision. Sampled spans go to `exportSpan` when they end.
 */
export const makeTracer = (sampler: Sampler, exportSpan: (span: OtlpSpan) => void): ServiceTracer => {
  const onEnd = (span: ServiceSpan) => exportSpan(toOtlp(span))
  const tracer = Tracer.make({
    span(options) {
      const parent = Option.getOrUndefined(options.parent)
      if (parent instanceof ServiceSpan) {
        return new ServiceSpan(options, parent.traceId, parent.sampled, parent.traceState, onEnd)
      }
      const remote = parent !== undefined && !zeroId.test(parent.traceId) ? parent : undefined
      const traceId = remote?.traceId ?? randomHex(16)
      return new ServiceSpan(options, traceId, sampler(remote?.sampled, traceId), undefined, onEnd)
    }
  })
  return {
    tracer,
    beginRequest: (method, headers, clock) => {
      const remote = headers.traceparent === undefined ? undefined : Option.getOrUndefined(HttpTraceContext.w3c(headers))
      const traceId = remote?.traceId ?? randomHex(16)
      if (!sampler(remote?.sampled, traceId)) return { traceId, span: undefined }
      const traceState = headers.tracestate
      const span = new ServiceSpan(
        {
          name: method,
          parent: remote === undefined ? Option.none() : Option.some(remote),
          annotations: Context.empty(),
          links: [],
          startTime: clock.currentTimeNanosUnsafe(),
          kind: "server",
          root: remote === undefined,
          sampled: true
        },
        traceId,
        true,
        remote !== undefined && traceState !== undefined && traceState.length <= 512 ? traceState : undefined,
        onEnd
      )
      return { traceId, span }
    }
  }
}

/** OTLP's status codes: unset, ok, error. */
type StatusCode = 0 | 1 | 2

const statusOf = (exit: Exit.Exit<unknown, unknown>): { code: StatusCode; message?: string } => {
  if (exit._tag === "Success") return { code: 0 }
  if (Cause.hasInterruptsOnly(exit.cause)) return { code: 0 }
  const error = Cause.squash(exit.cause)
  return { code: 2, message: error instanceof Error ? error.message : String(error) }
}

/**
 * A span in OTLP form. A failure is recorded as its type and message only:
 * no stack trace, and no cause, so no driver text or bound value travels.
 */
const toOtlp = (span: ServiceSpan): OtlpSpan => {
  const status = span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>
  const otlpStatus = statusOf(status.exit)
  const events: OtlpSpan["events"] = (span.events ?? []).map(([name, time, attributes]) => ({
    name,
    timeUnixNano: String(time),
    attributes: attributes === undefined ? [] : entriesToAttributes(Object.entries(attributes)),
    droppedAttributesCount: 0
  }))
  if (otlpStatus.code === 2 && status.exit._tag === "Failure") {
    const error = Cause.squash(status.exit.cause)
    events.push({
      name: "exception",
      timeUnixNano: String(status.endTime),
      attributes: entriesToAttributes([
        ["exception.type", error instanceof Error ? (error as { _tag?: string })._tag ?? error.name : typeof error],
        ["exception.message", otlpStatus.message ?? ""]
      ]),
      droppedAttributesCount: 0
    })
  }
  const parent = Option.getOrUndefined(span.parent)
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    ...(span.traceState === undefined ? {} : { traceState: span.traceState }),
    parentSpanId: parent?.spanId,
    name: span.name,
    kind: kinds[span.kind],
    startTimeUnixNano: String(status.startTime),
    endTimeUnixNano: String(status.endTime),
    attributes: entriesToAttributes(span.attributes),
    droppedAttributesCount: 0,
    events,
    droppedEventsCount: 0,
    status: otlpStatus,
    links: [],
    droppedLinksCount: 0
  }
}

/** What a child span is: its name, kind and attributes, worked out only when the span is recorded. */
export interface SpanDescription {
  readonly name: string
  readonly kind?: Tracer.SpanKind
  readonly attributes?: Record<string, unknown>
}

/**
 * Runs `effect` in a child span of the current one, when the trace is being
 * recorded, and as it is otherwise: a request that is not sampled pays for
 * one lookup, not for a span. Lighter than Effect.withSpan, which captures a
 * stack trace and provides a stack frame for every span.
 */
export const childSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  description: string | SpanDescription | (() => SpanDescription)
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const parent = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
    if (!(parent instanceof ServiceSpan) || !parent.sampled) return effect
    const { attributes, kind, name } = typeof description === "string"
      ? { name: description, kind: undefined, attributes: undefined }
      : typeof description === "function"
      ? description()
      : description
    const clock = fiber.getRef(Clock.Clock)
    const span = fiber.getRef(Tracer.Tracer).span({
      name,
      parent: Option.some(parent),
      annotations: Context.empty(),
      links: [],
      startTime: clock.currentTimeNanosUnsafe(),
      kind: kind ?? "internal",
      root: false,
      sampled: true
    })
    if (attributes !== undefined) for (const [key, value] of Object.entries(attributes)) span.attribute(key, value)
    return Effect.onExit(
      Effect.provideService(effect, Tracer.ParentSpan, span),
      (exit) => Effect.sync(() => span.end(clock.currentTimeNanosUnsafe(), exit))
    )
  })
