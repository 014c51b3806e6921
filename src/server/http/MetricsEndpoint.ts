import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import { createServer, type ServerResponse } from "node:http"
import { prometheusContentType, prometheusExposition } from "../observability/Metrics.ts"
import { problemContentType, problemDocument } from "./ProblemResponses.ts"

export const metricsPath = "/metrics" as const

// A scrape describes this instance at this moment: never stored by a cache.
const neverStored = { "cache-control": "no-store" }

const refuse = (response: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}) =>
  response.writeHead(status, { ...headers, ...neverStored, "content-type": problemContentType }).end(
    JSON.stringify(problemDocument(status, detail))
  )

const exposition = Effect.sync(() => HttpServerResponse.text(prometheusExposition(), { contentType: prometheusContentType }))

/** `GET /metrics` on the service's own port: open like /health, outside authorization and rate limits. */
export const route = HttpRouter.add("GET", metricsPath, exposition)

/** The probes, as the management port answers them: whether the instance is ready, else why not. */
export interface Probes {
  readonly ready: () => Promise<{ readonly ready: true } | { readonly ready: false; readonly detail: string }>
}

const probeBody = JSON.stringify({ status: "ok" })

/**
 * A port of its own (METRICS_PORT) for what operators' machines ask: the
 * scrape (`/metrics`, then absent from the main port) and the probes
 * (`/health`, `/ready`, answered as on the main port). A bare Node server
 * with its own listening socket: under a storm of connections to the main
 * port, a probe waits neither in its accept queue (Node accepts one
 * connection per turn of the event loop) nor behind admission; scrapers
 * and orchestrators need nothing else.
 */
export const serveOnPort = (host: string, port: number, probes: Probes) =>
  Layer.effectDiscard(Effect.acquireRelease(
    Effect.callback<ReturnType<typeof createServer>, Error>((resume) => {
      const server = createServer((request, response) => {
        const path = (request.url ?? "").split("?")[0]
        const served = path === metricsPath || path === "/health" || path === "/ready"
        if (!served) {
          refuse(response, 404, `Only ${metricsPath}, /health and /ready are served on this port.`)
        } else if (request.method !== "GET" && request.method !== "HEAD") {
          refuse(response, 405, `${path} accepts only GET, HEAD.`, { allow: "GET, HEAD" })
        } else if (path === metricsPath) {
          response.writeHead(200, { ...neverStored, "content-type": prometheusContentType }).end(prometheusExposition())
        } else if (path === "/health") {
          response.writeHead(200, { ...neverStored, "content-type": "application/json" }).end(probeBody)
        } else {
          probes.ready().then((answer) =>
            answer.ready
              ? response.writeHead(200, { ...neverStored, "content-type": "application/json" }).end(probeBody)
              : refuse(response, 503, answer.detail, { "retry-after": "5" })
          )
        }
      })
      server.once("error", (error) => resume(Effect.fail(new Error(`METRICS_PORT ${port}: ${error.message}`))))
      server.listen(port, host, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.tap((server) => {
    const address = server.address()
    const at = `http://${host}:${typeof address === "object" && address ? address.port : port}`
    return Effect.logInfo(`Metrics at ${at}${metricsPath}, probes at ${at}/health and ${at}/ready`)
  })))
