import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpApiClient from "effect/http-api/HttpApiClient"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as Redacted from "effect/Redacted"
import { Api } from "./api/Api.ts"
import { Authorization } from "./api/Authorization.ts"

export { Api } from "./api/Api.ts"
export * from "./domain/AccessErrors.ts"
export * from "./domain/Task.ts"
export * from "./domain/TaskErrors.ts"

/**
 * A typed client for the Task API, derived from the same definition the
 * server implements: every endpoint is a method, every error a typed failure.
 * The token is sent as a bearer token on every task request; a service in
 * AUTH_MODE=none needs none.
 *
 *     const client = yield* makeClient("http://localhost:3000", { token })
 *     const task = yield* client.tasks.create({ headers: {}, payload: { title: "Write the report" } })
 */
export const makeClient = (
  baseUrl: string | URL,
  options: { readonly token?: string | Redacted.Redacted<string> | undefined } = {}
) => {
  const { token } = options
  const bearer = token === undefined || typeof token === "string" ? token : Redacted.value(token)
  return HttpApiClient.make(Api, { baseUrl }).pipe(
    Effect.provide(HttpApiMiddleware.layerClient(Authorization, ({ next, request }) =>
      next(bearer === undefined ? request : HttpClientRequest.bearerToken(request, bearer)))),
    Effect.provide(FetchHttpClient.layer)
  )
}

export type TaskApiClient = Effect.Success<ReturnType<typeof makeClient>>
