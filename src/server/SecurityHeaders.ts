import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

// The API answers JSON only: nothing it sends may load or run anything.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// The docs page runs its inlined script and styles, and fetches only from
// this server (the "try it" client); it needs no other origin.
const docsPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const headers = (policy: string) => ({
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": policy
})
const apiHeaders = headers(apiPolicy)
const docsHeaders = headers(docsPolicy)

/** Headers every response carries, errors included (the middleware is global). */
export const layer = (docsPath: string) =>
  HttpRouter.middleware((httpEffect) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.map(httpEffect, (response) =>
        HttpServerResponse.setHeaders(response, request.url === docsPath ? docsHeaders : apiHeaders))), {
    global: true
  })
