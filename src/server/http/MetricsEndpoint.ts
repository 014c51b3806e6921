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

/**
 * `GET /metrics` on a port of its own (METRICS_PORT), so it can stay off the
 * public network; the main port then has no /metrics. A bare Node server:
 * scrapers need nothing else, and it never competes with the API's routes.
 */
export const serveOnPort = (host: string, port: number) =>
  Layer.effectDiscard(Effect.acquireRelease(
    Effect.callback<ReturnType<typeof createServer>, Error>((resume) => {
      const server = createServer((request, response) => {
        const path = (request.url ?? "").split("?")[0]
        if (path !== metricsPath) {
          refuse(response, 404, `Only ${metricsPath} is served on this port.`)
        } else if (request.method !== "GET" && request.method !== "HEAD") {
          refuse(response, 405, `${metricsPath} accepts only GET, HEAD.`, { allow: "GET, HEAD" })
        } else {
          response.writeHead(200, { ...neverStored, "content-type": prometheusContentType }).end(prometheusExposition())
        }
      })
      server.once("error", (error) => resume(Effect.fail(new Error(`METRICS_PORT ${port}: ${error.message}`))))
      server.listen(port, host, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.tap((server) => {
    const address = server.address()
    return Effect.logInfo(`Metrics at http://${host}:${typeof address === "object" && address ? address.port : port}${metricsPath}`)
  })))
