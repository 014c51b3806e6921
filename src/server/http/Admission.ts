import type { IncomingMessage, ServerResponse } from "node:http"

/** How much work the service takes on at once, and how long a request may wait for its turn. */
export interface AdmissionLimits {
  /** Requests being served at once (MAX_IN_FLIGHT); the rest wait in arrival order. */
  readonly maxInFlight: number
  /** How long a request may wait for its turn (MAX_QUEUE_WAIT, ms); one that would wait longer is a 503 at once. */
  readonly maxQueueWaitMs: number
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void

interface Waiting {
  readonly handler: Handler
  readonly request: IncomingMessage
  readonly response: ServerResponse
  readonly arrived: number
  next: Waiting | undefined
}

/** What the service tells about what it refused, at most once per interval. */
export interface Shedding {
  /** Answers a request the service will not serve now (a 503), with no Effect step and no database. */
  readonly refuse: (request: IncomingMessage, response: ServerResponse) => void
  /** Called every `reportEveryMs` while requests were refused since the last call. */
  readonly report: (refused: number, inFlight: number, waiting: number) => void
}

// The paths that are never held back: a probe or a scrape must be answered
// whatever the load, since a balancer, an orchestrator or an alert waits on it.
const probes = new Set(["/health", "/ready", "/metrics"])
const isProbe = (url: string | undefined) => {
  if (url === undefined) return false
  const query = url.indexOf("?")
  return probes.has(query === -1 ? url : url.slice(0, query))
}

// Each admission's listener for a response's end, so that `releaseAdmission`
// can tell it among the others a response has.
const admissionListeners = new WeakSet<(this: ServerResponse) => void>()

/**
 * Gives back the place a request took, while its response stays open: a
 * subscription's stream, open for as long as its client listens, is no work
 * in flight, and must not keep others waiting.
 */
export const releaseAdmission = (response: ServerResponse) => {
  for (const listener of response.listeners("close") as Array<(this: ServerResponse) => void>) {
    if (!admissionListeners.has(listener)) continue
    response.off("close", listener)
    listener.call(response)
  }
}

const tickMs = 100
const reportEveryMs = 5_000

/**
 * Admission at the server's door, before any Effect or database work: at
 * most `maxInFlight` requests are served at once; the others wait, in
 * arrival order, for at most `maxQueueWaitMs`. A request that would wait
 * longer, by the rate requests have been finishing at, is refused at once
 * (a 503 with Retry-After), as is one still waiting when its time is up:
 * past saturation the service says "not now" quickly instead of letting
 * every request queue until its client gives up.
 *
 * Why it is needed: every request that reaches the service starts a fiber
 * that runs until its first wait, and fibers take their turns in one queue.
 * With thousands of requests arriving at once (4,000 connections opening),
 * a probe's fiber queued behind all of theirs, and each loop of the event
 * loop took seconds. Bounded work in flight keeps that queue short; waiting
 * costs a request one entry in an array. Probes and scrapes are never held.
 */
export const makeAdmission = (limits: AdmissionLimits, shedding: Shedding) => {
  let inFlight = 0
  // Those waiting, oldest first, as a linked list: taking the oldest is O(1).
  let oldest: Waiting | undefined
  let newest: Waiting | undefined
  let waitingCount = 0
  // How many requests a second the service finishes when it has all it can
  // take: measured only over ticks it spent full (its rate when not full says
  // how much was asked, not how much it can do), smoothed; unknown until then.
  let finishedSinceTick = 0
  let fullSinceTick = false
  let finishRate: number | undefined
  let refused = 0
  let lastReport = performance.now()

  const enqueue = (entry: Waiting) => {
    if (newest === undefined) oldest = entry
    else newest.next = entry
    newest = entry
    waitingCount++
  }
  const dequeue = (): Waiting | undefined => {
    const entry = oldest
    if (entry === undefined) return undefined
    oldest = entry.next
    if (oldest === undefined) newest = undefined
    waitingCount--
    return entry
  }

  const refuse = (request: IncomingMessage, response: ServerResponse) => {
    refused++
    shedding.refuse(request, response)
  }

  // `this` is the response: one shared function, no closure per request.
  function finished(this: ServerResponse) {
    inFlight--
    finishedSinceTick++
    admitWaiting()
  }
  admissionListeners.add(finished)

  const serve = (handler: Handler, request: IncomingMessage, response: ServerResponse) => {
    if (++inFlight >= limits.maxInFlight) fullSinceTick = true
    response.on("close", finished)
    handler(request, response)
  }

  const admitWaiting = () => {
    const now = performance.now()
    while (inFlight < limits.maxInFlight) {
      const next = dequeue()
      if (next === undefined) return
      // Its client left while it waited: nothing to answer.
      if (next.response.destroyed || next.request.socket?.destroyed) continue
      if (now - next.arrived > limits.maxQueueWaitMs) refuse(next.request, next.response)
      else serve(next.handler, next.request, next.response)
    }
  }

  // Refuses those whose time ran out even while nothing finishes (a database
  // that stopped answering holds every request in flight until its deadline),
  // measures how fast requests finish, and reports what was refused.
  const tick = setInterval(() => {
    // A full tick in which nothing finished measures no rate: requests that
    // are slow to start (a cold process, a first connection) would read as
    // "0 a second" and refuse every arrival. A real stall is caught below,
    // by the time each waiting request has waited.
    if (fullSinceTick && finishedSinceTick > 0 && (inFlight >= limits.maxInFlight || waitingCount > 0)) {
      const rate = (finishedSinceTick * 1000) / tickMs
      finishRate = finishRate === undefined ? rate : 0.5 * finishRate + 0.5 * rate
    }
    finishedSinceTick = 0
    fullSinceTick = inFlight >= limits.maxInFlight
    const now = performance.now()
    while (oldest !== undefined && now - oldest.arrived > limits.maxQueueWaitMs) {
      const late = dequeue()!
      if (!late.response.destroyed) refuse(late.request, late.response)
    }
    if (refused > 0 && now - lastReport >= reportEveryMs) {
      shedding.report(refused, inFlight, waitingCount)
      refused = 0
      lastReport = now
    }
  }, tickMs)
  tick.unref()

  /** The server's request handler, behind admission. */
  const admit = (handler: Handler): Handler => (request, response) => {
    if (isProbe(request.url)) return handler(request, response)
    if (inFlight < limits.maxInFlight && waitingCount === 0) return serve(handler, request, response)
    // At the rate requests finish, this one would wait too long: refused now, not later.
    if (finishRate !== undefined && (waitingCount + 1) * 1000 > finishRate * limits.maxQueueWaitMs) {
      return refuse(request, response)
    }
    enqueue({ handler, request, response, arrived: performance.now(), next: undefined })
  }

  return {
    admit,
    /** Requests being served, and waiting for their turn. */
    load: () => ({ inFlight, waiting: waitingCount }),
    stop: () => clearInterval(tick)
  }
}

export type Admission = ReturnType<typeof makeAdmission>
