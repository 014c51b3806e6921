import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Stream from "effect/Stream"
import {
  type DocumentNode,
  executeSubscriptionEvent,
  type ExecutionResult,
  validateSubscriptionArgs,
  type ValidatedSubscriptionArgs
} from "graphql"
import type { ServerResponse } from "node:http"
import type { RequestParams } from "graphql-http"
import { taskGraphSchema } from "../../api/TaskGraph.ts"
import { subscriptionClosed, subscriptionOpened } from "../observability/Metrics.ts"
import type { TaskEvent, TaskEvents } from "../tasks/TaskEvents.ts"
import { releaseAdmission } from "./Admission.ts"
import type { DrainState } from "./Draining.ts"
import { graphqlResponse, refused } from "./GraphqlTransport.ts"
import { problem } from "./ProblemResponses.ts"

// Subscriptions over Server-Sent Events, as the graphql-sse protocol's
// "distinct connections" mode has them: one POST per subscription, answered
// with a `text/event-stream` of `next` events. Each instance hears every
// instance's changes (TaskEvents), so no balancer needs sticky sessions.

/** Whether the client asks for an event stream: a graphql-sse subscription. */
export const wantsEventStream = (accept: string | undefined) => accept !== undefined && /\btext\/event-stream\b/i.test(accept)

/**
 * A comment line this often keeps an idle stream open through whatever
 * stands between: HAProxy (deploy/) cuts a response silent for 10 s.
 */
export const keepAliveMs = 5_000

const encoder = new TextEncoder()
const keepAlive = encoder.encode(": keep-alive\n\n")
const nextEvent = (result: ExecutionResult) => `event: next\ndata: ${JSON.stringify(result)}\n\n`

/** The subscription's selection over one event. Synchronous: no field under `taskEvents` resolves by a promise. */
const resultOf = (validated: ValidatedSubscriptionArgs, event: TaskEvent): ExecutionResult => {
  const result = executeSubscriptionEvent({ ...validated, rootValue: { taskEvents: event } })
  if (result instanceof Promise) throw new Error("A field under taskEvents resolved by a promise")
  return result
}

/**
 * The subscription streams of one server: at most `maxOpen` at once, each
 * ended when the instance leaves, and each cut (its connection closed) when
 * its client reads too slowly to keep its buffer from filling.
 *
 * A stream ends without graphql-sse's `complete` event, which tells the
 * client to subscribe again (Effect's GraphQLClient does so by itself): on
 * another instance when this one is leaving. A subscriber hears of no change
 * made while it is not subscribed; it reads what it missed with `tasks`.
 */
export const makeSubscriptions = (options: {
  readonly events: TaskEvents["Service"]
  readonly maxOpen: number
  readonly drain: DrainState
}) => {
  const { drain, events, maxOpen } = options
  let open = 0
  // How each open stream ends when the instance leaves.
  const leaving = new Set<() => void>()
  drain.leaving.add(() => {
    for (const leave of leaving) leave()
  })

  return (document: DocumentNode, params: RequestParams, owner: string) =>
    Effect.gen(function*() {
      const validated = validateSubscriptionArgs({
        schema: taskGraphSchema,
        document,
        operationName: params.operationName,
        variableValues: params.variables
      })
      if (!("schema" in validated)) return refused(graphqlResponse, validated)
      if (open >= maxOpen) {
        return problem(503, "This instance serves as many subscriptions as it can; try again shortly.", {
          "retry-after": "5"
        })
      }
      const request = yield* HttpServerRequest.HttpServerRequest
      const response = nodeResponseOf(request)
      // The stream stays open for as long as its client listens: it no longer takes a place among requests in flight.
      if (response !== undefined) releaseAdmission(response)
      // A client that stopped reading: its connection is closed, so neither its buffer nor ours grows.
      const cut = () => response?.destroy()

      const left = Deferred.makeUnsafe<void>()
      const leave = () => void Deferred.doneUnsafe(left, Effect.void)
      // Subscribed before the answer's head is sent: a change made once the client has it is in its stream.
      const changes = yield* events.subscribe(owner, cut)
      // Every event waiting is written at once, in one chunk: a write per event
      // waits a turn of the event loop for the connection to drain, and under
      // load a fast reader fell behind a burst of changes and was cut.
      const frames = changes.pipe(
        Stream.mapArray((events) => [encoder.encode(events.map((event) => nextEvent(resultOf(validated, event))).join(""))]),
        Stream.merge(Stream.map(Stream.tick(keepAliveMs), () => keepAlive), { haltStrategy: "left" }),
        Stream.interruptWhen(Deferred.await(left)),
        Stream.catch(() => Stream.empty),
        Stream.onStart(Effect.sync(() => {
          open++
          leaving.add(leave)
          subscriptionOpened()
        })),
        Stream.ensuring(Effect.sync(() => {
          open--
          leaving.delete(leave)
          subscriptionClosed()
        }))
      )
      // Cache-Control, as on every /graphql answer, is the edge's (AnswerHeaders).
      return HttpServerResponse.stream(frames, { contentType: "text/event-stream; charset=utf-8" })
    })
}

/** The Node response under the request, when it is served by Node (not in tests that call the routes in process). */
const nodeResponseOf = (request: HttpServerRequest.HttpServerRequest): ServerResponse | undefined => {
  try {
    const response = NodeHttpServerRequest.toServerResponse(request)
    return "destroy" in response && "req" in response ? response as ServerResponse : undefined
  } catch {
    return undefined
  }
}
